"""Reading back what the renderer presented: for `signage preview`'s screenshot, the
display bench and tests. The kiosk itself never reads the screen back."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from signage.display.renderer import Renderer


def pixels(renderer: Renderer) -> np.ndarray:
    """What was presented last, as an (h, w, 3) RGB array, read back through SDL's renderer."""
    if renderer.screen is None:
        raise RuntimeError("the renderer has no window (not opened, or the display was lost): nothing to read back")
    return renderer.screen.backend.read_pixels()


def screenshot_png(renderer: Renderer) -> bytes:
    """What was presented last, as PNG bytes: encoded in memory, so that the caller
    writes the file and hears of a full disk (SDL's own writer leaves an empty file)."""
    import pygame  # only here: importing this module must not load SDL

    surface = pygame.surfarray.make_surface(pixels(renderer).swapaxes(0, 1))
    encoded = io.BytesIO()
    pygame.image.save(surface, encoded, "screenshot.png")
    return encoded.getvalue()


def has_video_frame(renderer: Renderer) -> bool:
    """Whether the video on screen has put its first frame into its texture."""
    current = renderer.current
    return current is not None and current.stream is not None and current.stream.picture is not None
