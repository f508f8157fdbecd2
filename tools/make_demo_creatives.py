"""Draw the demo playlist's creatives (playlists/creatives/). Run from the repository
root: `python tools/make_demo_creatives.py`. The output is committed; this script is
how it was made, so anyone can remake or restyle it."""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

import cv2  # noqa: E402
import numpy as np  # noqa: E402
import pygame  # noqa: E402

OUT = Path("playlists/creatives")
SIZE = (1920, 1080)


def poster(name: str, background: tuple, accent: tuple, title: str, subtitle: str, shape: str) -> None:
    surface = pygame.Surface(SIZE)
    surface.fill(background)
    w, h = SIZE
    if shape == "circles":
        for i, radius in enumerate((520, 400, 280)):
            colour = tuple(min(255, c + 18 * (i + 1)) for c in background)
            pygame.draw.circle(surface, colour, (w - 300, h // 2), radius)
    elif shape == "stripes":
        for i in range(0, w + h, 160):
            pygame.draw.line(surface, tuple(min(255, c + 25) for c in background), (i, 0), (i - h, h), 50)
    elif shape == "eye":
        pygame.draw.ellipse(surface, accent, pygame.Rect(w - 760, h // 2 - 200, 560, 400), 24)
        pygame.draw.circle(surface, accent, (w - 480, h // 2), 110)
    elif shape == "smile":
        pygame.draw.circle(surface, accent, (w - 460, h // 2), 300, 24)
        pygame.draw.circle(surface, accent, (w - 560, h // 2 - 90), 40)
        pygame.draw.circle(surface, accent, (w - 360, h // 2 - 90), 40)
        pygame.draw.arc(surface, accent, pygame.Rect(w - 640, h // 2 - 120, 360, 300), 3.6, 5.8, 24)
    pygame.draw.rect(surface, accent, pygame.Rect(140, 300, 24, 480))
    big, small = pygame.font.Font(None, 200), pygame.font.Font(None, 90)
    surface.blit(big.render(title, True, (255, 255, 255)), (210, 380))
    surface.blit(small.render(subtitle, True, accent), (216, 580))
    pygame.image.save(surface, str(OUT / name))


def promo_video(name: str, seconds: int = 4, fps: int = 25) -> None:
    """A short looping animation: a ball crossing a coloured field (mp4, no audio)."""
    width, height = 640, 360
    writer = cv2.VideoWriter(str(OUT / name), cv2.VideoWriter.fourcc(*"mp4v"), fps, (width, height))
    for i in range(seconds * fps):
        phase = i / (seconds * fps)
        frame = np.zeros((height, width, 3), np.uint8)
        frame[:] = (90 + 60 * np.sin(2 * np.pi * phase), 50, 160)
        x = int(80 + (width - 160) * (0.5 - 0.5 * np.cos(2 * np.pi * phase)))
        cv2.circle(frame, (x, height // 2), 50, (80, 220, 255), -1)
        cv2.putText(frame, "signage demo", (60, 90), cv2.FONT_HERSHEY_DUPLEX, 1.4, (255, 255, 255), 2)
        writer.write(frame)
    writer.release()


def main() -> None:
    pygame.init()
    OUT.mkdir(parents=True, exist_ok=True)
    poster("welcome.png", (20, 40, 80), (255, 196, 0), "Welcome", "Have a look around", "circles")
    poster("evening.png", (40, 20, 60), (255, 120, 160), "Good evening", "Open until 23:00", "stripes")
    poster("look-here.png", (10, 90, 80), (250, 240, 120), "Hello there!", "Thanks for looking", "eye")
    poster("smile.png", (200, 70, 40), (255, 230, 150), "Nice smile!", "Today's treat is on us", "smile")
    promo_video("promo.mp4")
    pygame.quit()


if __name__ == "__main__":
    main()
