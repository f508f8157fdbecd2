"""Preparing creatives for the screen, off the render loop.

Images are decoded, fitted and rotated by OpenCV in a worker thread (OpenCV releases
the GIL), so the render loop never waits on disk or decoding; it only turns the
finished pixels into a pygame surface. Videos decode in their own thread into a
small bounded queue. Cards are drawn by pygame's font renderer (fast, main thread).
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from signage.display.content import Content, rgb
from signage.display.layout import fitted
from signage.threads import name_os_thread

logger = logging.getLogger(__name__)

ROTATE = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}


class MediaError(Exception):
    """A creative's media cannot be shown; the message says why."""


def file_key(path: Path) -> tuple[str, int, int]:
    """Identifies a file's current version: a bad file is retried once it changes."""
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def fit_pixels(image: np.ndarray, target: tuple[int, int], fit: str, background=(0, 0, 0)) -> np.ndarray:
    """BGR image fitted into target (w, h): contain with bars, cover cropped, stretch."""
    height, width = image.shape[:2]
    w, h, crop_x, crop_y, dest_x, dest_y = fitted((width, height), target, fit)
    interpolation = cv2.INTER_AREA if w < width else cv2.INTER_LINEAR
    scaled = cv2.resize(image, (w, h), interpolation=interpolation)
    if fit == "cover":
        return scaled[crop_y:crop_y + target[1], crop_x:crop_x + target[0]]
    if fit == "stretch":
        return scaled
    canvas = np.empty((target[1], target[0], 3), np.uint8)
    canvas[:] = background
    canvas[dest_y:dest_y + h, dest_x:dest_x + w] = scaled
    return canvas


def prepare_image(path: Path, logical: tuple[int, int], fit: str, rotation: int) -> np.ndarray:
    """RGB pixels of an image file, fitted to the logical layout and turned onto the
    screen. Runs in a worker thread; raises MediaError."""
    image = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if image is None:
        raise MediaError(f"{path.name} cannot be decoded as an image")
    pixels = fit_pixels(image, logical, fit)
    if rotation:
        pixels = cv2.rotate(pixels, ROTATE[rotation])
    return np.ascontiguousarray(cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB))


class ImageCache:
    """Prepared images by (file version, fit, layout), least recently used first out,
    bounded in bytes so cycling many large images for hours stays flat in memory."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._sizes: dict[tuple, int] = {}
        self._bytes = 0

    def get(self, key: tuple):
        if key in self._items:
            self._items.move_to_end(key)
            return self._items[key]
        return None

    def put(self, key: tuple, surface, size_bytes: int) -> None:
        self._bytes += size_bytes - self._sizes.get(key, 0)
        self._items[key] = surface
        self._sizes[key] = size_bytes
        self._items.move_to_end(key)
        while self._bytes > self.max_bytes and len(self._items) > 1:
            old, _ = self._items.popitem(last=False)
            self._bytes -= self._sizes.pop(old)

    def clear(self) -> None:
        self._items.clear()
        self._sizes.clear()
        self._bytes = 0


class Loader:
    """One worker thread preparing images, so the render loop never blocks on them."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="media")

    def submit(self, path: Path, logical: tuple[int, int], fit: str, rotation: int) -> Future:
        return self._pool.submit(prepare_image, path, logical, fit, rotation)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


@dataclass
class VideoFrame:
    pts: float  # seconds from the start of playback
    pixels: np.ndarray  # RGB, fitted and rotated for the screen
    dest: tuple[int, int]  # where it goes on the logical layout


class VideoPlayback:
    """Decodes one video in a background thread into a bounded queue of ready frames.

    The render loop asks `frame_at(elapsed)` for the newest frame that is due and
    counts the ones it skipped. Decoding never blocks the loop: when the queue is
    full the decoder waits, not the renderer.
    """

    QUEUE = 8

    def __init__(self, content: Content, logical: tuple[int, int], rotation: int):
        self.content, self.logical, self.rotation = content, logical, rotation
        self.error: str | None = None
        self.ended = False  # decoded to the end and not looping
        self.dropped = 0
        self._frames: queue.Queue[VideoFrame | None] = queue.Queue(self.QUEUE)
        self._stop = threading.Event()
        self._pending: VideoFrame | None = None
        self._thread = threading.Thread(target=self._decode, name=f"video-{content.id}", daemon=True)
        self._thread.start()

    def _open(self) -> tuple[cv2.VideoCapture, float, int]:
        capture = cv2.VideoCapture(str(self.content.path))
        if not capture.isOpened():
            raise MediaError(f"{self.content.path.name} cannot be opened as a video")
        fps = capture.get(cv2.CAP_PROP_FPS)
        return capture, (fps if 1 <= fps <= 240 else 30.0), int(capture.get(cv2.CAP_PROP_FRAME_COUNT))

    def _decode(self) -> None:
        name_os_thread("video")
        offset = 0.0
        try:
            capture, fps, expected = self._open()
            index = 0
            while not self._stop.is_set():
                ok, image = capture.read()
                if not ok:
                    capture.release()
                    if index == 0 or (expected > 0 and index < expected * 0.9):
                        raise MediaError(f"{self.content.path.name}: decoding stopped at frame {index}"
                                         f" of {expected}")
                    if not self.content.loop:
                        break
                    offset += index / fps
                    capture, fps, expected = self._open()
                    index = 0
                    continue
                frame = self._prepare(image, offset + index / fps)
                index += 1
                while not self._stop.is_set():
                    try:
                        self._frames.put(frame, timeout=0.1)
                        break
                    except queue.Full:
                        continue
            capture.release()
        except (MediaError, cv2.error) as exc:
            self.error = str(exc)
        finally:
            try:
                self._frames.put(None, timeout=1.0)  # end marker
            except queue.Full:
                pass

    def _prepare(self, image: np.ndarray, pts: float) -> VideoFrame:
        height, width = image.shape[:2]
        w, h, crop_x, crop_y, dest_x, dest_y = fitted((width, height), self.logical, self.content.fit)
        scaled = cv2.resize(image, (w, h), interpolation=cv2.INTER_AREA if w < width else cv2.INTER_LINEAR)
        if self.content.fit == "cover":
            scaled = scaled[crop_y:crop_y + self.logical[1], crop_x:crop_x + self.logical[0]]
        if self.rotation:
            scaled = cv2.rotate(scaled, ROTATE[self.rotation])
        return VideoFrame(pts, np.ascontiguousarray(cv2.cvtColor(scaled, cv2.COLOR_BGR2RGB)), (dest_x, dest_y))

    def frame_at(self, elapsed: float) -> VideoFrame | None:
        """The newest frame due at `elapsed` seconds, or None if none is new."""
        due = None
        while True:
            if self._pending is None:
                try:
                    self._pending = self._frames.get_nowait()
                except queue.Empty:
                    return due
                if self._pending is None:  # end marker
                    self.ended = self.error is None
                    return due
            if self._pending.pts > elapsed:
                return due
            if due is not None:
                self.dropped += 1
            due, self._pending = self._pending, None

    def close(self) -> None:
        self._stop.set()
        while True:  # unblock the decoder
            try:
                self._frames.get_nowait()
            except queue.Empty:
                break
        self._thread.join(timeout=1.0)


def wrap_text(text: str, font, width: int) -> list[str]:
    """Greedy word wrap; explicit line breaks start new lines."""
    lines = []
    for paragraph in text.split("\n"):
        words, line = paragraph.split(), ""
        for word in words:
            candidate = f"{line} {word}".strip()
            if line and font.size(candidate)[0] > width:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


def render_card(content: Content, logical: tuple[int, int], pygame):
    """A card as a surface of the logical size: text wrapped, centred, as large as fits."""
    surface = pygame.Surface(logical)
    surface.fill(rgb(content.background))
    width, height = logical
    box_w, box_h = int(width * 0.84), int(height * 0.8)

    def layout(size: int):
        font = pygame.font.Font(None, size)
        lines = wrap_text(content.text, font, box_w)
        line_height = font.get_linesize()
        return font, lines, line_height, max(font.size(line)[0] for line in lines), line_height * len(lines)

    if content.font_size:
        font, lines, line_height, _, total = layout(content.font_size)
    else:
        low, high = 8, max(8, height // 5)  # larger than a fifth of the screen looks shouted
        while low < high:  # the largest size whose wrapped text fits the box
            middle = (low + high + 1) // 2
            _, _, _, w, h = layout(middle)
            if w <= box_w and h <= box_h:
                low = middle
            else:
                high = middle - 1
        font, lines, line_height, _, total = layout(low)
    y = (height - total) // 2
    for line in lines:
        rendered = font.render(line, True, rgb(content.color))
        surface.blit(rendered, ((width - rendered.get_width()) // 2, y))
        y += line_height
    return surface
