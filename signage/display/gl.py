"""The GL calls SDL's 2D renderer does not make for us: a flush after each present, and
the GL renderer's own name.

SDL presents with a buffer swap, and a swap is what hands the frame's drawing to the
GL driver. Where the window is an EGL pbuffer (SDL's `offscreen` video driver) a swap
does nothing, as EGL specifies for pbuffers: nothing ever submits the drawing, and
Mesa keeps every frame's commands queued, so memory grows with every present. A
`glFlush` after the present submits them; where the swap already did (kmsdrm, x11,
wayland) it has nothing left to do.

The functions are looked up through SDL for the renderer's own context, once per
renderer: SDL unloads the GL library when the display goes away, and a pointer kept
from before would then point nowhere.
"""

from __future__ import annotations

import ctypes

from signage.display.probe import sdl_library

GL_RENDER_DRIVERS = ("opengl", "opengles2", "opengles")
_GL_VENDOR, _GL_RENDERER, _GL_VERSION = 0x1F00, 0x1F01, 0x1F02
_FLUSH = ctypes.CFUNCTYPE(None)
_GET_STRING = ctypes.CFUNCTYPE(ctypes.c_char_p, ctypes.c_uint)


class GLCalls:
    """glFlush and glGetString of the GL context current on this (the render) thread."""

    def __init__(self, flush, get_string):
        self._flush, self._get_string = flush, get_string

    def flush(self) -> None:
        self._flush()

    def describe(self) -> str:
        """'<renderer>, <version>' as the driver names them, e.g. 'llvmpipe (LLVM 15.0.6,
        256 bits), 4.5 (Compatibility Profile) Mesa 22.3.6'."""
        parts = [self._get_string(name) for name in (_GL_RENDERER, _GL_VERSION)]
        return ", ".join(part.decode(errors="replace") for part in parts if part) or "unknown"


def gl_calls(render_driver: str) -> GLCalls | None:
    """The calls for the context SDL's renderer just made current; None when the render
    driver is not a GL one (software) or SDL cannot find the functions."""
    if render_driver not in GL_RENDER_DRIVERS:
        return None
    try:
        sdl = sdl_library()
        sdl.SDL_GL_GetProcAddress.restype = ctypes.c_void_p
        sdl.SDL_GL_GetProcAddress.argtypes = [ctypes.c_char_p]
        flush, get_string = (sdl.SDL_GL_GetProcAddress(name) for name in (b"glFlush", b"glGetString"))
    except (OSError, AttributeError):
        return None
    if not flush or not get_string:
        return None
    return GLCalls(_FLUSH(flush), _GET_STRING(get_string))
