"""V4L2 cameras (USB webcams, /dev/videoN) through OpenCV, with the pixel format
negotiated: MJPEG when the size and rate asked for need it."""

from __future__ import annotations

import logging
import time
from typing import Callable

import cv2

from signage.errors import SourceUnavailable
from signage.vision.sources.base import Backoff, Frame, Negotiated, RetryingCamera

logger = logging.getLogger(__name__)

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


class CameraSource(RetryingCamera):
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
        assert self._capture is not None  # _open() made it
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
