"""Opening the screen: SDL's video, one window, and what draws into it.

The GPU path (textures.py) is tried first; the window's own surface (surfaces.py)
only when SDL cannot create a renderer, said once per process. Under X the
renderer is SDL's software one unless SDL_RENDER_DRIVER says otherwise: there is
no GPU under Xvfb, and without a GL context nothing has to be torn down on an X
server that died (xloss.py). On kmsdrm SDL picks opengles2 on a Pi.
"""

from __future__ import annotations

import ctypes
import logging
import os
import time
from dataclasses import dataclass

import pygame
from pygame._sdl2 import video as sdl2

from signage.config import DisplayConfig
from signage.display.layout import logical_size
from signage.display.surfaces import SurfaceBackend
from signage.display.textures import TextureBackend

logger = logging.getLogger(__name__)

_WINDOWPOS_UNDEFINED_DISPLAY = 0x1FFF0000  # SDL_WINDOWPOS_UNDEFINED_DISPLAY(n) is this | n
_SYSWM_X11 = 2
_fallback_logged = [False]


@dataclass
class Screen:
    window: sdl2.Window | None
    backend: TextureBackend | SurfaceBackend
    size: tuple[int, int]  # the panel's pixels
    logical: tuple[int, int]  # the layout creatives are drawn in (turned for portrait panels)
    driver: str  # SDL's video driver (x11, kmsdrm, dummy...)

    def close(self) -> None:
        """Drop the renderer and the window (after every picture made for them is gone)."""
        self.backend.close()
        window, self.window = self.window, None
        if window is not None:
            window.destroy()


def init_video(attempts: int = 3) -> None:
    """SDL's x11 driver occasionally fails to connect right after a previous shutdown
    ("x11 not available"); a moment later it works."""
    # SDL may present through OpenGL; Mesa would then cache compiled shaders under
    # ~/.cache. The kiosk writes nothing it does not need to.
    os.environ.setdefault("MESA_SHADER_CACHE_DISABLE", "true")
    for attempt in range(attempts):
        try:
            pygame.display.init()
            return
        except pygame.error:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


def open_screen(config: DisplayConfig) -> Screen:
    """A window as the config asks (full-screen at native resolution, or windowed) and
    the backend that draws into it. pygame.error when there is no display."""
    driver = pygame.display.get_driver()
    if driver == "x11":
        os.environ.setdefault("SDL_RENDER_DRIVER", "software")
        os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")  # the fallback: plain XShm, no GL context
    window = _window(config)
    size = tuple(window.size)
    logical = logical_size(size, config.rotation)
    backend: TextureBackend | SurfaceBackend
    try:
        backend = TextureBackend(window, config.rotation, logical)
    except pygame.error as exc:
        if not _fallback_logged[0]:
            _fallback_logged[0] = True
            logger.warning("SDL cannot create a renderer for the window (%s, SDL_RENDER_DRIVER=%s); drawing on the "
                           "window surface with the CPU instead", exc, os.environ.get("SDL_RENDER_DRIVER", "auto"))
        backend = SurfaceBackend(window, config.rotation, logical)
    return Screen(window, backend, size, logical, driver)


def _window(config: DisplayConfig):
    flags = {"fullscreen": True} if config.fullscreen and config.size else \
        {"fullscreen_desktop": True} if config.fullscreen else {}
    size = config.size or (_desktop_size(config.display) if config.fullscreen else (1280, 720))
    position = (_WINDOWPOS_UNDEFINED_DISPLAY | config.display,) * 2
    try:
        return sdl2.Window("signage", size=size, position=position, **flags)
    except pygame.error:
        return sdl2.Window("signage", size=size, **flags)  # drivers without multi-display


def _desktop_size(display: int) -> tuple[int, int]:
    sizes = pygame.display.get_desktop_sizes()
    return sizes[display] if display < len(sizes) else sizes[0]


def x11_handles(window) -> tuple[int, int]:
    """(Xlib Display*, X window) behind an SDL window, for the X loss guard; (0, 0)
    when SDL cannot say."""
    from signage.display.probe import sdl_library

    try:
        sdl = sdl_library()
        sdl.SDL_GetWindowFromID.restype = ctypes.c_void_p
        sdl.SDL_GetWindowFromID.argtypes = [ctypes.c_uint32]
        sdl.SDL_GetWindowWMInfo.argtypes = [ctypes.c_void_p, ctypes.POINTER(_SysWMInfo)]
        sdl.SDL_GetWindowWMInfo.restype = ctypes.c_int
        info = _SysWMInfo()
        info.major, info.minor, info.patch = pygame.get_sdl_version()
        if not sdl.SDL_GetWindowWMInfo(sdl.SDL_GetWindowFromID(window.id), ctypes.byref(info)):
            return 0, 0
        if info.subsystem != _SYSWM_X11:
            return 0, 0
        return info.display or 0, info.window
    except (OSError, AttributeError):
        return 0, 0


class _SysWMInfo(ctypes.Structure):  # SDL_SysWMinfo with the x11 member of its union
    _fields_ = [("major", ctypes.c_uint8), ("minor", ctypes.c_uint8), ("patch", ctypes.c_uint8),
                ("subsystem", ctypes.c_int), ("display", ctypes.c_void_p), ("window", ctypes.c_ulong),
                ("padding", ctypes.c_uint8 * 64)]
