"""glibc's heap and the display's big buffers.

A picture the size of the screen, a texture in a software GL driver and a video frame
are megabytes each, made and freed at every creative. glibc maps a buffer that large
on its own only until the first one is freed: then it raises its threshold to that
size (up to 32 MB) and later ones come from the heaps, where they leave holes that
smaller allocations pin, one arena per thread that allocated at once. Over hours the
heaps only grow. A fixed threshold (M_MMAP_THRESHOLD) keeps it where it is: a buffer of
a quarter megabyte or more that the heap has no free room for is mapped on its own, not
carved from a growing heap, so freeing it gives it back at once.

What a display loss frees (the window, its GL context and every texture at once) is
given back too, with malloc_trim. Both are glibc's; elsewhere they do nothing.
"""

from __future__ import annotations

import ctypes

M_MMAP_THRESHOLD = -3  # mallopt's parameter number (malloc.h)
MAPPED_FROM = 256 * 1024  # bytes: a 640x360 video frame is 0.9 MB, a 1080p picture 8 MB


def map_large_buffers() -> bool:
    """Buffers of MAPPED_FROM bytes or more that the heap has no room for are mapped on
    their own, for the whole process (the heap never grows for them); whether glibc
    took it."""
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes, mallopt.restype = [ctypes.c_int, ctypes.c_int], ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MAPPED_FROM))


def give_back() -> bool:
    """malloc_trim(0): every free page of every arena given back; whether any was."""
    try:
        trim = ctypes.CDLL(None).malloc_trim
    except (OSError, AttributeError):
        return False
    trim.argtypes, trim.restype = [ctypes.c_size_t], ctypes.c_int
    return bool(trim(0))
