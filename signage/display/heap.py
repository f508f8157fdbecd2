"""glibc's heap: freed memory handed back to the system.

glibc keeps what a program frees for its next allocations, in every arena (one per
thread that allocated at once, up to 8 per core), and returns it only from the top of
an arena. After a burst of frees (a display torn down with its GL context and every
texture) that memory stays in RSS, in holes later allocations of other sizes do not
fill. malloc_trim(0) gives every free page back, from all arenas."""

from __future__ import annotations

import ctypes


def give_back() -> bool:
    """malloc_trim(0) where the C library has it (glibc): whether memory was given back."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
