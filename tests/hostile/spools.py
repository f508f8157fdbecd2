"""A gallery of damaged spool files, made from a real spool (small, so generated, not
committed): `python -m tests.hostile.spools DIR` writes them all to DIR for a look.

Each kind is what a kiosk meets in the field: a power cut during a copy (truncated),
an SD card that returns garbage (header, a page in the middle), someone's text file
or an empty file or a directory where the spool should be. `make(kind, path)` returns
the message ids written before the damage, in order: recovery must deliver every one
of them that the damage left readable, in that order, and nothing else.
"""

from __future__ import annotations

import json
import os
import random
import sys
from pathlib import Path

from signage.telemetry.spool import Spool

KINDS = ("truncated", "garbage_header", "text_file", "garbage_middle", "zero_length", "directory")
MESSAGES = 3000
PAGE = 4096
ROOT = "signage/lab/kiosk-1"


def message(i: int) -> dict:
    return {"schema": 1, "id": f"msg-{i:05d}", "site": "lab", "device": "kiosk-1", "passers": i,
            "pad": "x" * 200}


def good_spool(path: Path, count: int = MESSAGES) -> list[str]:
    spool = Spool(path)
    spool.put_many([(f"{ROOT}/metrics", json.dumps(message(i)).encode(), 1, False) for i in range(count)])
    spool.close()  # the last connection checkpoints the WAL into the file
    return [message(i)["id"] for i in range(count)]


def make(kind: str, path: Path, seed: int = 9) -> list[str]:
    """Write a damaged spool of `kind` at `path`; the ids it held before the damage."""
    rng = random.Random(seed)
    if kind == "directory":
        path.mkdir()
        return []
    if kind == "zero_length":
        path.write_bytes(b"")
        return []
    if kind == "text_file":
        path.write_text("spool: this is not a database\n" * 200)
        return []
    ids = good_spool(path)
    data = bytearray(path.read_bytes())
    if kind == "truncated":
        data = data[: (len(data) // PAGE // 2) * PAGE + 1234]  # half the pages and a torn one
    elif kind == "garbage_header":
        data[:100] = rng.randbytes(100)
    elif kind == "garbage_middle":
        start = (len(data) // PAGE // 2) * PAGE
        data[start:start + PAGE] = rng.randbytes(PAGE)
    else:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(KINDS)}")
    path.write_bytes(bytes(data))
    return ids


if __name__ == "__main__":
    folder = Path(sys.argv[1] if len(sys.argv) > 1 else "hostile-spools")
    folder.mkdir(parents=True, exist_ok=True)
    for kind in KINDS:
        make(kind, folder / f"{kind}.sqlite3")
        print(folder / f"{kind}.sqlite3")
    os.sync()
