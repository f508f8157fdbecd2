"""Image sizes read from headers, checked against OpenCV's own decoding of real files
in every accepted format, and hostile headers refused without decoding."""

from __future__ import annotations

import struct

import cv2
import numpy as np
import pytest

from signage.imageinfo import ImageError, check_pixels, image_size
from tests.hostile.make_media import FILES, bmp, jpeg, png, webp

WRITERS = {  # name: OpenCV encoder parameters
    "plain.png": [], "baseline.jpg": [], "progressive.jpg": [cv2.IMWRITE_JPEG_PROGRESSIVE, 1],
    "lossy.webp": [cv2.IMWRITE_WEBP_QUALITY, 80], "lossless.webp": [cv2.IMWRITE_WEBP_QUALITY, 101],
    "plain.bmp": [],
}


@pytest.mark.parametrize("name", WRITERS)
@pytest.mark.parametrize("size", [(1, 1), (53, 37), (1921, 7)])
def test_sizes_match_what_opencv_decodes(tmp_path, name, size):
    width, height = size
    path = tmp_path / name
    assert cv2.imwrite(str(path), np.random.default_rng(0).integers(0, 255, (height, width, 3), np.uint8),
                       WRITERS[name])
    decoded = cv2.imread(str(path))
    assert image_size(path) == (decoded.shape[1], decoded.shape[0]) == size


def test_jpeg_markers_before_the_frame_header_are_skipped(tmp_path):
    path = tmp_path / "exif.jpg"
    cv2.imwrite(str(path), np.zeros((40, 64, 3), np.uint8))
    data = path.read_bytes()
    app1 = b"\xff\xe1" + struct.pack(">H", 60002) + b"Exif\x00\x00" + b"\xff" * 59996  # a big EXIF block
    path.write_bytes(data[:2] + app1 + b"\xff\xff" + data[2:])  # plus fill bytes
    assert image_size(path) == (64, 40)


@pytest.mark.parametrize("data", [png(60000, 60000), jpeg(60000, 60000), webp(60000, 60000), bmp(60000, 60000),
                                  b"GIF89a" + struct.pack("<HH", 60000, 60000) + b"\x00" * 20])
def test_huge_claims_are_refused_by_the_budget(tmp_path, data):
    path = tmp_path / "big"
    path.write_bytes(data)
    assert image_size(path) == (60000, 60000)
    with pytest.raises(ImageError, match=r"^big: the picture is 60000x60000 \(3600 MP\); at most 40 MP"):
        check_pixels(path, 40_000_000)


@pytest.mark.parametrize("name,message", [
    ("zero.png", "the header claims 0x0 pixels, which is not a valid size"),
    ("cut.png", "the file is cut short"),
    ("text.png", "not a PNG, JPEG, WebP, BMP or GIF image"),
])
def test_broken_headers_say_why(tmp_path, name, message):
    path = tmp_path / name
    path.write_bytes(FILES[name])
    with pytest.raises(ImageError, match=message):
        image_size(path)


@pytest.mark.parametrize("data", [b"\xff\xd8", b"\xff\xd8\xff\xe0\x00", b"BM" + b"\x00" * 14,
                                  b"RIFF\x00\x00\x00\x00WEBPVP8 ",
                                  b"\xff\xd8" + b"\xff\xe0\x00\x01" * 10])
def test_truncated_files_are_errors_not_crashes(tmp_path, data):
    path = tmp_path / "short"
    path.write_bytes(data)
    with pytest.raises(ImageError):
        image_size(path)


def test_a_missing_file_is_an_image_error(tmp_path):
    with pytest.raises(ImageError, match="gone.png: cannot read the file"):
        image_size(tmp_path / "gone.png")
