"""Which build this is: the version and the lock (uv.lock) the environment was installed from.

`make setup` records the lock's sha256 inside the venv after installing it, so the figure
names what is installed, not what a checkout pulled since. Status carries both, and the
fleet page shows them per screen: mixed builds in a fleet are seen at a glance.

    python -m signage.build record uv.lock
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

from signage import __version__

RECORD = "signage-lock.sha256"
SHORT = 12  # hex digits shown: enough to tell locks apart, short enough to read


def record_path() -> Path:
    return Path(sys.prefix) / RECORD


def record(lock: Path) -> str:
    """Write the sha256 of `lock` into the environment (atomically); returns it."""
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    target = record_path()
    temporary = target.with_name(f".{target.name}.tmp")
    temporary.write_text(digest + "\n", encoding="ascii")
    os.replace(temporary, target)
    return digest


def lock_hash() -> str | None:
    """The short hash of the lock this environment was installed from, or None when it was
    not installed by `make` (a plain `pip install`)."""
    try:
        digest = record_path().read_text(encoding="ascii").strip()
    except OSError:
        return None
    return digest[:SHORT] if len(digest) == 64 and all(c in "0123456789abcdef" for c in digest) else None


def describe() -> str:
    """`0.1.0 (lock 3f2a9c1b0d4e)`, or `0.1.0 (lock unknown)`."""
    return f"{__version__} (lock {lock_hash() or 'unknown'})"


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "record":
        sys.exit("usage: python -m signage.build record uv.lock")
    record(Path(sys.argv[2]))
