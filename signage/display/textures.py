"""The GPU path: SDL's 2D renderer (`pygame._sdl2.video`), pictures as textures.

Images and cards are uploaded once; a frame is then a handful of texture copies
that the GPU (on a Pi: kmsdrm + opengles2) or SDL's software renderer (under X)
does, never a pixel loop in Python. Rotation and scaling happen in the copy. Opaque
pictures are XRGB textures (the screen's own format); only the notice has per-pixel
alpha. Video frames are streamed into one texture per video straight from the
surface the decoder converted them into (video.py): no copy in between.
"""

from __future__ import annotations

import ctypes
import logging

import numpy as np
import pygame
from pygame._sdl2 import video as sdl2

from signage.display.gl import gl_calls
from signage.display.layout import Rect, rotate_rect, turned

logger = logging.getLogger(__name__)

BLEND_NONE, BLEND_ALPHA = 0, 1  # SDL_BLENDMODE_NONE, SDL_BLENDMODE_BLEND


class TexturePicture:
    """A picture uploaded once. `size` is its own (logical, unturned) size."""

    __slots__ = ("texture", "size", "alpha")

    def __init__(self, texture, size: tuple[int, int], alpha: bool):
        self.texture, self.size, self.alpha = texture, size, alpha


class TextureStream:
    """One texture per video, made at the size of its first frame and updated with
    every frame from the decoder's own surface (SDL_UpdateTexture: the one copy, into
    the texture). It is an XRGB texture, not SDL's "streaming" kind: streaming only
    adds a lockable CPU copy we never use, and pygame-ce makes streaming textures
    only with an alpha channel, which SDL's software renderer copies more slowly than
    an opaque one (docs/performance.md has the figures)."""

    def __init__(self, renderer):
        self._renderer = renderer
        self.picture: TexturePicture | None = None

    def update(self, frame) -> None:
        """Show a decoded frame (video.VideoFrame)."""
        size = frame.surface.get_size()
        if self.picture is None or self.picture.size != size:
            texture = sdl2.Texture.from_surface(self._renderer, frame.surface)
            texture.blend_mode = BLEND_NONE
            self.picture = TexturePicture(texture, size, False)
        else:
            self.picture.texture.update(frame.surface)


class TextureBackend:
    """Draws pictures with SDL's renderer onto the window, turned by `rotation`."""

    kind = "textures"

    def __init__(self, window, rotation: int, logical: tuple[int, int]):
        self.window, self.rotation, self.logical = window, rotation, logical
        # raises pygame.error where no render driver works; None once closed
        self.renderer: sdl2.Renderer | None = sdl2.Renderer(window)
        self.driver = render_driver(window)
        self._gl = gl_calls(self.driver)  # None on SDL's software renderer
        self.gl = self._gl.describe() if self._gl is not None else None  # the GL renderer, for the log and benches
        # Opaque pictures as XRGB textures: SDL's software renderer fades those much faster
        # than textures with an alpha channel (one alpha for the picture, none per pixel).
        self._opaque = pygame.Surface((1, 1), 0, 32)

    def _renderer(self) -> sdl2.Renderer:
        if self.renderer is None:
            raise RuntimeError("the texture backend is closed")
        return self.renderer

    # ----- pictures -----------------------------------------------------------------

    def upload(self, pixels: np.ndarray) -> TexturePicture:
        """A (h, w, 4) BGRA image, opaque."""
        height, width = pixels.shape[:2]
        # ignored below: the stubs give ndarray its buffer protocol (__buffer__) from Python 3.12 only
        surface = pygame.image.frombuffer(pixels, (width, height), "BGRA")  # type: ignore[arg-type]
        return self.upload_surface(surface.convert(self._opaque))

    def upload_surface(self, surface, alpha: bool = False) -> TexturePicture:
        if not alpha and surface.get_flags() & pygame.SRCALPHA:
            surface = surface.convert(self._opaque)
        texture = sdl2.Texture.from_surface(self._renderer(), surface)
        texture.blend_mode = BLEND_ALPHA if alpha else BLEND_NONE
        return TexturePicture(texture, surface.get_size(), alpha)

    def stream(self) -> TextureStream:
        return TextureStream(self._renderer())

    # ----- a frame ------------------------------------------------------------------

    def clear(self, colour=(0, 0, 0)) -> None:
        renderer = self._renderer()
        renderer.draw_color = (*colour, 255)
        renderer.clear()

    def draw(self, picture: TexturePicture, rect: Rect, opacity: float = 1.0, source: Rect | None = None) -> None:
        """`picture` (or its `source` part) into the logical `rect`, at `opacity`."""
        texture = picture.texture
        if opacity < 1.0:
            texture.blend_mode = BLEND_ALPHA
            texture.alpha = max(0, min(255, round(255 * opacity)))
        else:
            texture.blend_mode = BLEND_ALPHA if picture.alpha else BLEND_NONE
            texture.alpha = 255
        texture.draw(srcrect=source, dstrect=turned(rect, self.logical, self.rotation), angle=self.rotation)

    def present(self) -> None:
        self._renderer().present()
        if self._gl is not None:  # a swap that submits nothing (an EGL pbuffer) must not queue frames for ever
            self._gl.flush()

    def read_pixels(self):
        """What was presented last, as (h, w, 3) RGB (tests, preview, screenshots)."""
        surface = self._renderer().to_surface()
        return pygame.surfarray.array3d(surface).swapaxes(0, 1)

    def screen_rect(self, rect: Rect) -> Rect:
        return rotate_rect(rect, self.logical, self.rotation)

    def close(self) -> None:
        """Every picture made here must be gone first (the renderer frees its textures)."""
        self.renderer = None
        self.window = None
        self._gl = None  # its functions go with the GL library SDL unloads


def render_driver(window) -> str:
    """The name of the SDL render driver behind a window (opengles2, opengl, software...)."""
    from signage.display.probe import sdl_library

    try:
        sdl = sdl_library()
        sdl.SDL_GetWindowFromID.restype = ctypes.c_void_p
        sdl.SDL_GetWindowFromID.argtypes = [ctypes.c_uint32]
        sdl.SDL_GetRenderer.restype = ctypes.c_void_p
        sdl.SDL_GetRenderer.argtypes = [ctypes.c_void_p]
        sdl.SDL_GetRendererInfo.argtypes = [ctypes.c_void_p, ctypes.POINTER(_RendererInfo)]
        info = _RendererInfo()
        if sdl.SDL_GetRendererInfo(sdl.SDL_GetRenderer(sdl.SDL_GetWindowFromID(window.id)), ctypes.byref(info)):
            return "unknown"
        return info.name.decode()
    except (OSError, AttributeError, ValueError):
        return "unknown"


class _RendererInfo(ctypes.Structure):  # SDL_RendererInfo
    _fields_ = [("name", ctypes.c_char_p), ("flags", ctypes.c_uint32), ("num_texture_formats", ctypes.c_uint32),
                ("texture_formats", ctypes.c_uint32 * 16), ("max_texture_width", ctypes.c_int),
                ("max_texture_height", ctypes.c_int)]
