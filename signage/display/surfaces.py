"""The fallback path: the window's own surface, pictures blitted by the CPU.

Used only when SDL cannot create a renderer for the window (no render driver
works: a broken GL stack, a driver SDL_RENDER_DRIVER names that is not there). It
draws the same pictures as the GPU path, so the screen still shows everything;
it costs CPU: pictures are turned once when uploaded, video frames on every frame.
"""

from __future__ import annotations

import numpy as np
import pygame

from signage.display.layout import Rect, rotate_rect


class SurfacePicture:
    __slots__ = ("surface", "size", "alpha")

    def __init__(self, surface, size: tuple[int, int], alpha: bool):
        self.surface, self.size, self.alpha = surface, size, alpha  # surface: already turned onto the screen


class SurfaceStream:
    def __init__(self, backend: SurfaceBackend):
        self._backend = backend
        self.picture: SurfacePicture | None = None

    def update(self, frame) -> None:
        """A decoded frame (video.VideoFrame), wrapped (its canvas stays locked for the decoder)."""
        height, width = frame.pixels.shape[:2]
        surface = pygame.image.frombuffer(frame.pixels, (width, height), "BGRA")
        self.picture = SurfacePicture(surface, (width, height), False)  # turned and scaled when drawn


class SurfaceBackend:
    kind = "surface"
    driver = "window surface"
    gl = None

    def __init__(self, window, rotation: int, logical: tuple[int, int]):
        self.window, self.rotation, self.logical = window, rotation, logical
        self.surface = window.get_surface()

    def _turned(self, surface):
        return pygame.transform.rotate(surface, -self.rotation) if self.rotation else surface

    def upload(self, pixels: np.ndarray) -> SurfacePicture:
        height, width = pixels.shape[:2]
        # ignored below: the stubs give ndarray its buffer protocol (__buffer__) from Python 3.12 only
        surface = pygame.image.frombuffer(pixels, (width, height), "BGRA").convert(  # type: ignore[arg-type]
            self.surface)
        return SurfacePicture(self._turned(surface), (width, height), False)

    def upload_surface(self, surface, alpha: bool = False) -> SurfacePicture:
        turned = self._turned(surface)
        turned = turned if alpha else turned.convert(self.surface)  # per-pixel alpha kept as drawn
        return SurfacePicture(turned, surface.get_size(), alpha)

    def stream(self) -> SurfaceStream:
        return SurfaceStream(self)

    def clear(self, colour=(0, 0, 0)) -> None:
        self.surface.fill(colour)

    def draw(self, picture: SurfacePicture, rect: Rect, opacity: float = 1.0, source: Rect | None = None) -> None:
        surface = picture.surface
        x, y, w, h = rotate_rect(rect, self.logical, self.rotation)
        if source is not None or surface.get_size() != (w, h):  # a video frame: cut, turn and scale it now
            part = surface.subsurface(source) if source is not None else surface
            surface = pygame.transform.scale(self._turned(part), (w, h))
        if opacity < 1.0:
            surface.set_alpha(max(0, min(255, round(255 * opacity))))
        self.surface.blit(surface, (x, y))
        if opacity < 1.0:
            surface.set_alpha(None)

    def present(self) -> None:
        self.window.flip()

    def read_pixels(self):
        return pygame.surfarray.array3d(self.surface).swapaxes(0, 1)

    def screen_rect(self, rect: Rect) -> Rect:
        return rotate_rect(rect, self.logical, self.rotation)

    def close(self) -> None:
        self.surface = None
        self.window = None
