"""From a playlist's creative to the display's Content (the display knows no playlists)."""

from __future__ import annotations

from signage.display.content import Content
from signage.playlist.loader import Playlist


def content_of(playlist: Playlist, creative_id: str) -> Content:
    creative = playlist.creatives[creative_id]
    return Content(
        id=creative.id, type=creative.type, path=playlist.media.get(creative.id), text=creative.text or "",
        background=creative.background, color=creative.color, font_size=creative.font_size, fit=creative.fit,
        transition=creative.transition.type, fade_seconds=creative.transition.seconds,
        # A video with an explicit duration loops to fill it; without one it plays once.
        loop=creative.duration is not None,
    )
