"""Hostile creatives: media that lies about its size, is truncated, corrupt or not what its
name says, and cards that cannot be drawn. Made at test time (the big ones, a real
20000x20000 PNG, are never committed). Two galleries share the makers:

- the renderer's (`hostile`, `GALLERY`): each member a `Content` with the reason it must
  fail for, or None where the input is legal and must be shown;
- the playlists' (`MEMBERS`): each writes a playlist naming one creative `x`, and its
  media, into a folder, for `signage check` (a clear message or a pass, never a
  traceback) and a real kiosk (it stays up, the screen stays lit, status says why); the
  YAML-level members are in tests/hostile/gallery.py.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np

from signage.display.content import Content

NOT_AN_IMAGE = b"this is not an image\n" * 20


# ----- the makers ----------------------------------------------------------------------------

def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png(width: int, height: int, idat: bytes = b"") -> bytes:
    """A PNG that is valid up to what it carries: what its header claims costs nothing."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + (png_chunk(b"IDAT", idat) if idat else b"")
            + png_chunk(b"IEND", b""))


def big_png(width: int, height: int) -> bytes:
    """A real, complete black RGB PNG, compressed row by row (never the whole image in
    memory): 20000 x 20000 is about 1.2 MB on disk and 1.2 GB decoded."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + width * 3)
    return png(width, height, b"".join([compressor.compress(row) for _ in range(height)] + [compressor.flush()]))


def png_header_only(path: Path, width: int, height: int) -> Path:
    """A valid PNG signature and IHDR that claim a huge image, and a token IDAT."""
    path.write_bytes(png(width, height, zlib.compress(b"\0")))
    return path


def truncated_jpeg(kept: int = 300) -> bytes:
    """The first bytes of a real JPEG: its headers, cut before the picture."""
    ok, encoded = cv2.imencode(".jpg", np.full((480, 640, 3), 200, np.uint8))
    assert ok, "OpenCV could not encode a JPEG"
    return encoded.tobytes()[:kept]


def mjpeg_avi(path: Path, frames: int = 20, size=(160, 90), bgr=(0, 0, 255)) -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, size)
    for _ in range(frames):
        writer.write(np.full((size[1], size[0], 3), bgr, np.uint8))
    writer.release()
    return path


def lying_avi(path: Path) -> Path:
    """An AVI whose headers (avih and the stream's BITMAPINFOHEADER) claim 40000x40000."""
    data = bytearray(mjpeg_avi(path.with_suffix(".src.avi")).read_bytes())
    avih, strf = data.find(b"avih"), data.find(b"strf")
    struct.pack_into("<II", data, avih + 8 + 32, 40000, 40000)
    struct.pack_into("<ii", data, strf + 8 + 4, 40000, 40000)
    path.write_bytes(bytes(data))
    return path


def _file(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# ----- the renderer's gallery ----------------------------------------------------------------

def hostile(tmp_path: Path, name: str) -> tuple[Content, str | None]:
    """(content, expected reason fragment); None: legal input that must be shown."""
    if name == "card-nul":
        return Content(id=name, type="card", text="hello\0world"), "null character"
    if name == "card-huge-font":
        return Content(id=name, type="card", text="W" * 250 + " " + "x " * 125, font_size=1000), None
    if name == "card-huge-word":
        return Content(id=name, type="card", text="M" * 500, font_size=1000), None
    if name == "png-claims-60000":
        return Content(id=name, type="image", path=png_header_only(tmp_path / "claims.png", 60000, 60000)), \
            "max_image_pixels"
    if name == "png-20000-real":
        path = tmp_path / "big.png"
        return Content(id=name, type="image", path=path if path.exists() else _file(path, big_png(20000, 20000))), \
            "max_image_pixels"
    if name == "jpeg-truncated":
        return Content(id=name, type="image", path=_file(tmp_path / "truncated.jpg", truncated_jpeg(150))), \
            "cannot be decoded"
    if name == "text-named-png":
        return Content(id=name, type="image", path=_file(tmp_path / "notes.png", NOT_AN_IMAGE)), "not a PNG, JPEG"
    if name == "zero-bytes":
        return Content(id=name, type="image", path=_file(tmp_path / "empty.png", b"")), "the file is empty"
    if name == "video-corrupt":
        noise = bytes(np.random.default_rng(2).integers(0, 255, 20000, np.uint8))
        return Content(id=name, type="video", path=_file(tmp_path / "corrupt.mp4", b"\0\0\0\x18ftypmp42" + noise)), \
            "video"
    if name == "video-header-lies":
        # FFmpeg sizes MJPEG frames from the frames, not the container: it plays, bounded
        return Content(id=name, type="video", path=lying_avi(tmp_path / "lies.avi"), fit="cover"), None
    if name == "jpeg-large-allowed":  # 24 MP: decoded at 1/8 straight from the DCT, shown
        path = tmp_path / "large.jpg"
        if not path.exists():  # written once, by the parent in the memory test
            cv2.imwrite(str(path), np.full((4000, 6000, 3), (0, 0, 255), np.uint8))
        return Content(id=name, type="image", path=path, fit="cover"), None
    raise KeyError(name)


GALLERY = ["card-nul", "card-huge-font", "card-huge-word", "png-claims-60000", "png-20000-real", "jpeg-truncated",
           "text-named-png", "zero-bytes", "video-corrupt", "video-header-lies", "jpeg-large-allowed"]


# ----- the playlists' gallery ----------------------------------------------------------------

HEADER = "creatives:\n"
GOOD_TAIL = "default: [x]\n"
CARD_BACKGROUND = (0x55, 0x22, 0x55)


def _card(text: str, **extra) -> str:
    """A card whose text is written as a YAML double-quoted string (escapes interpreted)."""
    fields = "".join(f", {k}: {v}" for k, v in extra.items())
    return HEADER + f"  - {{id: x, type: card, text: {json.dumps(text)}, background: '#552255'{fields}, " \
        "duration: 5}\n" + GOOD_TAIL


def _media(kind: str, name: str, data: Callable[[], bytes]) -> Callable[[Path], None]:
    """A playlist whose creative `x` is an image or video file with these bytes (made
    when the member is written: the big ones cost nothing until then)."""
    def write(folder: Path) -> None:
        (folder / "media").mkdir(exist_ok=True)
        (folder / "media" / name).write_bytes(data())
        (folder / "hostile.yaml").write_text(
            HEADER + f"  - {{id: x, type: {kind}, media: media/{name}, duration: 5}}\n" + GOOD_TAIL)
    return write


def _image(name: str, data: Callable[[], bytes]) -> Callable[[Path], None]:
    return _media("image", name, data)


def _text(content: str) -> Callable[[Path], None]:
    return lambda folder: (folder / "hostile.yaml").write_text(content)


# name -> writer. Each writes `hostile.yaml` (and its media) into a playlist folder.
MEMBERS: dict[str, Callable[[Path], None]] = {
    "card-nul-character": _text(_card("hello\0world")),
    "card-control-characters": _text(_card("bell\x07 escape\x1b[2J")),
    "card-huge-font-long-text": _text(_card("W" * 500, font_size=1000)),
    "png-header-claims-60000x60000": _image("bomb.png", lambda: png(60000, 60000)),
    "png-real-20000x20000": _image("huge.png", lambda: big_png(20000, 20000)),
    "png-that-is-text": _image("text.png", lambda: NOT_AN_IMAGE),
    "png-zero-bytes": _image("empty.png", lambda: b""),
    "jpeg-truncated": _image("cut.jpg", truncated_jpeg),
    "video-of-random-bytes": _media("video", "noise.mp4", lambda: bytes(range(256)) * 400),
}

# Legal as far as `check` can tell without decoding: the renderer must cope with them.
CHECK_PASSES = {"card-huge-font-long-text", "jpeg-truncated"}
