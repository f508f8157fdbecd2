"""What the renderer is asked to show. Plain values: the display knows nothing of
playlists or audiences; the controller translates a creative into Content."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal


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
