"""The renderer's gallery of hostile creatives: media that lies about its size, is
truncated, corrupt or not what its name says, and cards that cannot be drawn. Made at
test time (the big ones are never committed); each member comes with the reason it
must fail for, or None where the input is legal and must be shown."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import cv2
import numpy as np

from signage.display.content import Content


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def png_header_only(path: Path, width: int, height: int) -> Path:
    """69 bytes: a valid PNG signature and IHDR that claim a huge image, a token IDAT."""
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(b"\0"))
                     + png_chunk(b"IEND", b""))
    return path


def real_big_png(path: Path, side: int) -> Path:
    """A real, complete side x side black RGB PNG, compressed row by row (never held
    in memory): 20000 x 20000 is about 1.2 MB on disk and 1.2 GB decoded."""
    compressor = zlib.compressobj(9)
    row = b"\0" * (1 + side * 3)
    parts = [compressor.compress(row) for _ in range(side)] + [compressor.flush()]
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 2, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", b"".join(parts))
                     + png_chunk(b"IEND", b""))
    return path


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
        return Content(id=name, type="image", path=path if path.exists() else real_big_png(path, 20000)), \
            "max_image_pixels"
    if name == "jpeg-truncated":
        good = tmp_path / "good.jpg"
        cv2.imwrite(str(good), np.random.default_rng(1).integers(0, 255, (400, 600, 3), np.uint8))
        path = tmp_path / "truncated.jpg"
        path.write_bytes(good.read_bytes()[:150])
        return Content(id=name, type="image", path=path), "cannot be decoded"
    if name == "text-named-png":
        path = tmp_path / "notes.png"
        path.write_text("this is not an image\n" * 20)
        return Content(id=name, type="image", path=path), "not a PNG, JPEG"
    if name == "zero-bytes":
        path = tmp_path / "empty.png"
        path.write_bytes(b"")
        return Content(id=name, type="image", path=path), "the file is empty"
    if name == "video-corrupt":
        path = tmp_path / "corrupt.mp4"
        path.write_bytes(b"\0\0\0\x18ftypmp42" + bytes(np.random.default_rng(2).integers(0, 255, 20000, np.uint8)))
        return Content(id=name, type="video", path=path), "video"
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
