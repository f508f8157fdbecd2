"""Frame sources: a V4L2 camera, a video file, a folder of images.

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

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp"}
VIDEO_SUFFIXES = {".mp4", ".mov", ".avi", ".mkv", ".webm", ".m4v"}
MAX_WAIT_S = 0.25  # longest a read() blocks when nothing can be delivered


class SourceState(str, enum.Enum):
    OK = "ok"  # delivering frames
    RETRYING = "retrying"  # failed recently; reopening with backoff
    GONE = "gone"  # failing for longer than gone_after; still retried, at the slowest pace
    ENDED = "ended"  # a file that does not loop has no more frames


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


class CameraSource(_StateMixin):
    """A V4L2 camera by index or /dev/videoN (any OpenCV-readable URL or file also
    works, which is how tests make a camera stop delivering)."""

    def __init__(self, device: int | str, width: int | None = None, height: int | None = None,
                 fps: float | None = None, backoff: Backoff = Backoff(),
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep):
        self.device, self.width, self.height, self.fps = device, width, height, fps
        self.backoff, self._clock, self._sleep = backoff, clock, sleep
        self.description = f"camera {device}"
        self._capture: cv2.VideoCapture | None = None
        self._failures = 0
        self._failing_since: float | None = None
        self._next_attempt = 0.0
        self._index = 0
        self._state = SourceState.RETRYING
        self._open()

    def _open(self) -> bool:
        device = self.device
        is_v4l2 = isinstance(device, int) or str(device).startswith("/dev/video")
        capture = cv2.VideoCapture(device, cv2.CAP_V4L2) if is_v4l2 else cv2.VideoCapture(str(device))
        if not capture.isOpened():
            capture.release()
            self._failed("cannot open the device")
            return False
        if self.width and self.height:
            capture.set(cv2.CAP_PROP_FRAME_WIDTH, self.width)
            capture.set(cv2.CAP_PROP_FRAME_HEIGHT, self.height)
        if self.fps:
            capture.set(cv2.CAP_PROP_FPS, self.fps)
        capture.set(cv2.CAP_PROP_BUFFERSIZE, 1)  # the newest frame, not a backlog
        self._capture = capture
        return True

    def _failed(self, reason: str) -> None:
        now = self._clock()
        self._failures += 1
        self._failing_since = self._failing_since if self._failing_since is not None else now
        self._next_attempt = now + self.backoff.delay(self._failures)
        gone = now - self._failing_since >= self.backoff.gone_after_s
        self._set_state(SourceState.GONE if gone else SourceState.RETRYING, reason)

    def read(self) -> Frame | None:
        if self._capture is None:
            wait = self._next_attempt - self._clock()
            if wait > 0:
                self._sleep(min(wait, MAX_WAIT_S))
                return None
            if not self._open():
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
        self._failures, self._failing_since = 0, None
        self._set_state(SourceState.OK)
        self._index += 1
        return Frame(image=image, index=self._index - 1, t=self._clock())

    def _release(self) -> None:
        capture, self._capture = self._capture, None
        if capture is not None:
            capture.release()

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
        while self._state != SourceState.ENDED:
            if self._index >= len(self.files) and not self.loop:
                self._set_state(SourceState.ENDED, f"after {self._index} images")
                break
            path = self.files[self._index % len(self.files)]
            self._index += 1
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is None:
                logger.warning("skipping %s: not a readable image", path)
                continue
            return Frame(image=image, index=self._index - 1, t=(self._index - 1) / self.fps, name=path.name)
        return None

    def close(self) -> None:
        pass


def _camera_device(spec: str) -> int | str | None:
    """'0' or '/dev/video0' name a camera; anything else does not."""
    if spec.isdigit():
        return int(spec)
    return spec if spec.startswith("/dev/video") else None


def open_source(spec: str, *, loop: bool = False, paced: bool = True, fallback: str | None = None,
                width: int | None = None, height: int | None = None, fps: float | None = None,
                backoff: Backoff = Backoff(), camera: bool = False) -> FrameSource:
    """A source from a command-line or config string: a camera index or /dev/videoN,
    a video file, an image file, a folder of images, or 'auto' (camera 0 if it opens,
    else the fallback video, looping). `camera=True` treats any spec as a camera device
    (OpenCV also opens stream URLs that way), retried when it fails."""
    if camera:
        device = _camera_device(spec)
        return CameraSource(device if device is not None else spec, width, height, fps, backoff)
    if spec == "auto":
        camera = CameraSource(0, width, height, fps, backoff)
        if fallback is None or camera.read() is not None:
            return camera
        camera.close()
        logger.info("no camera opened; using the fallback video %s", fallback)
        return open_source(fallback, loop=True, paced=paced)
    device = _camera_device(spec)
    if device is not None:
        return CameraSource(device, width, height, fps, backoff)
    path = Path(spec)
    if path.is_dir() or path.suffix.lower() in IMAGE_SUFFIXES:
        return ImageFolderSource(path, loop=loop)
    if path.suffix.lower() in VIDEO_SUFFIXES or path.is_file():
        return VideoFileSource(path, loop=loop, paced=paced)
    raise SourceUnavailable(
        f"source {spec!r} is not a camera index, /dev/videoN, video file, image or folder of images")
