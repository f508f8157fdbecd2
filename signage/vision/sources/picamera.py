"""The Raspberry Pi camera (CSI, driven by libcamera) through picamera2, imported only
when a Pi camera is configured."""

from __future__ import annotations

import logging
import time
from typing import Any, Callable

import numpy as np

from signage.errors import SourceUnavailable
from signage.vision.sources.base import Backoff, Frame, Negotiated, RetryingCamera

logger = logging.getLogger(__name__)

PICAMERA_HINT = ("the Pi Camera Module needs picamera2 from Raspberry Pi OS: sudo apt install python3-picamera2,"
                 " and a venv created with --system-site-packages so it can see it (make setup does this on a Pi)")


def import_picamera2():
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


class PicameraSource(RetryingCamera):
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
        self._class: Any = picamera2_class or import_picamera2()  # picamera2 (from apt) has no types
        self._camera: Any | None = None
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
            main: dict[str, object] = {"format": self.PIXEL_FORMAT}
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
        assert self._camera is not None  # _open() made it
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
