"""An image's width and height from its header, without decoding it.

Decoding a picture costs width x height x 3 bytes at least: a 69-byte PNG that claims
60000x60000 would ask for 10 GB. So `signage check`, the playlist loader and the
display read the dimensions first, here, in pure Python (a few hundred bytes read,
never the pixels), and refuse anything above the pixel budget before OpenCV sees it.
The format is recognised by its signature, not by the file name, because OpenCV
decodes by content too.
"""

from __future__ import annotations

import struct
from pathlib import Path
from typing import BinaryIO

from signage.errors import SignageError

DEFAULT_MAX_PIXELS = 40_000_000  # 40 MP: an 8K picture fits; decoded it is ~120 MB of RGB
MAX_SIDE = 65_535  # no format we accept encodes more; a larger claim is a corrupt header
JPEG_SCAN_BYTES = 4 << 20  # markers before the frame header (EXIF, thumbnails) fit in this
FORMATS = "PNG, JPEG, WebP, BMP or GIF"


class ImageError(SignageError):
    """An image header cannot be read, claims an impossible size or too many pixels.
    str() is "<file name>: <reason>"; `reason` alone is for messages that name the file."""

    def __init__(self, path: Path, reason: str):
        super().__init__(f"{path.name}: {reason}")
        self.path, self.reason = path, reason


def image_size(path: Path | str) -> tuple[int, int]:
    """(width, height) from the file's header; raises ImageError."""
    path = Path(path)
    try:
        with path.open("rb") as handle:
            return _size(handle)
    except _Bad as exc:
        raise ImageError(path, str(exc)) from None
    except OSError as exc:
        raise ImageError(path, f"cannot read the file: {exc.strerror or exc}") from None
    except (struct.error, IndexError):  # a slice shorter than the header field
        raise ImageError(path, "the file is cut short: it ends inside the image header") from None


def check_pixels(path: Path | str, max_pixels: int) -> tuple[int, int]:
    """image_size, refusing a picture with more than `max_pixels` pixels (ImageError)."""
    width, height = image_size(path)
    if width * height > max_pixels:
        raise ImageError(Path(path), f"the picture is {width}x{height} ({megapixels(width * height)} MP);"
                         f" at most {megapixels(max_pixels)} MP is accepted")
    return width, height


def megapixels(pixels: int) -> str:
    return f"{pixels / 1e6:.1f}".removesuffix(".0")


class _Bad(Exception):
    """A reason, turned into ImageError with the path by image_size."""


def _size(handle: BinaryIO) -> tuple[int, int]:
    head = handle.read(32)
    if not head:
        raise _Bad("the file is empty")
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        if len(head) < 24:
            raise _Bad("the file is cut short: it ends inside the PNG header")
        if head[12:16] != b"IHDR":
            raise _Bad("a PNG file without its IHDR header")
        width, height = struct.unpack(">II", head[16:24])
    elif head.startswith(b"\xff\xd8"):
        width, height = _jpeg(handle)
    elif head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        width, height = _webp(head)
    elif head.startswith(b"BM"):
        header_size = struct.unpack("<I", head[14:18])[0]
        if header_size == 12:  # BITMAPCOREHEADER
            width, height = struct.unpack("<HH", head[18:22])
        else:
            width, height = struct.unpack("<ii", head[18:26])
            height = abs(height)  # negative: stored top-down
    elif head[:6] in (b"GIF87a", b"GIF89a"):
        width, height = struct.unpack("<HH", head[6:10])
    else:
        raise _Bad(f"not a {FORMATS} image (unknown file signature)")
    if not (0 < width <= MAX_SIDE and 0 < height <= MAX_SIDE):
        raise _Bad(f"the header claims {width}x{height} pixels, which is not a valid size")
    return width, height


def _webp(head: bytes) -> tuple[int, int]:
    chunk = head[12:16]
    if chunk == b"VP8 ":  # lossy: a key frame's start code, then 14-bit sizes
        if head[23:26] != b"\x9d\x01\x2a":
            raise _Bad("a WebP file with a corrupt VP8 frame header")
        width, height = struct.unpack("<HH", head[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L":  # lossless: signature 0x2f, then 14 bits width-1, 14 bits height-1
        if head[20] != 0x2F:
            raise _Bad("a WebP file with a corrupt VP8L header")
        bits = int.from_bytes(head[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    if chunk == b"VP8X":  # extended: 24-bit canvas width-1 and height-1
        return int.from_bytes(head[24:27], "little") + 1, int.from_bytes(head[27:30], "little") + 1
    raise _Bad(f"a WebP file with an unknown chunk {chunk!r}")


_SOF = {0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC6, 0xC7, 0xC9, 0xCA, 0xCB, 0xCD, 0xCE, 0xCF}


def _jpeg(handle: BinaryIO) -> tuple[int, int]:
    """Walk the markers to the frame header (SOFn), skipping segments by their length."""
    handle.seek(2)
    while handle.tell() < JPEG_SCAN_BYTES:
        byte = handle.read(1)
        if not byte:
            break
        if byte != b"\xff":
            continue  # stray bytes between segments: decoders skip them too
        marker = handle.read(1)
        while marker == b"\xff":  # fill bytes
            marker = handle.read(1)
        if not marker:
            break
        code = marker[0]
        if code in (0x01, 0x00) or 0xD0 <= code <= 0xD7:
            continue  # no length
        if code in (0xD9, 0xDA):
            break  # end of image, or scan data before any frame header
        length = struct.unpack(">H", handle.read(2))[0]
        if code in _SOF:
            _, height, width = struct.unpack(">BHH", handle.read(5))
            if height == 0:
                raise _Bad("a JPEG whose height is given later (DNL), which is not supported")
            return width, height
        if length < 2:
            break
        handle.seek(length - 2, 1)
    raise _Bad("a JPEG file without a frame header (SOF) where one belongs")
