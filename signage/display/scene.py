"""What one picture on screen is made of: the creative showing (an image or card
texture, a video's texture, or a plain colour), the old one fading out over it, and
the notice on top. Drawing only: when to draw is the renderer's business."""

from __future__ import annotations

from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING

from signage.display.content import Content
from signage.display.layout import placement
from signage.display.video import VideoPlayback

if TYPE_CHECKING:
    from signage.display.surfaces import SurfacePicture, SurfaceStream
    from signage.display.textures import TexturePicture, TextureStream


@dataclass
class Showing:
    """A creative on (or on its way to) the screen, and what it is drawn from."""
    content: Content
    picture: TexturePicture | SurfacePicture | None = None  # an uploaded image or card
    colour: tuple[int, int, int] | None = None  # a plain colour (a fallback whose text cannot be drawn)
    stream: TextureStream | SurfaceStream | None = None  # a video's texture
    video: VideoPlayback | None = None
    future: Future | None = None  # an image being prepared
    key: tuple | None = None  # its cache key (file version, fit, layout)
    failed: str | None = None
    started: float = 0.0
    reported_end: bool = False

    @property
    def ready(self) -> bool:
        """Images wait for their pixels; a video starts at once (the previous picture
        stays until its first frame is decoded)."""
        return self.picture is not None or self.colour is not None or self.video is not None

    def forget_pictures(self) -> None:
        """Drop what was uploaded for a display that is gone (the creative stays)."""
        self.picture = self.stream = None


def compose(backend, logical: tuple[int, int], base: Showing | None, over: Showing | None = None,
            opacity: float = 1.0, notice: tuple | None = None) -> None:
    """Draw `base`, `over` it at `opacity` (the old picture of a fade), then the notice
    (picture, logical rect). The background is cleared only where `base` leaves bars."""
    if base is None or not covers(base, logical):
        backend.clear(base.colour if base is not None and base.colour else (0, 0, 0))
    if base is not None:
        draw(backend, logical, base, 1.0)
    if over is not None:
        draw(backend, logical, over, opacity)
    if notice is not None:
        backend.draw(*notice)


def covers(showing: Showing, logical: tuple[int, int]) -> bool:
    """Whether the showing's picture fills the whole screen (no clear needed)."""
    if showing.picture is not None:
        return True
    stream = showing.stream.picture if showing.stream is not None else None
    return stream is not None and placement(stream.size, logical, showing.content.fit)[1] == (0, 0, *logical)


def draw(backend, logical: tuple[int, int], showing: Showing, opacity: float) -> None:
    if showing.picture is not None:
        backend.draw(showing.picture, (0, 0, *logical), opacity)
    elif showing.stream is not None and showing.stream.picture is not None:
        picture = showing.stream.picture
        source, target = placement(picture.size, logical, showing.content.fit)
        backend.draw(picture, target, opacity, source)
