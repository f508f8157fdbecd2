"""Video playback: one decoding thread per video, a small queue of ready frames.

Frames leave the decoder at the video's own size, converted once (BGR to XRGB8888,
the screen's own pixel format) straight into a small ring of pygame surfaces, so
the render loop hands them to SDL as they are, with no copy of its own: the GPU
(or SDL's software renderer) scales and rotates them. Decoding never blocks the loop: when the queue
is full the decoder waits, not the renderer; when decoding is slow the last frame
stays on screen.

Hardware decoding: a Raspberry Pi 4 decodes H.264 in its V4L2 memory-to-memory
codec (`h264_v4l2m2m`), which OpenCV's FFmpeg backend is asked to use through
`OPENCV_FFMPEG_CAPTURE_OPTIONS`. Where that decoder does not open (no such device:
a Pi 5, a PC) the software decoder is used, and that is said once per process (and
not asked again in `auto`). The variable is process-wide and OpenCV reads it while
opening: it is set only around our own open, under a lock, and only for H.264
streams. A camera or video source that vision opens in those few milliseconds would
be asked for the same decoder; if it cannot use it, its open fails and vision's
retry opens it again a moment later.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from dataclasses import dataclass
from typing import Callable, Literal

import cv2
import numpy as np
import pygame

from signage.display.content import Content
from signage.display.media import MediaError, check_pixel_budget, first_line
from signage.faults import Barrier, LogOnce
from signage.imageinfo import DEFAULT_MAX_PIXELS
from signage.threads import name_os_thread

logger = logging.getLogger(__name__)

Decode = Literal["auto", "software", "v4l2m2m"]
DECODE_MODES: tuple[str, ...] = ("auto", "software", "v4l2m2m")
HARDWARE_CODEC = "h264_v4l2m2m"
H264_FOURCCS = {"avc1", "h264", "H264", "x264", "X264", "AVC1", "davc"}
OPTIONS_VARIABLE = "OPENCV_FFMPEG_CAPTURE_OPTIONS"

_open_lock = threading.Lock()  # the options variable is process-wide: one open with it set at a time
_hardware_refused: list[str] = []  # why the hardware decoder did not open, once per process
_decoder_faults = LogOnce()  # one log for every video's decoding thread: a decoder's bug is one kind


@dataclass
class VideoFrame:
    pts: float  # seconds from the start of playback
    surface: object  # an XRGB8888 pygame surface at the video's own size
    pixels: np.ndarray  # (h, w, 4) BGRX: the surface's own memory


class Canvases:
    """A ring of XRGB8888 surfaces the decoder converts frames into. A frame's surface
    is written again only `len(ring)` frames later: after the queue (QUEUE) and the
    frame on screen have moved on."""

    def __init__(self, count: int):
        self.count = count
        self._ring: list[tuple[pygame.Surface, pygame.BufferProxy, np.ndarray]] = []
        self._next = 0
        self._size: tuple[int, int] | None = None

    def next(self, width: int, height: int) -> tuple[pygame.Surface, np.ndarray]:
        if self._size != (width, height):
            self._ring, self._size = [], (width, height)
        if len(self._ring) < self.count:
            surface = pygame.Surface((width, height), 0, 32, masks=(0xFF0000, 0xFF00, 0xFF, 0))
            buffer = surface.get_buffer()  # held: the numpy view below writes into the surface itself
            # ignored below: the stubs give BufferProxy its buffer protocol (__buffer__) from Python 3.12 only
            view = np.frombuffer(buffer, np.uint8)  # type: ignore[call-overload]
            pixels = view.reshape(height, surface.get_pitch() // 4, 4)[:, :width]
            self._ring.append((surface, buffer, pixels))
        surface, _, pixels = self._ring[self._next % len(self._ring)]
        self._next += 1
        return surface, pixels

    @property
    def bytes(self) -> int:
        """What the ring holds: decoded frames, each a surface at the video's own size."""
        return sum(surface.get_pitch() * surface.get_height() for surface, _, _ in list(self._ring))


def to_canvas(image: np.ndarray, canvases: Canvases) -> tuple[pygame.Surface, np.ndarray]:
    """A decoded BGR frame converted into the next canvas (one pass, no other copy)."""
    surface, pixels = canvases.next(image.shape[1], image.shape[0])
    cv2.cvtColor(image, cv2.COLOR_BGR2BGRA, dst=pixels)
    return surface, pixels


def _fourcc(capture: cv2.VideoCapture) -> str:
    code = int(capture.get(cv2.CAP_PROP_FOURCC))
    return "".join(chr((code >> shift) & 0xFF) for shift in (0, 8, 16, 24)).strip("\0 ")


def open_capture(path, decode: Decode = "auto") -> tuple[cv2.VideoCapture, str]:
    """A capture of `path` and the decoder it uses ("software" or "v4l2m2m").

    auto and v4l2m2m try the hardware H.264 decoder for H.264 streams and fall back
    to software when it does not open (logged once per process); software never
    tries it. MediaError when the file cannot be opened at all."""
    capture = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
    if not capture.isOpened():
        raise MediaError(f"{path.name} cannot be opened as a video")
    if decode == "software" or (decode == "auto" and _hardware_refused):
        return capture, "software"
    codec = _fourcc(capture)
    if codec not in H264_FOURCCS:
        return capture, "software"  # the hardware decoder takes H.264 only
    with _open_lock:
        previous = os.environ.get(OPTIONS_VARIABLE)
        os.environ[OPTIONS_VARIABLE] = f"video_codec;{HARDWARE_CODEC}"
        try:
            hardware = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
        finally:
            if previous is None:
                os.environ.pop(OPTIONS_VARIABLE, None)
            else:
                os.environ[OPTIONS_VARIABLE] = previous
    if hardware.isOpened():
        capture.release()
        return hardware, "v4l2m2m"
    hardware.release()
    if not _hardware_refused:
        _hardware_refused.append(path.name)
        logger.warning("the hardware H.264 decoder (%s) does not open here (no V4L2 decoder device, or an FFmpeg "
                       "built without it); videos decode in software (display.video_decode: %s)",
                       HARDWARE_CODEC, decode)
    return capture, "software"


class VideoPlayback:
    """Decodes one video in a background thread into a bounded queue of ready frames.

    The render loop asks `frame_at(elapsed)` for the newest frame that is due (and
    counts the ones it skipped) and `next_due()` for when the one after is due.
    `on_frame` is called (on the decoding thread) when a frame is queued into an empty
    queue, so a loop that found nothing to wait for can sleep until then.
    """

    QUEUE = 4  # frames of 1080p XRGB are 8 MB each

    def __init__(self, content: Content, max_pixels: int = DEFAULT_MAX_PIXELS, decode: Decode = "auto",
                 on_frame: Callable[[], None] = lambda: None):
        if content.path is None:
            raise MediaError(f"{content.id}: a video needs its file")
        self.content, self.path, self.max_pixels, self.decode = content, content.path, max_pixels, decode
        self.error: str | None = None
        self.ended = False  # decoded to the end and not looping
        self.dropped = 0
        self.fps = 30.0
        self.decoder = "starting"
        self._on_frame = on_frame
        self._frames: queue.Queue[VideoFrame | None] = queue.Queue(self.QUEUE)
        self._stop = threading.Event()
        self._pending: VideoFrame | None = None
        self._canvases = Canvases(self.QUEUE + 2)  # the queue, the frame on screen, the one being written
        self._thread = threading.Thread(target=self._decode, name=f"video-{content.id}", daemon=True)
        self._thread.start()

    def _open(self) -> tuple[cv2.VideoCapture, float, int]:
        capture, self.decoder = open_capture(self.path, self.decode)
        width, height = int(capture.get(cv2.CAP_PROP_FRAME_WIDTH)), int(capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
        try:
            check_pixel_budget(self.path.name, width, height, self.max_pixels, "video")
        except MediaError:
            capture.release()
            raise
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 1 <= fps <= 240 else 30.0
        return capture, self.fps, int(capture.get(cv2.CAP_PROP_FRAME_COUNT))

    def _decode(self) -> None:
        """The decoding thread, behind the one fault barrier: whatever the decoder raises
        is this video's failure (the renderer skips it), never the thread's end unmarked."""
        name_os_thread("video")
        try:
            Barrier(logger, report=self._failed, log_once=_decoder_faults).run("video decoding", self._decode_all)
        finally:
            try:
                self._frames.put(None, timeout=1.0)  # end marker
            except queue.Full:
                pass
            self._on_frame()

    def _failed(self, step: str, exc: BaseException | None) -> None:
        if exc is not None:
            self.error = f"{self.path.name} cannot be decoded as a video ({first_line(exc)})"

    def _decode_all(self) -> None:
        offset = 0.0
        canvases = self._canvases
        try:
            capture, fps, expected = self._open()
            index = 0
            while not self._stop.is_set():
                ok, image = capture.read()
                if not ok:
                    capture.release()
                    if index == 0 or (expected > 0 and index < expected * 0.9):
                        raise MediaError(f"{self.path.name}: decoding stopped at frame {index}"
                                         f" of {expected}")
                    if not self.content.loop:
                        break
                    offset += index / fps
                    capture, fps, expected = self._open()
                    index = 0
                    continue
                if image.shape[0] * image.shape[1] > self.max_pixels:  # a header that lied
                    check_pixel_budget(self.path.name, image.shape[1], image.shape[0], self.max_pixels,
                                       "video")
                frame = VideoFrame(offset + index / fps, *to_canvas(image, canvases))
                index += 1
                while not self._stop.is_set():
                    try:
                        waited = self._frames.empty()  # the loop may be sleeping until a frame comes
                        self._frames.put(frame, timeout=0.1)
                        if waited:
                            self._on_frame()
                        break
                    except queue.Full:
                        continue
            capture.release()
        except MediaError as exc:  # the video's own fault, said plainly (no traceback)
            self.error = str(exc)

    def _peek(self) -> VideoFrame | None:
        if self._pending is None:
            try:
                self._pending = self._frames.get_nowait()
            except queue.Empty:
                return None
            if self._pending is None:  # end marker
                self.ended = self.error is None
                self._frames.put_nowait(None)  # stays the last word
        return self._pending

    def frame_at(self, elapsed: float) -> VideoFrame | None:
        """The newest frame due at `elapsed` seconds, or None if none is new."""
        due = None
        while True:
            pending = self._peek()
            if pending is None or pending.pts > elapsed:
                return due
            if due is not None:
                self.dropped += 1
            due, self._pending = pending, None

    @property
    def held_bytes(self) -> int:
        """Decoded frames this playback holds (its ring)."""
        return self._canvases.bytes

    def next_due(self) -> float | None:
        """When (seconds from the start) the next decoded frame is due; None: not decoded yet."""
        pending = self._peek()
        return None if pending is None else pending.pts

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock the decoder
            try:
                self._frames.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=1.0)
