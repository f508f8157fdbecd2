"""Test videos made from given frames, so a test can tell which frame is on screen."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from signage.display.synthetic import ffmpeg_binary, h264_output


def encode_frames(path: Path, frames: list[np.ndarray], fps: int) -> Path:
    """An H.264 MP4 of the given BGR frames, nearly lossless (-qp 4: flat colours come
    back within a few levels)."""
    height, width = frames[0].shape[:2]
    command = [ffmpeg_binary(), "-loglevel", "error", "-y", "-f", "rawvideo", "-pix_fmt", "bgr24",
               "-s", f"{width}x{height}", "-r", str(fps), "-i", "-", "-qp", "4", *h264_output(path)]
    subprocess.run(command, input=b"".join(np.ascontiguousarray(f).tobytes() for f in frames), check=True,
                   capture_output=True, timeout=600)
    return path
