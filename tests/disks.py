"""Real filesystems of their own for the tests that fill or forbid a disk."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest


def tmpfs(mount: Path, options: str):
    """A tmpfs of its own mounted at `mount` (as root) for the length of a fixture."""
    mount.mkdir()
    result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(mount)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"cannot mount a tmpfs ({options}) at {mount} (run as root): {result.stderr}")
    yield mount
    subprocess.run(["umount", "-l", str(mount)], check=False)


def fill(disk: Path) -> Path:
    """Something else fills the disk to the last byte."""
    filler = disk / "filler"
    descriptor = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    try:
        for size in (65536, 4096, 512, 1):
            try:
                while True:
                    os.write(descriptor, b"\0" * size)
            except OSError:
                pass
    finally:
        os.close(descriptor)
    return filler
