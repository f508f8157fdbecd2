"""Real filesystems of their own for the tests that fill or forbid a disk."""

from __future__ import annotations

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
