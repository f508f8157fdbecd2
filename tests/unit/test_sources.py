import cv2
import numpy as np
import pytest

from signage.errors import SourceUnavailable
from signage.vision.sources import (Backoff, CameraSource, ImageFolderSource, SourceState, VideoFileSource,
                                    open_source)
from tests.fakes import FakeClock


@pytest.fixture
def short_video(tmp_path):
    path = tmp_path / "five.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10, (64, 48))
    for i in range(5):
        writer.write(np.full((48, 64, 3), i * 40, np.uint8))
    writer.release()
    return path


def drain(source, limit=100):
    frames = []
    for _ in range(limit):
        frame = source.read()
        if frame is None:
            break
        frames.append(frame)
    return frames


def test_video_file_ends_once_and_says_so(short_video):
    clock = FakeClock(100.0)
    source = VideoFileSource(short_video, paced=False, clock=clock, sleep=clock.sleep)
    frames = drain(source)
    assert [f.index for f in frames] == [0, 1, 2, 3, 4]
    assert [f.t for f in frames] == pytest.approx([0, 0.1, 0.2, 0.3, 0.4])
    assert source.state == SourceState.ENDED and source.read() is None


def test_looping_video_keeps_a_rising_clock(short_video):
    source = VideoFileSource(short_video, loop=True, paced=False)
    frames = [source.read() for _ in range(12)]
    assert all(f is not None for f in frames) and source.state == SourceState.OK
    assert all(b.t > a.t for a, b in zip(frames, frames[1:]))


def test_paced_video_waits_for_each_frame_time(short_video):
    clock = FakeClock(100.0)
    source = VideoFileSource(short_video, paced=True, clock=clock, sleep=clock.sleep)
    frames = drain(source)
    assert [round(f.t - 100.0, 6) for f in frames] == [0, 0.1, 0.2, 0.3, 0.4]


def test_missing_camera_says_so_at_the_first_failed_try(caplog):
    clock = FakeClock(100.0)
    camera = CameraSource(99, backoff=Backoff(initial_s=0.5, max_s=4, gone_after_s=10), clock=clock, sleep=clock.sleep)
    with caplog.at_level("WARNING", logger="signage.vision.sources"):
        assert camera.read() is None
    assert [r.message for r in caplog.records if "retrying" in r.message], "one line at once, not after 10 s"
    camera.close()


def test_missing_camera_retries_with_backoff_and_never_raises():
    clock = FakeClock(100.0)
    camera = CameraSource(99, backoff=Backoff(initial_s=0.5, max_s=4, gone_after_s=10),
                          clock=clock, sleep=clock.sleep)
    states, attempts_at = set(), []
    for _ in range(200):
        before = camera._failures
        assert camera.read() is None
        states.add(camera.state)
        if camera._failures != before:
            attempts_at.append(clock.now)
    assert states == {SourceState.RETRYING, SourceState.GONE}
    gaps = np.diff(attempts_at)
    assert gaps[0] == pytest.approx(1.0, abs=0.3) and max(gaps) == pytest.approx(4.0, abs=0.3)
    camera.close()


def test_camera_that_stops_delivering_is_reopened(short_video):
    clock = FakeClock(100.0)
    camera = CameraSource(str(short_video), backoff=Backoff(initial_s=0.5), clock=clock, sleep=clock.sleep)
    first = drain(camera)
    assert len(first) == 5 and camera.state == SourceState.RETRYING
    clock.sleep(1.0)
    again = drain(camera)
    assert len(again) == 5, "the reopened device delivers again"
    assert camera.state == SourceState.RETRYING
    camera.close()


def test_image_folder_gives_names_in_order_and_skips_unreadable_files(tmp_path):
    for name in ("b.png", "a.jpg"):
        cv2.imwrite(str(tmp_path / name), np.zeros((8, 8, 3), np.uint8))
    (tmp_path / "c.png").write_bytes(b"not an image")
    (tmp_path / "notes.txt").write_text("ignored")
    source = ImageFolderSource(tmp_path)
    assert [f.name for f in drain(source)] == ["a.jpg", "b.png"]
    assert source.state == SourceState.ENDED


def test_open_source_explains_what_it_accepts(tmp_path):
    with pytest.raises(SourceUnavailable, match="not a camera index, /dev/videoN, picamera"):
        open_source(str(tmp_path / "nothing.xyz"))
    with pytest.raises(SourceUnavailable, match="does not exist"):
        open_source(str(tmp_path / "missing.mp4"))
    with pytest.raises(SourceUnavailable, match="holds no images"):
        open_source(str(tmp_path))


def test_auto_falls_back_to_the_video_when_no_camera_opens(short_video):
    source = open_source("auto", fallback=str(short_video), paced=False)
    assert isinstance(source, VideoFileSource) and source.loop
    source.close()


def test_a_looping_folder_of_unreadable_images_waits_instead_of_spinning(tmp_path):
    for name in ("a.jpg", "b.png", "c.webp"):
        (tmp_path / name).write_text("not a picture")
    source = ImageFolderSource(tmp_path, loop=True)
    assert source.read() is None and source.read() is None  # returns: one pass per call, then a pause
    assert source.state != SourceState.ENDED
    once = ImageFolderSource(tmp_path, loop=False)
    assert once.read() is None and once.state == SourceState.ENDED
