"""Render the demo playlist under Xvfb and tile the frames into docs/demo.png (the
screenshot of README.md and docs/display.md). Run from the repository root: `python tools/screenshot_demo.py`.
Needs Xvfb (apt-get install xvfb)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import cv2
import numpy as np

SHOTS = ["welcome", "opening-hours", "promo", "look-here", "smile-back", "group-offer"]
SIZE = (960, 540)


def main() -> int:
    number = 170 + os.getpid() % 100
    xvfb = subprocess.Popen(["Xvfb", f":{number}", "-screen", "0", "1920x1080x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(1.0)
        os.environ.update(DISPLAY=f":{number}", SDL_VIDEODRIVER="x11")
        tiles = [render(creative) for creative in SHOTS]
    finally:
        xvfb.terminate()
    rows = [np.hstack(tiles[i:i + 3]) for i in range(0, len(tiles), 3)]
    sheet = cv2.resize(np.vstack(rows), (1440, 540), interpolation=cv2.INTER_AREA)
    Path("docs").mkdir(exist_ok=True)
    cv2.imwrite("docs/demo.png", cv2.cvtColor(sheet, cv2.COLOR_RGB2BGR))
    print("wrote docs/demo.png")
    return 0


def render(creative: str) -> np.ndarray:
    from signage.config import DisplayConfig
    from signage.kiosk.content import content_of
    from signage.display.readback import pixels
    from signage.display.renderer import Renderer
    from signage.display.videoinfo import video_length
    from signage.playlist.loader import load_playlist

    playlist = load_playlist([Path("playlists")], video_length=video_length)
    renderer = Renderer(DisplayConfig(fullscreen=False, size=SIZE))  # the notice on, as on a kiosk
    renderer.open()
    try:
        renderer.show(content_of(playlist, creative))
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            renderer.frame()
            if renderer.stats.showing == creative and time.monotonic() - renderer.stats.since > 1.0:
                break
        return pixels(renderer).copy()
    finally:
        renderer.close()


if __name__ == "__main__":
    sys.exit(main())
