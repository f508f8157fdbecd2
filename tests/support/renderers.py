"""A real renderer in a real window (the `window` fixture's), for the screen's tests:
made at a small size, turned until a creative is on screen, pixels read back."""

from __future__ import annotations

import time

import cv2
import numpy as np

from signage.config import DisplayConfig, FallbackConfig, NoticeConfig
from signage.display import readback
from signage.display.events import RenderObserver

W, H = 640, 360
FALLBACK = FallbackConfig(text="Fallback", background="#00ff00", color="#000000")


class Presents(RenderObserver):
    """Counts what the renderer puts on screen (injected: production keeps no count)."""

    def __init__(self):
        self.count = self.late = self.video_shown = self.video_dropped = 0

    def presented(self, t, spent_s, late):
        self.count += 1
        self.late += late

    def video_frames(self, shown, dropped):
        self.video_shown += shown
        self.video_dropped += dropped


def make_renderer(clock=time.monotonic, notice=False, fallback=FALLBACK, observer=None, **display):
    from signage.display.renderer import Renderer

    extra = {"wall": display.pop("wall")} if "wall" in display else {}
    config = DisplayConfig(fullscreen=False, size=(W, H), fallback=fallback,
                           notice=NoticeConfig(enabled=notice), **display)
    renderer = Renderer(config, clock=clock, observer=observer, **extra)
    renderer.open()
    return renderer


def settle(renderer, content_id, seconds=6.0):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        renderer.frame()
        if renderer.stats.showing == content_id and renderer.screen is not None:
            renderer.frame()
            return readback.pixels(renderer)
    raise AssertionError(f"{content_id} not on screen; showing {renderer.stats.showing}, {renderer.stats.errors}")


def image(tmp_path, name, width, height, bgr):
    path = tmp_path / name
    cv2.imwrite(str(path), np.full((height, width, 3), bgr, np.uint8))
    return path
