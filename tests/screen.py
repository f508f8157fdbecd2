"""Read an X server's screen as another client sees it (python-xlib's GetImage),
in memory: nothing is written to disk."""

from __future__ import annotations

import numpy as np
from Xlib import X, display as xdisplay


def screenshot(name: str) -> np.ndarray:
    """The whole screen as an (h, w, 3) RGB array."""
    connection = xdisplay.Display(name)
    try:
        screen = connection.screen()
        width, height = screen.width_in_pixels, screen.height_in_pixels
        image = screen.root.get_image(0, 0, width, height, X.ZPixmap, 0xFFFFFFFF)
        formats = {f.depth: f.bits_per_pixel for f in connection.display.info.pixmap_formats}
        if formats.get(screen.root_depth) != 32 or screen.root_depth != 24:
            raise ValueError(f"unexpected X format: depth {screen.root_depth}, {formats}")
        pixels = np.frombuffer(image.data, dtype=np.uint8).reshape(height, -1, 4)[:, :width]
        return pixels[:, :, 2::-1].copy()  # BGRX in memory (little-endian server) -> RGB
    finally:
        connection.close()


def dominant(image: np.ndarray) -> tuple[int, int, int]:
    """The most common colour on screen apart from the root window's black, i.e. the
    colour that fills our window wherever the window-manager-less server put it."""
    sample = image[::4, ::4].reshape(-1, 3).astype(np.uint32)  # flat colours: a sample is enough
    codes = (sample[:, 0] << 16) | (sample[:, 1] << 8) | sample[:, 2]
    codes = codes[codes != 0]
    if not len(codes):
        return (0, 0, 0)
    values, counts = np.unique(codes, return_counts=True)
    code = int(values[counts.argmax()])
    return code >> 16, (code >> 8) & 0xFF, code & 0xFF
