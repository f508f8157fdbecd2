"""`signage preview --screenshot` of a creative that cannot be shown: one clear line,
exit 2, no traceback, no file."""

from __future__ import annotations

import os
import subprocess
import sys
import zlib
import struct

import pytest

from signage.models import PROJECT_ROOT


def claims_60000(path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


@pytest.mark.parametrize("creative, expected", [
    ("nul", "null character"),
    ("huge", "the limit is display.max_image_pixels"),
    ("text", "not a PNG, JPEG, WebP, GIF or BMP image"),
])
def test_preview_of_a_hostile_creative_says_why(xvfb, tmp_path, creative, expected):
    claims_60000(tmp_path / "huge.png")
    (tmp_path / "text.png").write_text("not an image")
    playlist = tmp_path / "p.yaml"
    playlist.write_text('creatives:\n'
                        '  - {id: nul, type: card, text: "hello\\0world"}\n'
                        '  - {id: huge, type: image, media: huge.png}\n'
                        '  - {id: text, type: image, media: text.png}\n'
                        'default: [nul, huge, text]\n')
    out = tmp_path / "shot.png"
    result = subprocess.run([sys.executable, "-m", "signage.cli", "preview", str(playlist), "--creative", creative,
                             "--screenshot", str(out), "--size", "320x180"],
                            cwd=PROJECT_ROOT, env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    assert f"creative {creative} cannot be shown: " in result.stderr and expected in result.stderr, result.stderr
    assert not out.exists()
