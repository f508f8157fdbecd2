"""`signage preview --screenshot` of a creative that cannot be shown: one clear line,
exit 2, no traceback, no file."""

from __future__ import annotations

import os
import subprocess
import struct
import sys
import zlib
from pathlib import Path

import pytest

from signage.modelfiles import PROJECT_ROOT


def claims_60000(path):
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 60000, 60000, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0")) + chunk(b"IEND", b""))


def preview(tmp_path, text: str, creative: str) -> tuple[subprocess.CompletedProcess, Path]:
    playlist = tmp_path / "p.yaml"
    playlist.write_text(text)
    out = tmp_path / "shot.png"
    result = subprocess.run([sys.executable, "-m", "signage.cli", "preview", str(playlist), "--creative", creative,
                             "--screenshot", str(out), "--size", "320x180"],
                            cwd=PROJECT_ROOT, env=dict(os.environ, PYTHONPATH=str(PROJECT_ROOT)),
                            capture_output=True, text=True, timeout=120)
    assert "Traceback" not in result.stderr + result.stdout
    return result, out


@pytest.mark.parametrize("line, expected", [
    ('{id: x, type: card, text: "hello\\0world"}', "p.yaml:2:31: creatives[0].text: character 6 is U+0000, a control"),
    ("{id: x, type: image, media: huge.png}", "p.yaml:2:33: creatives[0].media: 'huge.png' is 60000x60000 (3600 MP); "
     "at most 40 MP is accepted"),
    ("{id: x, type: image, media: text.png}", "p.yaml:2:33: creatives[0].media: 'text.png' cannot be shown: not a"),
], ids=["nul", "huge", "text"])
def test_preview_refuses_a_playlist_that_check_refuses(xvfb, tmp_path, line, expected):
    claims_60000(tmp_path / "huge.png")
    (tmp_path / "text.png").write_text("not an image")
    result, out = preview(tmp_path, f"creatives:\n  - {line}\ndefault: [x]\n", "x")
    assert result.returncode == 2 and expected in result.stderr, result.stderr
    assert not out.exists()


def test_preview_of_a_creative_that_fails_only_when_shown_says_why(xvfb, tmp_path):
    import cv2
    import numpy as np

    ok, encoded = cv2.imencode(".jpg", np.full((400, 600, 3), 90, np.uint8))
    (tmp_path / "cut.jpg").write_bytes(encoded.tobytes()[:300])  # a header, then nothing: only decoding tells
    result, out = preview(tmp_path, "creatives:\n  - {id: cut, type: image, media: cut.jpg}\ndefault: [cut]\n", "cut")
    assert result.returncode == 2, result.stderr
    assert "creative cut cannot be shown: cut.jpg cannot be decoded" in result.stderr, result.stderr
    assert not out.exists()
