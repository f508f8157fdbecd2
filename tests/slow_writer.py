"""A slow writer in its own process, writing a file the way scp on a slow link, a shell
redirection or a script writing in chunks does: parts with pauses between them.

    python -m tests.slow_writer FILE '[["open", "w"], ["write", "..."], ["pause", 1.5], ...]'

Steps: ["open", mode] (w truncates, r+ does not), ["write", text] (flushed to the
kernel at once: the watcher sees every part), ["truncate"], ["pause", seconds],
["rename", path] (closes the file, then renames it onto `path`). It prints "done" last.
"""

from __future__ import annotations

import json
import os
import sys
import time


def write(path: str, plan: list) -> None:
    handle = None
    for kind, *value in plan:
        if kind == "open":
            handle = open(path, value[0], encoding="utf-8")
        elif kind == "write":
            handle.write(value[0])
            handle.flush()
        elif kind == "truncate":
            handle.seek(0)
            handle.truncate()
            handle.flush()
        elif kind == "pause":
            time.sleep(value[0])
        elif kind == "rename":
            handle.close()
            os.replace(path, value[0])
        else:
            raise ValueError(f"unknown step {kind!r}")
    if handle is not None:
        handle.close()


if __name__ == "__main__":
    write(sys.argv[1], json.loads(sys.argv[2]))
    print("done", flush=True)
