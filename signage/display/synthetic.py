"""The creatives `signage bench display` draws, made at bench time and never committed:
a noisy gradient JPEG, and an H.264 video encoded by FFmpeg's libx264 (Debian's
`ffmpeg`) from FFmpeg's moving test picture.

It ships because the bench ships (`signage bench display` runs on a kiosk), and it
lives in display/ because only vision/ and display/ may write pixels (the privacy
rule's test in tests/unit/test_architecture.py). Test-only media: tests/support/."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

from signage.errors import SignageError


def ffmpeg_binary() -> str:
    """The `ffmpeg` to encode H.264 with; a clear error if there is none."""
    ffmpeg = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
    if not Path(ffmpeg).exists():
        raise SignageError("ffmpeg is not installed: apt-get install ffmpeg (it encodes the H.264 test video)")
    return ffmpeg


def encode_h264(path: Path, seconds: float, size: tuple[int, int] = (1920, 1080), fps: int = 30) -> Path:
    """An H.264 (libx264, yuv420p) MP4 of FFmpeg's own moving test picture. Nothing is
    kept beyond `path`."""
    command = [ffmpeg_binary(), "-loglevel", "error", "-y", "-f", "lavfi", "-i",
               f"testsrc2=size={size[0]}x{size[1]}:rate={fps}", "-t", f"{seconds:.2f}", *h264_output(path)]
    subprocess.run(command, check=True, capture_output=True, timeout=600)
    return path


def h264_output(path: Path) -> list[str]:
    """FFmpeg's output arguments for an H.264 MP4 every player and decoder here reads."""
    return ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]


def gradient_jpeg(path: Path, size: tuple[int, int], seed: int) -> Path:
    """A photo-like JPEG (a tinted gradient with noise: nothing compresses it away)."""
    rng = np.random.default_rng(seed)
    w, h = size
    gradient = np.linspace(0, 255, w, dtype=np.float32)[np.newaxis, :, np.newaxis]
    image = (gradient * rng.uniform(0.3, 1, 3) + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return path
