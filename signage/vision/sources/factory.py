"""Which source a command-line or config string names: a camera, a Pi camera, a video,
images, or `auto` (the first camera that delivers, else the fallback video)."""

from __future__ import annotations

import logging
from pathlib import Path

from signage.errors import SourceUnavailable
from signage.fields import IMAGE_SUFFIXES, VIDEO_SUFFIXES
from signage.vision.sources.base import Backoff, FrameSource
from signage.vision.sources.files import ImageFolderSource, VideoFileSource
from signage.vision.sources.picamera import PicameraSource
from signage.vision.sources.v4l2 import CameraSource

logger = logging.getLogger(__name__)


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


def working_picamera(width: int | None, height: int | None, fps: float | None, backoff: Backoff,
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
        first = CameraSource(0, width, height, fps, backoff, format=format)
        if fallback is None or first.read() is not None:
            return first
        first.close()
        pi_camera = working_picamera(width, height, fps, backoff)
        if pi_camera is not None:
            return pi_camera
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
