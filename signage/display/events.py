"""What the renderer reports: events for the controller, hooks for benches and tests."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Ended:
    """The content finished by itself (a video that does not loop reached its end)."""
    content_id: str


@dataclass(frozen=True)
class Failed:
    content_id: str
    reason: str


@dataclass(frozen=True)
class WindowClosed:
    pass


class RenderObserver:
    """Hooks a bench or a test injects to watch the screen; production runs this no-op.
    Called on the main thread."""

    def presented(self, t: float, spent_s: float, late: bool) -> None:
        """A picture went to the screen at monotonic time `t`; drawing it took `spent_s`;
        `late`: more than 1.5 frame periods after it was due."""

    def video_frames(self, shown: int, dropped: int) -> None:
        """Video frames put on screen, and frames skipped because they were already late."""

    def opened(self, video_driver: str, backend: str, render_driver: str, gl: str | None) -> None:
        """The window opened (at start, and again after each display loss): SDL's video
        driver, how pictures are drawn (textures, surface), SDL's render driver, and the
        GL renderer's own name when it is a GL one."""

    def held(self, pictures_bytes: int, pictures: int, frames_bytes: int) -> None:
        """What the screen holds changed: the decoded bytes and entries of the picture
        cache (images and cards, as textures), and the video frames decoded ahead (the
        rings of the videos playing)."""
