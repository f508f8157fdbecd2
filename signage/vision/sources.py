"""Frame sources: a V4L2 camera, a Pi camera (picamera2), a video file, a folder of images.

Every source has the same small interface: `read()` returns the next Frame or None,
`state` says whether it is delivering, `close()` releases the device. `read()` never
raises into the caller's loop: a camera that fails to open or stops delivering is
retried with exponential backoff forever, and the state tells the rest of the program.
"""

from __future__ import annotations

import enum
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Protocol

import cv2
import numpy as np

from signage.errors import SourceUnavailable
from signage.fields import IMAGE_SUFFIXES, VIDEO_SUFFIXES

logger = logging.getLogger(__name__)

MAX_WAIT_S = 0.25  # longest a read() blocks when nothing can be delivered


class SourceState(str, enum.Enum):
    OK = "ok"  # delivering frames
    RETRYING = "retrying"  # failed recently; reopening with backoff
    GONE = "gone"  # failing for longer than gone_after; still retried, at the slowest pace
    ENDED = "ended"  # a file that does not loop has no more frames
    STALLED = "stalled"  # (vision worker) frames arrive but an inference has not returned in time


@dataclass(frozen=True)
class Frame:
    image: np.ndarray  # BGR, owned by the vision stage, dropped after analysis
    index: int
    t: float  # seconds: monotonic for cameras and paced files, media time otherwise
    name: str | None = None  # image file name, for folder sources


class FrameSource(Protocol):
    description: str

    @property
    def state(self) -> SourceState: ...

    def read(self) -> Frame | None: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class Backoff:
    initial_s: float = 0.5
    max_s: float = 30.0
    gone_after_s: float = 10.0

    def delay(self, failures: int) -> float:
        return min(self.initial_s * 2 ** max(failures - 1, 0), self.max_s)


class _StateMixin:
    description = ""
    _state = SourceState.OK

    @property
    def state(self) -> SourceState:
        return self._state

    def _set_state(self, state: SourceState, reason: str = "") -> None:
        if state != self._state:
            log = logger.info if state in (SourceState.OK, SourceState.ENDED) else logger.warning
            log("source %s: %s%s", self.description, state.value, f" ({reason})" if reason else "")
            self._state = state


# YUYV carries 2 bytes a pixel uncompressed; over USB 2 most webcams offer it only up to
# 640x480 at 30 fps (~18 MB/s) and fall to 5-10 fps above that. MJPEG is what they
# use for larger sizes or rates, so we ask for it when the request exceeds VGA at 30.
YUYV_MAX_PIXEL_RATE = 640 * 480 * 30
FORMATS = ("auto", "mjpeg", "yuyv")
FOURCCS = {"mjpeg": "MJPG", "yuyv": "YUYV"}


def fourcc_code(text: str) -> int:
    """The number V4L2 (and CAP_PROP_FOURCC) uses for a four-character code."""
    return sum(ord(char) << (8 * i) for i, char in enumerate(text))


def fourcc_text(code: float) -> str:
    """OpenCV reports the FOURCC as a number; four printable characters, or '?'."""
    value = int(code)
    text = "".join(chr((value >> (8 * i)) & 0xFF) for i in range(4))
    return text if value and text.isprintable() else "?"


def wanted_fourcc(fmt: str, width: int | None, height: int | None, fps: float | None) -> str | None:
    """The FOURCC to ask for, or None to leave the camera's default."""
    if fmt not in FORMATS:
        raise SourceUnavailable(f"camera format {fmt!r} is not one of {', '.join(FORMATS)}")
    if fmt != "auto":
        return FOURCCS[fmt]
    if not (width and height) and not fps:
        return None  # nothing asked for: whatever the camera starts with
    pixel_rate = (width or 640) * (height or 480) * (fps or 30)
    return "MJPG" if pixel_rate > YUYV_MAX_PIXEL_RATE else None


@dataclass(frozen=True)
class Negotiated:
    """What a camera actually delivers, read back after asking (for logs and status)."""

    width: int
    height: int
    fps: float
    format: str  # FOURCC for V4L2 ("MJPG", "YUYV"), pixel format for libcamera ("RGB888")

    def __str__(self) -> str:
        return f"{self.width}x{self.height} {self.format} at {self.fps:g} fps"


class _RetryingCamera(_StateMixin):
    """Retry and state for cameras: a device that fails to open or stops delivering is
    reopened with exponential backoff forever; `negotiated` says what it delivers."""

    negotiated: Negotiated | None = None

    def __init__(self, backoff: Backoff, clock: Callable[[], float], sleep: Callable[[float], None]):
        self.backoff, self._clock, self._sleep = backoff, clock, sleep
        self._failures = 0
        self._failing_since: float | None = None
        self._next_attempt = 0.0
        self._index = 0
        self._state = SourceState.RETRYING

    def _failed(self, reason: str) -> None:
        now = self._clock()
        self._failures += 1
        self._failing_since = self._failing_since if self._failing_since is not None else now
        self._next_attempt = now + self.backoff.delay(self._failures)
        gone = now - self._failing_since >= self.backoff.gone_after_s
        if self._failures == 1 and self._state == SourceState.RETRYING:  # the first try failed: say so now
            logger.warning("source %s: retrying (%s)", self.description, reason)
        self._set_state(SourceState.GONE if gone else SourceState.RETRYING, reason)

    def _report(self, negotiated: Negotiated, asked: str) -> None:
        """One log line when what the camera delivers is new (not at every reopen)."""
        if negotiated != self.negotiated:
            logger.info("%s: negotiated %s (asked for %s)", self.description, negotiated, asked)
        self.negotiated = negotiated

    def _delivered(self, image: np.ndarray) -> Frame:
        self._failures, self._failing_since = 0, None
        self._set_state(SourceState.OK)
        self._index += 1
        return Frame(image=image, index=self._index - 1, t=self._clock())

    def _wait_for_retry(self) -> bool:
        """True when it is time to try opening again; otherwise waits a little."""
        wait = self._next_attempt - self._clock()
        if wait > 0:
            self._sleep(min(wait, MAX_WAIT_S))
            return False
        return True


class CameraSource(_RetryingCamera):
    """A V4L2 camera by index or /dev/videoN (any OpenCV-readable URL or file also
    works, which is how tests make a camera stop delivering). `capture_factory` is
    cv2.VideoCapture; tests pass an object with its interface."""

    def __init__(self, device: int | str, width: int | None = None, height: int | None = None,
                 fps: float | None = None, backoff: Backoff = Backoff(),
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 format: str = "auto", capture_factory: Callable[..., cv2.VideoCapture] = cv2.VideoCapture):
        super().__init__(backoff, clock, sleep)
        self.device, self.width, self.height, self.fps = device, width, height, fps
        self.fourcc = wanted_fourcc(format, width, height, fps)
        self.description = f"camera {device}"
        self._capture_factory = capture_factory
        self._capture: cv2.VideoCapture | None = None
        self._open()

    def _open(self) -> bool:
        device = self.device
        is_v4l2 = isinstance(device, int) or str(device).startswith("/dev/video")
        factory = self._capture_factory
        capture = factory(device, cv2.CAP_V4L2) if is_v4l2 else factory(str(device))
        if not capture.isOpened():
            capture.release()
            self._failed("cannot open the device")
            return False
        # FOURCC first: V4L2 drivers list sizes and rates per pixel format.
        if self.fourcc:
            capture.set(cv2.CAP_PROP_FOURCC, fourcc_code(self.fourcc))
        if self.width and self.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a backlog
        self._capture = capture
        self._report(Negotiated(
            width=int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), height=int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT)),
            fps=round(float(capture.get(cv2.CAP_PROP_FPS)), 2),
            format=fourcc_text(capture.get(cv2.CAP_PROP_FOURCC))), self._asked())
        return True

    def _asked(self) -> str:
        size = f"{self.width}x{self.height}" if self.width and self.height else "default size"
        rate = f"{self.fps:g} fps" if self.fps else "default rate"
        return f"{size} {self.fourcc or 'default format'} at {rate}"

    def read(self) -> Frame | None:
        if self._capture is None:
            if not self._wait_for_retry() or not self._open():
                return None
        try:
            ok, image = self._capture.read()
        except cv2.error as exc:  # some drivers raise instead of returning False
            ok, image = False, None
            logger.debug("camera read raised: %s", exc)
        if not ok or image is None:
            self._release()
            self._failed("stopped delivering frames")
            return None
        return self._delivered(image)

    def _release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

    def close(self) -> None:
        self._release()


PICAMERA_HINT = ("the Pi Camera Module needs picamera2 from Raspberry Pi OS: sudo apt install python3-picamera2,"
                 " and a venv created with --system-site-packages so it can see it (make setup does this on a Pi)")


def _picamera2_class():
    """picamera2 comes with Raspberry Pi OS (it needs libcamera's Python bindings, which
    PyPI does not ship), so it is imported only when a picamera source is configured."""
    try:
        from picamera2 import Picamera2
    except ImportError as exc:  # ModuleNotFoundError, or libcamera missing underneath it
        raise SourceUnavailable(f"{PICAMERA_HINT} ({exc})") from exc
    except Exception as exc:  # noqa: BLE001 - an apt module built for another numpy raises ValueError
        raise SourceUnavailable(f"picamera2 is installed but does not import: {type(exc).__name__}: {exc}; a module"
                                " it needs was built for another numpy than the venv's: make setup installs the"
                                " lock's simplejpeg to shadow apt's (README: The lock)") from exc
    return Picamera2


def _frame_rate(controls: dict) -> float:
    """Frames per second from picamera2 controls: FrameRate, or FrameDurationLimits in µs."""
    if controls.get("FrameRate"):
        return round(float(controls["FrameRate"]), 2)
    limits = controls.get("FrameDurationLimits")
    return round(1e6 / limits[0], 2) if limits and limits[0] else 0.0


class PicameraSource(_RetryingCamera):
    """A Raspberry Pi camera (CSI, driven by libcamera) through picamera2.

    Frames come as 8-bit colour at the configured size: libcamera's "RGB888" is B, G, R
    in memory, the order OpenCV and our Frame use. The configuration queues no frames
    (queue=False, two buffers), so every capture is the newest one, not a backlog.
    `picamera2_class` is picamera2.Picamera2; tests pass a class with its interface."""

    PIXEL_FORMAT = "RGB888"

    def __init__(self, camera: int = 0, width: int | None = None, height: int | None = None,
                 fps: float | None = None, backoff: Backoff = Backoff(),
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep,
                 picamera2_class: type | None = None):
        super().__init__(backoff, clock, sleep)
        self.camera, self.width, self.height, self.fps = camera, width, height, fps
        self.description = f"picamera {camera}"
        # Resolved before anything is opened: a missing picamera2 is a configuration
        # error for the operator, not a camera to retry.
        self._class = picamera2_class or _picamera2_class()
        self._camera = None
        self._open()

    def _open(self) -> bool:
        try:
            cameras = self._class.global_camera_info()
        except Exception as exc:  # libcamera raises what it likes; the state says it
            self._failed(f"cannot list cameras: {exc}")
            return False
        if self.camera >= len(cameras):
            self._failed(f"no camera {self.camera} connected ({len(cameras)} found)")
            return False
        picam = None
        try:
            picam = self._class(self.camera)
            main = {"format": self.PIXEL_FORMAT}
            if self.width and self.height:
                main["size"] = (self.width, self.height)
            # libcamera's own control, in microseconds per frame (min, max): a fixed rate.
            frame_us = round(1e6 / self.fps) if self.fps else None
            controls = {"FrameDurationLimits": (frame_us, frame_us)} if frame_us else {}
            config = picam.create_video_configuration(main=main, controls=controls, buffer_count=2, queue=False)
            picam.configure(config)
            picam.start()
        except Exception as exc:
            if picam is not None:
                self._close_camera(picam)
            self._failed(f"cannot start: {exc}")
            return False
        self._camera = picam
        # What libcamera settled on (it aligns sizes to what the ISP can produce).
        actual = picam.camera_configuration()
        width, height = actual["main"]["size"]
        self._report(Negotiated(width=int(width), height=int(height), fps=_frame_rate(actual.get("controls", {})),
                                format=str(actual["main"]["format"])), self._asked())
        return True

    def _asked(self) -> str:
        size = f"{self.width}x{self.height}" if self.width and self.height else "default size"
        rate = f"{self.fps:g} fps" if self.fps else "default rate"
        return f"{size} {self.PIXEL_FORMAT} at {rate}"

    def read(self) -> Frame | None:
        if self._camera is None:
            if not self._wait_for_retry() or not self._open():
                return None
        try:
            image = self._camera.capture_array("main")
        except Exception as exc:  # a camera unplugged or a pipeline error: reopen
            logger.debug("picamera capture raised: %s", exc)
            image = None
        if image is None or image.ndim != 3 or image.shape[2] < 3:
            self._release()
            self._failed("stopped delivering frames")
            return None
        return self._delivered(np.ascontiguousarray(image[:, :, :3]))

    @staticmethod
    def _close_camera(picam) -> None:
        try:
            picam.stop()
        finally:
            picam.close()

    def _release(self) -> None:
        picam, self._camera = self._camera, None
        if picam is not None:
            try:
                self._close_camera(picam)
            except Exception as exc:  # closing a camera that already went away
                logger.debug("picamera close raised: %s", exc)

    def close(self) -> None:
        self._release()


class VideoFileSource(_StateMixin):
    """A video file, looping or not, paced at its frame rate or as fast as it decodes."""

    def __init__(self, path: Path, loop: bool = False, paced: bool = True,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.path, self.loop, self.paced = Path(path), loop, paced
        self._clock, self._sleep = clock, sleep
        self.description = f"video {self.path.name}"
        self._capture = self._open()
        fps = self._capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        self._index = 0  # frames delivered in total, across loops
        self._media_index = 0  # frames delivered since the file last started
        self._started = self._clock()

    def _open(self) -> cv2.VideoCapture:
        if not self.path.is_file():
            raise SourceUnavailable(f"video file {self.path} does not exist")
        capture = cv2.VideoCapture(str(self.path))
        if not capture.isOpened():
            raise SourceUnavailable(f"video file {self.path} cannot be decoded by OpenCV")
        return capture

    def read(self) -> Frame | None:
        if self._state == SourceState.ENDED:
            self._sleep(MAX_WAIT_S)
            return None
        ok, image = self._capture.read()
        if not ok and self.loop and self._media_index > 0:
            self._capture.release()
            self._capture = self._open()
            self._media_index = 0
            ok, image = self._capture.read()
        if not ok:
            self._set_state(SourceState.ENDED, f"after {self._index} frames")
            self._capture.release()
            return None
        media_t = self._index / self.fps
        if self.paced:
            due = self._started + media_t
            wait = due - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._index += 1
        self._media_index += 1
        return Frame(image=image, index=self._index - 1, t=self._clock() if self.paced else media_t)

    def close(self) -> None:
        self._capture.release()


class ImageFolderSource(_StateMixin):
    """Still images (one file or a folder, in name order), each once or looping.
    Timestamps advance by 1/fps per image so the tracker sees a steady clock."""

    def __init__(self, path: Path, loop: bool = False, fps: float = 1.0):
        path = Path(path)
        if path.is_dir():
            self.files = sorted(p for p in path.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        elif path.is_file():
            self.files = [path]
        else:
            raise SourceUnavailable(f"image source {path} does not exist")
        if not self.files:
            raise SourceUnavailable(f"{path} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
        self.loop, self.fps = loop, fps
        self.description = f"images {path.name}"
        self._index = 0

    def read(self) -> Frame | None:
        """The next readable image; at most one pass over the folder per call, so a
        looping folder of unreadable files waits (MAX_WAIT_S) instead of spinning."""
        for _ in range(len(self.files)):
            if self._state == SourceState.ENDED:
                return None
            if self._index >= len(self.files) and not self.loop:
                self._set_state(SourceState.ENDED, f"after {self._index} images")
                return None
            path = self.files[self._index % len(self.files)]
            self._index += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                if self._index <= len(self.files):  # once per file, not once per loop
                    logger.warning("skipping %s: not a readable image", path)
                continue
            return Frame(image=image, index=self._index - 1, t=(self._index - 1) / self.fps, name=path.name)
        if self._index >= len(self.files) and not self.loop:
            self._set_state(SourceState.ENDED, f"after {self._index} images")
        else:
            time.sleep(MAX_WAIT_S)
        return None

    def close(self) -> None:
        pass


def _camera_device(spec: str) -> int | str | None:
    """'0' or '/dev/video0' name a camera; anything else does not."""
    if spec.isdigit():
        return int(spec)
    return spec if spec.startswith("/dev/video") else None


def _picamera_number(spec: str) -> int | None:
    """'picamera' or 'picamera:N' names a Pi camera (libcamera numbering)."""
    name, _, number = spec.partition(":")
    if name != "picamera":
        return None
    if number and not number.isdigit():
        raise SourceUnavailable(f"source {spec!r}: write picamera or picamera:N with N a camera number")
    return int(number or 0)


def _working_picamera(width: int | None, height: int | None, fps: float | None, backoff: Backoff,
                      picamera2_class: type | None = None) -> PicameraSource | None:
    """A Pi camera that delivers a frame, for `auto` on a Raspberry Pi (where camera 0
    under V4L2 is libcamera's raw node and does not open); None without picamera2."""
    try:
        camera = PicameraSource(0, width, height, fps, backoff, picamera2_class=picamera2_class)
    except SourceUnavailable:
        return None  # no picamera2: not a Pi, or not installed
    if camera.read() is not None:
        return camera
    camera.close()
    return None


def open_source(spec: str, *, loop: bool = False, paced: bool = True, fallback: str | None = None,
                width: int | None = None, height: int | None = None, fps: float | None = None,
                backoff: Backoff = Backoff(), camera: bool = False, format: str = "auto") -> FrameSource:
    """A source from a command-line or config string: a camera index or /dev/videoN,
    'picamera' or 'picamera:N' (a Pi camera through picamera2), a video file, an image
    file, a folder of images, or 'auto' (camera 0 if it opens, else the fallback video,
    looping). `camera=True` treats any spec as a camera device (OpenCV also opens stream
    URLs that way), retried when it fails. `format` is the V4L2 pixel format to ask for
    (auto: MJPEG when size and rate need it)."""
    picamera = _picamera_number(spec)
    if picamera is not None:
        return PicameraSource(picamera, width, height, fps, backoff)
    if camera:
        device = _camera_device(spec)
        return CameraSource(device if device is not None else spec, width, height, fps, backoff, format=format)
    if spec == "auto":
        camera = CameraSource(0, width, height, fps, backoff, format=format)
        if fallback is None or camera.read() is not None:
            return camera
        camera.close()
        picamera = _working_picamera(width, height, fps, backoff)
        if picamera is not None:
            return picamera
        logger.info("no camera opened; using the fallback video %s", fallback)
        return open_source(fallback, loop=True, paced=paced)
    device = _camera_device(spec)
    if device is not None:
        return CameraSource(device, width, height, fps, backoff, format=format)
    path = Path(spec)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(path, loop=loop)
    if path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        return VideoFileSource(path, loop=loop, paced=paced)
    raise SourceUnavailable(
        f"source {spec!r} is not a camera index, /dev/videoN, picamera[:N], video file, image or folder of images")
