"""Preparing images and cards for the screen, off the render loop.

Images are decoded and fitted by OpenCV in a worker thread (OpenCV releases the
GIL), so the render loop never waits on disk or decoding; it only uploads the
finished pixels once (a texture). Pixels stay in the logical layout: turning them
onto a rotated panel is the renderer's job. Cards are drawn by pygame's font
renderer (fast, main thread). Videos: video.py.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

from signage.display.content import Content, rgb
from signage.display.layout import Fit, fitted
from signage.imageinfo import DEFAULT_MAX_PIXELS, ImageError, image_size, megapixels

logger = logging.getLogger(__name__)

class MediaError(Exception):
    """A creative's media cannot be shown; the message says why."""


def first_line(exc: BaseException) -> str:
    """OpenCV errors span lines (file, function, expression): keep the informative one."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return (lines[-1] if lines else type(exc).__name__)[:200]


def file_key(path: Path) -> tuple[str, int, int]:
    """Identifies a file's current version: a bad file is retried once it changes."""
    stat = path.stat()
    return str(path), stat.st_mtime_ns, stat.st_size


def fit_pixels(image: np.ndarray, target: tuple[int, int], fit: Fit, background=(0, 0, 0)) -> np.ndarray:
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


def image_dimensions(path: Path) -> tuple[int, int]:
    """(width, height) from an image file's header, without decoding it (the one header
    reader, signage/imageinfo.py); MediaError for anything it cannot read."""
    try:
        return image_size(path)
    except ImageError as exc:
        raise MediaError(f"{path.name} cannot be decoded as an image ({exc.reason})") from None


def check_pixel_budget(name: str, width: int, height: int, max_pixels: int, what: str = "image") -> None:
    """Refuse media whose decoded size would not fit the budget, before decoding it
    (the same words `signage check` uses)."""
    if width * height > max_pixels:
        raise MediaError(f"{name} is a {width}x{height} {what} ({megapixels(width * height)} MP); at most "
                         f"{megapixels(max_pixels)} MP is accepted (display.max_image_pixels)")


def reduction(source: tuple[int, int], target: tuple[int, int], fit: Fit) -> int:
    """The largest power-of-two factor (1, 2, 4, 8) the image can be decoded smaller by
    and still be at least as large as it will appear on screen."""
    sw, sh = source
    tw, th = target
    scale = min(tw / sw, th / sh) if fit == "contain" else max(tw / sw, th / sh)
    for factor in (8, 4, 2):
        if scale * factor <= 1:
            return factor
    return 1


_REDUCED = {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8}


def prepare_image(path: Path, logical: tuple[int, int], fit: Fit,
                  max_pixels: int = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """BGRA pixels of an image file (the byte order of an ARGB8888 texture), fitted to
    the logical layout. The header's size is checked against the pixel budget before anything is
    decoded, and large images are decoded at a reduced size (JPEG decodes straight to
    it). Runs in a worker thread; raises MediaError."""
    width, height = image_dimensions(path)
    check_pixel_budget(path.name, width, height, max_pixels)
    try:
        image = cv2.imread(str(path), _REDUCED[reduction((width, height), logical, fit)])
    except cv2.error as exc:
        raise MediaError(f"{path.name} cannot be decoded as an image ({first_line(exc)})") from exc
    if image is None:
        raise MediaError(f"{path.name} cannot be decoded as an image")
    return cv2.cvtColor(fit_pixels(image, logical, fit), cv2.COLOR_BGR2BGRA)


class ImageCache:
    """Uploaded pictures (textures) of images and cards by (file version, fit, layout),
    least recently used first out, bounded in bytes so cycling many large images for
    hours stays flat in memory (GPU memory on a Pi is carved out of the same RAM)."""

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

    def retain(self, keys: set) -> None:
        """Forget every picture whose key is not in `keys`."""
        for key in [key for key in self._items if key not in keys]:
            del self._items[key]
            self._bytes -= self._sizes.pop(key)

    def clear(self) -> None:
        self._items.clear()
        self._sizes.clear()
        self._bytes = 0

    @property
    def bytes(self) -> int:
        """Decoded bytes of the pictures held (what their textures take)."""
        return self._bytes

    def __len__(self) -> int:
        return len(self._items)


class Loader:
    """One worker thread preparing images, so the render loop never blocks on them."""

    def __init__(self):
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="media")

    def submit(self, path: Path, logical: tuple[int, int], fit: Fit, max_pixels: int = DEFAULT_MAX_PIXELS) -> Future:
        return self._pool.submit(prepare_image, path, logical, fit, max_pixels)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def wrap_text(text: str, measure, width: int) -> list[str]:
    """Greedy word wrap by measured width; explicit line breaks start new lines, and a
    word wider than the box is broken between characters (so no line is wider)."""
    lines = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}".strip()
            if measure(candidate) <= width:
                line = candidate
                continue
            if line:
                lines.append(line)
            line = ""
            for char in word:  # the word alone may be too wide as well
                if line and measure(line + char) > width:
                    lines.append(line)
                    line = ""
                line += char
        lines.append(line)
    return lines


MIN_FONT = 8


def render_card(content: Content, logical: tuple[int, int], pygame):
    """A card as a surface of the logical size: text wrapped, centred, as large as fits.

    An explicit font_size is the largest size used: text that would not fit at it is
    set smaller, and text that does not fit even at the smallest size is cut with an
    ellipsis. Nothing larger than the screen is ever rendered, so the memory a card takes
    is bounded by the screen, never by the font size or the length of its text.
    """
    from signage.display.fonts import TextRenderer

    surface = pygame.Surface(logical)
    surface.fill(rgb(content.background))
    width, height = logical
    box_w, box_h = int(width * 0.84), int(height * 0.8)
    text = content.text

    def layout(size: int):
        fonts = TextRenderer(pygame, size)
        lines = wrap_text(text, fonts.width, box_w)
        return fonts, lines, fonts.line_height * len(lines)

    ceiling = height // 5 if content.font_size is None else content.font_size  # a fifth: anything larger shouts
    low, high = MIN_FONT, max(MIN_FONT, min(ceiling, box_h))
    if layout(high)[2] <= box_h:
        low = high
    while low < high:  # the largest size whose wrapped text fits the box
        middle = (low + high + 1) // 2
        if layout(middle)[2] <= box_h:
            low = middle
        else:
            high = middle - 1
    fonts, lines, total = layout(low)
    fitting = max(1, box_h // fonts.line_height)
    if len(lines) > fitting:  # too much text even at the smallest size
        lines = lines[:fitting]
        while lines[-1] and fonts.width(lines[-1] + "…") > box_w:
            lines[-1] = lines[-1][:-1]
        lines[-1] += "…"
        total = fonts.line_height * len(lines)
    y = (height - total) // 2
    colour = rgb(content.color)
    for line in lines:
        if line:
            rendered = fonts.render(line, colour)
            surface.blit(rendered, ((width - rendered.get_width()) // 2, y))
        y += fonts.line_height
    return surface


def render_notice(notice, logical: tuple[int, int], pygame):
    """The measurement notice (display.notice) as a translucent box of text with its
    place on the logical layout: (surface with per-pixel alpha, (x, y, w, h))."""
    from signage.display.fonts import TextRenderer

    text = TextRenderer(pygame, notice.size).render(notice.text, (255, 255, 255))  # any script
    pad = notice.size // 3
    box = pygame.Surface((text.get_width() + 2 * pad, text.get_height() + 2 * pad), pygame.SRCALPHA)
    box.fill((0, 0, 0, 170))
    box.blit(text, (pad, pad))
    w, h = box.get_size()
    lw, lh = logical
    margin = notice.size // 2
    x = margin if "left" in notice.corner else lw - w - margin
    y = margin if "top" in notice.corner else lh - h - margin
    return box, (x, y, w, h)
