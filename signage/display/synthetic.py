"""Synthetic creatives for benches and tests, made when needed and never committed:
a noisy gradient JPEG, and an H.264 video encoded by FFmpeg's libx264 (Debian's
`ffmpeg`) from FFmpeg's moving test picture or from given frames."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import cv2
import numpy as np

SIZE = (1920, 1080)


class FfmpegMissing(RuntimeError):
    """No `ffmpeg` to encode the H.264 video with."""


def encode_h264(path: Path, seconds: float, size: tuple[int, int] = SIZE, fps: int = 30,
                frames: list[np.ndarray] | None = None) -> Path:
    """An H.264 (libx264, yuv420p) MP4 made with FFmpeg: FFmpeg's own moving test
    picture, or the given BGR frames (nearly lossless: -qp 4, so flat colours come
    back within a few levels). Nothing is kept beyond `path`."""
    ffmpeg = shutil.which("ffmpeg") or "/usr/bin/ffmpeg"
    if not Path(ffmpeg).exists():
        raise FfmpegMissing("ffmpeg is not installed: apt-get install ffmpeg (it encodes the H.264 test video)")
    out = ["-c:v", "libx264", "-preset", "veryfast", "-pix_fmt", "yuv420p", "-movflags", "+faststart", str(path)]
    if frames is None:
        command = [ffmpeg, "-loglevel", "error", "-y", "-f", "lavfi", "-i",
                   f"testsrc2=size={size[0]}x{size[1]}:rate={fps}", "-t", f"{seconds:.2f}", *out]
        subprocess.run(command, check=True, capture_output=True, timeout=600)
        return path
    height, width = frames[0].shape[:2]
    command = [ffmpeg, "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24", "-s", f"{width}x{height}",
               "-r", str(fps), "-i", "-", "-qp", "4", *out]
    subprocess.run(command, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames), check=True,
                   capture_output=True, timeout=600)
    return path


def gradient_jpeg(path: Path, size: tuple[int, int], seed: int) -> Path:
    """A photo-like JPEG (a tinted gradient with noise: nothing compresses it away)."""
    rng = np.random.default_rng(seed)
    w, h = size
    gradient = np.linspace(0, 255, w, dtype=np.float32)[np.newaxis, :, np.newaxis]
    image = (gradient * rng.uniform(0.3, 1, 3) + rng.normal(0, 12, (h, w, 3))).clip(0, 255).astype(np.uint8)
    cv2.imwrite(str(path), image, [cv2.IMWRITE_JPEG_QUALITY, 85])
    return path
