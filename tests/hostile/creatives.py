"""Hostile creatives: cards, images and videos whose danger shows when they are shown
(the YAML-level members are in gallery.py). Each member writes a playlist naming one
creative `x`, and its media, into a folder; the big ones (a real 20000x20000 PNG) are
made at test time and never committed.

They drive `signage check` (a clear message or a pass, never a traceback) and the real
kiosk (it stays up, the screen stays lit, status says why).
"""

from __future__ import annotations

import json
import struct
import zlib
from pathlib import Path
from typing import Callable

HEADER = "creatives:\n"
GOOD_TAIL = "default: [x]\n"


def png_header(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG that is a valid file up to its header: what it claims costs nothing to write."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + (chunk(b"IDAT", idat) if idat else b"") + chunk(b"IEND", b"")


def big_png(width: int, height: int) -> bytes:
    """A real, decodable black PNG, compressed row by row (never the whole image in memory)."""
    compressor = zlib.compressobj(9)
    row = b"\0" + b"\0" * (3 * width)
    parts = [compressor.compress(row) for _ in range(height)]
    parts.append(compressor.flush())
    return png_header(width, height, b"".join(parts))


CARD_BACKGROUND = (0x55, 0x22, 0x55)


def _card(text: str, **extra) -> str:
    """A card whose text is written as a YAML double-quoted string (escapes interpreted)."""
    fields = "".join(f", {k}: {v}" for k, v in extra.items())
    return HEADER + f"  - {{id: x, type: card, text: {json.dumps(text)}, background: '#552255'{fields}, " \
        "duration: 5}\n" + GOOD_TAIL


def _media(kind: str, name: str, data: bytes) -> Callable[[Path], None]:
    """A playlist whose creative `x` is an image or video file with these bytes."""
    def write(folder: Path) -> None:
        (folder / "media").mkdir(exist_ok=True)
        (folder / "media" / name).write_bytes(data)
        (folder / "hostile.yaml").write_text(
            HEADER + f"  - {{id: x, type: {kind}, media: media/{name}, duration: 5}}\n" + GOOD_TAIL)
    return write


def _image(name: str, data: bytes) -> Callable[[Path], None]:
    return _media("image", name, data)


def _text(content: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "hostile.yaml").write_text(content)


def _jpeg_truncated(folder: Path) -> None:
    import cv2
    import numpy as np

    ok, encoded = cv2.imencode(".jpg", np.full((480, 640, 3), 200, np.uint8))
    _image("cut.jpg", encoded.tobytes()[:300])(folder)


# name -> writer. Each writes `hostile.yaml` (and its media) into a playlist folder.
MEMBERS: dict[str, Callable[[Path], None]] = {
    "card-nul-character": _text(_card("hello\0world")),
    "card-control-characters": _text(_card("bell\x07 escape\x1b[2J")),
    "card-huge-font-long-text": _text(_card("W" * 500, font_size=1000)),
    "png-header-claims-60000x60000": _image("bomb.png", png_header(60000, 60000)),
    "png-real-20000x20000": lambda folder: _image("huge.png", big_png(20000, 20000))(folder),
    "png-that-is-text": _image("text.png", b"this is not a picture\n" * 10),
    "png-zero-bytes": _image("empty.png", b""),
    "jpeg-truncated": _jpeg_truncated,
    "video-of-random-bytes": _media("video", "noise.mp4", bytes(range(256)) * 400),
}

# Legal as far as `check` can tell without decoding: the renderer must cope with them.
CHECK_PASSES = {"card-huge-font-long-text", "jpeg-truncated"}
