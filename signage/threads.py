"""Name the OS thread after the Python thread (Python < 3.14 does not), so `top -H`,
/proc and `signage bench soak` can tell capture from analysis from telemetry."""

from __future__ import annotations

import ctypes
import ctypes.util
import threading

_PR_SET_NAME = 15
_libc = None


def name_os_thread(name: str | None = None) -> None:
    global _libc
    try:
        if _libc is None:
            _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
        _libc.prctl(_PR_SET_NAME, (name or threading.current_thread().name)[:15].encode(), 0, 0, 0)
    except (OSError, AttributeError):
        pass  # not Linux: names are a convenience only
