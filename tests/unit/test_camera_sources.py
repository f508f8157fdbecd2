"""Camera sources through their hardware boundary: a V4L2 capture object and picamera2's
Picamera2 class, both replaced by fakes with the same interface (no camera here)."""

import logging

import cv2
import numpy as np
import pytest

from signage.config import SourceConfig
from signage.errors import SourceUnavailable
from signage.vision.sources import (Backoff, CameraSource, Negotiated, PicameraSource, SourceState, fourcc_code,
                                    fourcc_text, open_source, wanted_fourcc)
from tests.fakes import FakeClock


class FakeV4L2Camera:
    """A webcam as OpenCV's V4L2 backend shows it: settable properties that the driver
    may round to a mode it has, frames until it is unplugged."""

    def __init__(self, modes, frames=3):
        self.modes = modes  # {fourcc: [(width, height, fps), ...]}; first entry is the default
        self.frames_left = frames
        self.opened_with = []
        self.set_calls = []
        self.fourcc = next(iter(modes))
        self.width, self.height, self.fps = modes[self.fourcc][0]

    def __call__(self, device, api=None):  # the factory: cv2.VideoCapture(device, api)
        self.opened_with.append((device, api))
        return self

    def isOpened(self):
        return True

    def set(self, prop, value):
        self.set_calls.append((prop, value))
        if prop == cv2.CAP_PROP_FOURCC:
            code = fourcc_text(value)
            if code in self.modes:
                self.fourcc = code
        elif prop == cv2.CAP_PROP_FRAME_WIDTH:
            self.width = value
            return True  # OpenCV's V4L2 backend applies a size once both sides are set
        elif prop == cv2.CAP_PROP_FRAME_HEIGHT:
            self.height = value
        elif prop == cv2.CAP_PROP_FPS:
            self.fps = value
        self._settle()
        return True

    def _settle(self):
        """The driver picks the largest mode of the format that fits what was asked."""
        fitting = [m for m in self.modes[self.fourcc] if m[0] <= self.width and m[1] <= self.height] \
            or self.modes[self.fourcc][-1:]
        width, height, fps = max(fitting)
        self.width, self.height, self.fps = width, height, min(self.fps, fps)

    def get(self, prop):
        return {cv2.CAP_PROP_FRAME_WIDTH: self.width, cv2.CAP_PROP_FRAME_HEIGHT: self.height,
                cv2.CAP_PROP_FPS: self.fps, cv2.CAP_PROP_FOURCC: fourcc_code(self.fourcc)}.get(prop, 0)

    def read(self):
        if self.frames_left <= 0:
            return False, None
        self.frames_left -= 1
        return True, np.zeros((int(self.height), int(self.width), 3), np.uint8)

    def release(self):
        pass


WEBCAM = {"YUYV": [(640, 480, 30), (1280, 720, 10)], "MJPG": [(640, 480, 30), (1280, 720, 30), (1920, 1080, 30)]}


def props(camera):
    return [prop for prop, _ in camera.set_calls]


def test_mjpeg_is_asked_for_above_what_yuyv_carries_and_first():
    fake = FakeV4L2Camera(WEBCAM)
    source = CameraSource(0, 1280, 720, 30, capture_factory=fake)
    assert fake.opened_with == [(0, cv2.CAP_V4L2)]
    assert props(fake)[0] == cv2.CAP_PROP_FOURCC, "the format comes before size and rate"
    assert fourcc_text(fake.set_calls[0][1]) == "MJPG"
    assert source.negotiated == Negotiated(1280, 720, 30.0, "MJPG")
    assert source.read().image.shape == (720, 1280, 3)


@pytest.mark.parametrize("size, fps", [((640, 480), 30), ((320, 240), 15), ((None, None), None)])
def test_small_requests_keep_the_cameras_default_format(size, fps):
    fake = FakeV4L2Camera(WEBCAM)
    source = CameraSource(0, *size, fps, capture_factory=fake)
    assert cv2.CAP_PROP_FOURCC not in props(fake)
    assert source.negotiated.format == "YUYV"


def test_format_can_be_forced_either_way():
    assert wanted_fourcc("yuyv", 1920, 1080, 30) == "YUYV"
    assert wanted_fourcc("mjpeg", 320, 240, 5) == "MJPG"
    assert wanted_fourcc("auto", 640, 480, 60) == "MJPG"
    assert wanted_fourcc("auto", 1280, 720, None) == "MJPG", "no rate asked: assume 30"
    with pytest.raises(SourceUnavailable, match="not one of auto, mjpeg, yuyv"):
        wanted_fourcc("h264", 640, 480, 30)


def test_what_the_camera_negotiated_is_logged_once_with_what_was_asked(caplog):
    clock = FakeClock(100.0)
    fake = FakeV4L2Camera({"YUYV": [(640, 480, 30), (1280, 720, 10)]}, frames=2)  # no MJPEG at all
    with caplog.at_level(logging.INFO, logger="signage.vision.sources"):
        source = CameraSource("/dev/video2", 1280, 720, 30, backoff=Backoff(initial_s=0.5),
                              clock=clock, sleep=clock.sleep, capture_factory=fake)
        assert source.negotiated == Negotiated(1280, 720, 10.0, "YUYV")
        while source.read() is not None:
            pass
        fake.frames_left = 2
        clock.sleep(1.0)
        assert source.read() is not None, "reopened"
    lines = [r.getMessage() for r in caplog.records if "negotiated" in r.getMessage()]
    assert lines == ["camera /dev/video2: negotiated 1280x720 YUYV at 10 fps (asked for 1280x720 MJPG at 30 fps)"]


def test_a_camera_that_reports_no_fourcc_says_so():
    assert fourcc_text(0) == "?"
    assert fourcc_text(fourcc_code("MJPG")) == "MJPG" == fourcc_text(cv2.VideoWriter_fourcc(*"MJPG"))


# ----- Pi Camera Module (picamera2) -------------------------------------------------------


class FakePicamera2:
    """picamera2.Picamera2's interface as PicameraSource uses it, over a simulated camera:
    `cameras` is what libcamera lists, `frames` how many a started camera delivers before
    it fails (a ribbon cable knocked loose), `instances` every camera object made."""

    cameras = [{"Model": "imx708", "Num": 0}]
    frames = 3
    instances: list = []

    def __init__(self, camera_num=0):
        self.camera_num = camera_num
        self.started = self.closed = False
        self.config = None
        self.left = type(self).frames
        type(self).instances.append(self)

    @classmethod
    def global_camera_info(cls):
        return list(cls.cameras)

    def create_video_configuration(self, main=None, controls=None, buffer_count=6, queue=True):
        main = {"format": "XBGR8888", "size": (1280, 720), **(main or {})}
        return {"use_case": "video", "main": main, "buffer_count": buffer_count, "queue": queue,
                "controls": {"FrameDurationLimits": (33333, 33333), **(controls or {})}}

    def configure(self, config):
        width, height = config["main"]["size"]
        self.config = {**config, "main": {**config["main"], "size": (width + width % 2, height)}}  # ISP aligns

    def camera_configuration(self):
        return self.config

    def start(self):
        assert self.config is not None, "configure before start"
        self.started = True

    def capture_array(self, name="main"):
        assert self.started and name == "main"
        if self.left <= 0:
            raise RuntimeError("Camera frontend has timed out!")
        self.left -= 1
        width, height = self.config["main"]["size"]
        return np.full((height, width, 3), self.left, np.uint8)

    def stop(self):
        self.started = False

    def close(self):
        self.closed = True


@pytest.fixture
def picamera2():
    class Fake(FakePicamera2):
        instances = []
    return Fake


def test_picamera_starts_configured_for_the_newest_frame_at_size_and_rate(picamera2):
    source = PicameraSource(0, 639, 480, 15, picamera2_class=picamera2)
    (camera,) = picamera2.instances
    config = camera.config
    assert camera.started and config["main"]["format"] == "RGB888"
    assert config["queue"] is False and config["buffer_count"] == 2
    assert config["controls"]["FrameDurationLimits"] == (66667, 66667)
    assert source.negotiated == Negotiated(640, 480, 15.0, "RGB888"), "what libcamera settled on"
    frame = source.read()
    assert frame.image.shape == (480, 640, 3) and frame.image.flags["C_CONTIGUOUS"]
    assert source.state == SourceState.OK


def test_picamera_that_stops_is_closed_retried_and_reopened(picamera2):
    clock = FakeClock(100.0)
    picamera2.frames = 2
    source = PicameraSource(0, 640, 480, backoff=Backoff(initial_s=0.5), clock=clock, sleep=clock.sleep,
                            picamera2_class=picamera2)
    assert [source.read() is not None for _ in range(3)] == [True, True, False]
    first = picamera2.instances[0]
    assert first.closed and not first.started, "a failed camera is released"
    assert source.state == SourceState.RETRYING
    assert source.read() is None and len(picamera2.instances) == 1, "backoff: not reopened at once"
    clock.sleep(1.0)
    assert source.read() is not None and len(picamera2.instances) == 2
    assert source.state == SourceState.OK
    source.close()
    assert picamera2.instances[1].closed


def test_no_pi_camera_connected_retries_and_goes_gone(picamera2):
    clock = FakeClock(100.0)
    picamera2.cameras = []
    source = PicameraSource(0, backoff=Backoff(initial_s=0.5, max_s=2, gone_after_s=5), clock=clock,
                            sleep=clock.sleep, picamera2_class=picamera2)
    states = set()
    for _ in range(100):
        assert source.read() is None
        states.add(source.state)
    assert states == {SourceState.RETRYING, SourceState.GONE} and not picamera2.instances
    picamera2.cameras = FakePicamera2.cameras  # plugged in: found at the next attempt
    clock.sleep(2.0)
    assert source.read() is not None and source.state == SourceState.OK


def test_picamera_that_fails_to_start_is_released_and_retried(picamera2):
    clock = FakeClock(100.0)

    class Busy(picamera2):
        def start(self):
            raise RuntimeError("Device or resource busy")

    source = PicameraSource(0, backoff=Backoff(initial_s=0.5), clock=clock, sleep=clock.sleep, picamera2_class=Busy)
    assert source.state == SourceState.RETRYING and Busy.instances[0].closed


def test_missing_picamera2_names_the_package_and_the_venv_option():
    # picamera2 is not installed on this machine: the real import boundary fails.
    with pytest.raises(SourceUnavailable) as caught:
        PicameraSource(0)
    message = str(caught.value)
    assert "sudo apt install python3-picamera2" in message and "--system-site-packages" in message


def test_config_and_open_source_reach_the_picamera():
    config = SourceConfig(kind="picamera", device="1")
    assert config.spec() == "picamera:1"
    with pytest.raises(ValueError, match="not a Pi camera number"):
        SourceConfig(kind="picamera", device="/dev/video0")
    with pytest.raises(SourceUnavailable, match="python3-picamera2"):
        open_source(config.spec())
    with pytest.raises(SourceUnavailable, match="picamera or picamera:N"):
        open_source("picamera:front")


def test_auto_finds_a_pi_camera_when_no_v4l2_camera_delivers(picamera2):
    from signage.vision.sources.factory import working_picamera

    found = working_picamera(640, 480, 30, Backoff(), picamera2_class=picamera2)
    assert isinstance(found, PicameraSource) and found.state == SourceState.OK
    found.close()
    picamera2.cameras = []
    assert working_picamera(640, 480, 30, Backoff(), picamera2_class=picamera2) is None
    assert working_picamera(640, 480, 30, Backoff()) is None, "no picamera2 installed here"


@pytest.mark.parametrize("failure, said", [
    ("raise ModuleNotFoundError(\"No module named 'libcamera'\")", "sudo apt install python3-picamera2"),
    # apt's simplejpeg built for numpy 1.24, beside numpy 2 (raspberrypi/picamera2#1088)
    ("raise ValueError('numpy.dtype size changed, may indicate binary incompatibility')",
     "ValueError: numpy.dtype size changed"),
    ("raise RuntimeError('libcamera failed to initialise')", "RuntimeError: libcamera failed"),
])
def test_a_picamera2_that_does_not_import_is_one_clear_message_whatever_it_raises(tmp_path, monkeypatch, failure,
                                                                                  said):
    from signage.vision.sources.picamera import import_picamera2

    (tmp_path / "picamera2").mkdir()
    (tmp_path / "picamera2" / "__init__.py").write_text(failure + "\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(SourceUnavailable, match="picamera2") as refused:
        import_picamera2()
    assert said in str(refused.value)
