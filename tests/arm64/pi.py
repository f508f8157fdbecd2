"""The Raspberry Pi's userland under qemu-user (tools/arm64), as the arm64 tests use it: each
arm64 process is started here, on the host, and its output compared with x86's."""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

from signage.modelfiles import PROJECT_ROOT

TOOLS = PROJECT_ROOT / "tools" / "arm64"
PI4, PI5 = "cortex-a72", "cortex-a76"  # the cores of a Raspberry Pi 4 and 5, as qemu names them


@dataclasses.dataclass(frozen=True)
class Pi:
    """The arm64 root (tools/arm64/root) and its venv (tools/arm64/venv), on one CPU model."""

    folder: Path
    venv: Path
    cpu: str = PI4

    def on(self, cpu: str) -> Pi:
        return dataclasses.replace(self, cpu=cpu)

    def command(self, *args: str) -> list[str]:
        """The venv's python3.11 with `args`, under qemu, in a Pi's layout."""
        return [str(TOOLS / "python"), str(self.folder), str(self.venv / "bin" / "python"), *args]

    def env(self, **extra: str) -> dict[str, str]:
        return {**os.environ, "ARM64_CPU": self.cpu, "PYTHONUNBUFFERED": "1", **extra}

    def run(self, *args: str, timeout: float = 600, **env: str) -> subprocess.CompletedProcess:
        return subprocess.run(self.command(*args), env=self.env(**env), cwd=PROJECT_ROOT, capture_output=True,
                              text=True, timeout=timeout)

    def json(self, *args: str, **env: str):
        """What an arm64 helper (tests/arm64/guest.py) prints as JSON."""
        result = self.run("-m", "tests.arm64.guest", *args, **env)
        assert result.returncode == 0, result.stderr[-3000:]
        return json.loads(result.stdout.splitlines()[-1])  # modules may print before it

    def start(self, *args: str, log: Path, **env: str) -> subprocess.Popen:
        """A long-running arm64 process (its pid is qemu's: a signal to it reaches the guest)."""
        with open(log, "wb") as output:
            return subprocess.Popen(self.command(*args), env=self.env(**env), cwd=PROJECT_ROOT,
                                    stdout=output, stderr=subprocess.STDOUT)


def on_x86(*args: str) -> subprocess.CompletedProcess:
    """The same Python command on the host's venv (x86), to compare with `Pi.run`."""
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=PROJECT_ROOT)
