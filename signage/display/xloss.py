"""Surviving the loss of the X server.

By default Xlib answers a broken connection by printing `XIO: fatal IO error` and
calling exit(1): the kiosk dies with the X server. libX11 >= 1.7 lets a program
replace that exit with `XSetIOErrorExitHandler` (one per connection); when it
returns, Xlib marks the connection dead and every later call on it returns at once.
SDL's x11 driver holds two connections (its main one and `request_display`, used to
wake its event loop), both of which must be guarded, and closing the window waits
for an UnmapNotify that a dead server never sends: we queue one ourselves before
SDL tears the window down. Then SDL can be shut down and started again on a new
server.

Only the renderer calls this; it passes the Xlib `Display*` and window that SDL
reports (`pygame.display.get_wm_info()`).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import struct

logger = logging.getLogger(__name__)

_EXIT_HANDLER = ctypes.CFUNCTYPE(None, ctypes.c_void_p, ctypes.c_void_p)
_IO_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p)
_UNMAP_NOTIFY = 18  # X.h
_X_PROTOCOL = 11
_WINDOW = 4 << 20  # bytes of heap read at a time


_lost = [False]  # set from Xlib's callbacks: one process, one X connection set at a time


def _io_error(display) -> int:
    _lost[0] = True
    return 0


def _exit_instead(display, data) -> None:
    _lost[0] = True


# Module-level: Xlib keeps these pointers for the life of the process (global handler).
_ON_IO = _IO_HANDLER(_io_error)
_ON_EXIT = _EXIT_HANDLER(_exit_instead)


class XLossGuard:
    """Keeps Xlib from exiting the process; `lost` says the server went away."""

    def __init__(self):
        self._libx11 = None
        self._display = 0
        self._window = 0

    @property
    def lost(self) -> bool:
        return _lost[0]

    def install(self, display: int, window: int) -> bool:
        """Guard every Xlib connection SDL made to this server. False (logged) when this
        libX11 cannot (older than 1.7): a lost server then still ends the process."""
        _lost[0], self._display, self._window = False, display, window
        try:
            libx11 = self._libx11 or ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
            set_exit = libx11.XSetIOErrorExitHandler
        except (OSError, AttributeError) as exc:
            logger.warning("libX11 has no XSetIOErrorExitHandler (needs >= 1.7: %s): losing the X server "
                           "will end the process and systemd will restart it", exc)
            return False
        self._libx11 = libx11
        set_exit.argtypes = [ctypes.c_void_p, _EXIT_HANDLER, ctypes.c_void_p]
        set_exit.restype = None
        libx11.XSetIOErrorHandler.argtypes = [_IO_HANDLER]
        libx11.XSetIOErrorHandler.restype = ctypes.c_void_p
        libx11.XPutBackEvent.argtypes = [ctypes.c_void_p, ctypes.c_void_p]
        libx11.XPutBackEvent.restype = ctypes.c_int
        libx11.XSetIOErrorHandler(_ON_IO)  # SDL's own handler exits too
        connections = [display, *_sibling_connections(display)]
        for connection in connections:
            set_exit(connection, _ON_EXIT, None)
        logger.debug("X loss guard on %d connection(s)", len(connections))
        return True

    def release_window(self) -> None:
        """Before SDL destroys the window of a dead connection: queue the UnmapNotify it
        will wait for (it would otherwise spin forever in XIfEvent)."""
        if not (self._libx11 and self._display and self._window):
            return
        event = (ctypes.c_long * 24)()  # XEvent is a union padded to 24 longs
        # XUnmapEvent: int type; unsigned long serial; Bool send_event; Display *display;
        # Window event; Window window: on LP64 and ILP32 alike, window is the 6th long
        event[0], event[5] = _UNMAP_NOTIFY, self._window
        for _ in range(2):
            self._libx11.XPutBackEvent(self._display, event)
        self._display = self._window = 0


def _sibling_connections(display: int) -> list[int]:
    """Other Xlib connections whose pointer is stored right after `display` in the
    heap: SDL's `SDL_VideoData` keeps `{Display *display; Display *request_display;}`.
    A candidate counts only if it looks like an Xlib Display (protocol 11.0, an fd).
    The heap is read in windows, so a large heap costs no large copy."""
    found: list[int] = []
    word = ctypes.sizeof(ctypes.c_void_p)
    pattern = struct.pack("@P", display)
    try:
        with open("/proc/self/maps") as maps:
            regions = [line.split()[0] for line in maps if line.rstrip().endswith("[heap]")]
    except OSError:
        return found
    for region in regions:
        start, end = (int(v, 16) for v in region.split("-"))
        for window in range(start, end, _WINDOW):
            memory = ctypes.string_at(window, min(_WINDOW + 2 * word, end - window))  # overlap: a pair
            index = memory.find(pattern)
            while 0 <= index < _WINDOW:
                if index % word == 0 and index + 2 * word <= len(memory):
                    candidate = struct.unpack_from("@P", memory, index + word)[0]
                    if start <= candidate < end - 4 * word and candidate != display and candidate not in found:
                        # struct _XDisplay: ext_data, private1, fd, private2, proto_major, proto_minor
                        fd, _, major, minor = struct.unpack("@iiii", ctypes.string_at(candidate + 2 * word, 16))
                        if major == _X_PROTOCOL and minor == 0 and 0 <= fd < 1 << 20:
                            found.append(candidate)
                index = memory.find(pattern, index + 1)
    return found
