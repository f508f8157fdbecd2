"""The arm64 lane (`make test-arm64`): the Raspberry Pi's userland (Debian Bookworm arm64,
python3.11, the lock's aarch64 wheels) under qemu-user, driven from the host.

Without a binfmt handler an arm64 process cannot start another one, so every arm64 process
is started here, one `tools/arm64/python` each (tests/arm64/pi.py); the tests compare what
they print with what the host's venv says. Not part of `make test` (pyproject's addopts
ignore this folder)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.arm64.pi import TOOLS, Pi


def built(*command: str) -> Path:
    """The folder a tools/arm64 builder prints (cached: instant once built)."""
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        pytest.fail(f"{command[0]} failed:\n{result.stderr[-3000:]}")
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def pi() -> Pi:
    folder = built(str(TOOLS / "root"))
    return Pi(folder, built(str(TOOLS / "venv"), str(folder)))
