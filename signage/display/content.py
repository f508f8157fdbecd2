"""What the renderer is asked to show. Plain values: the display knows nothing of
playlists or audiences; the controller translates a creative into Content."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

if TYPE_CHECKING:
    from signage.config import FallbackConfig


@dataclass(frozen=True)
class Content:
    id: str
    type: Literal["image", "video", "card"]
    path: Path | None = None  # image or video file
    text: str = ""  # card
    background: str = "#000000"
    color: str = "#ffffff"
    font_size: int | None = None  # card; None: as large as fits
    fit: Literal["contain", "cover", "stretch"] = "contain"
    transition: Literal["cut", "fade"] = "cut"
    fade_seconds: float = 0.5
    loop: bool = True  # a video that ends before its time restarts


def rgb(colour: str) -> tuple[int, int, int]:
    value = colour.lstrip("#")
    return int(value[0:2], 16), int(value[2:4], 16), int(value[4:6], 16)


FALLBACK_ID = "fallback"


def fallback_content(fallback: FallbackConfig) -> Content:
    """The card shown when nothing else can be (display.fallback in config)."""
    return Content(id=FALLBACK_ID, type="card", text=fallback.text, background=fallback.background,
                   color=fallback.color)


def plain_colour(value: str) -> tuple[int, int, int]:
    """A card's background as a colour to clear with; dark grey if it cannot be read."""
    try:
        return rgb(value)
    except (ValueError, IndexError):
        return (32, 32, 32)
