"""The kiosk's screen: the window (a renderer, replaced when a reload brings new display
settings), the creative the schedule has on it, and what the window reports back to
the player (a creative that failed or ended, a window that was closed). Main thread only."""

from __future__ import annotations

import logging
import os
from typing import TYPE_CHECKING, Callable

from signage.config import DisplayConfig
from signage.kiosk.content import content_of
from signage.kiosk.creative_faults import CreativeFaults
from signage.playlist.loader import Playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now

if TYPE_CHECKING:
    from signage.display.renderer import Renderer

logger = logging.getLogger(__name__)


class Screen:
    """`render_observer`: a display RenderObserver (what is presented) a bench or a test
    injects; `showing(creative, t)` hears each creative asked for (None: the fallback)."""

    def __init__(self, player: Player, faults: CreativeFaults, clock: Callable[[], float], now: Callable[[], Now],
                 wall: Callable, render_observer=None,
                 showing: Callable[[str | None, float], None] = lambda creative, t: None):
        self._player, self._faults = player, faults
        self._clock, self._now, self._wall = clock, now, wall
        self._render_observer, self._showing = render_observer, showing
        self.renderer: Renderer | None = None

    def _open_renderer(self) -> Renderer:
        if self.renderer is None:
            raise RuntimeError("the screen is not open yet (Screen.open)")
        return self.renderer

    def new_renderer(self, display: DisplayConfig) -> Renderer:
        """A renderer for `display` settings, watched by the injected observer (not open yet)."""
        from signage.display.renderer import Renderer

        # The kiosk reports a creative that cannot be shown itself (creative_faults.py): the
        # renderer's own line would carry the moment an audience rule chose it.
        return Renderer(display, clock=self._clock, wall=self._wall, observer=self._render_observer,
                        failure_level=logging.DEBUG)

    def open(self, display: DisplayConfig) -> None:
        from signage.display.renderer import DisplayError

        self.renderer = self.new_renderer(display)
        try:
            self.renderer.open()
        except DisplayError as exc:  # not there yet (a DRM device still coming up): retried every 2 s
            logger.error("no display yet (%s, SDL_VIDEODRIVER=%s); retrying every 2 s", exc,
                         os.environ.get("SDL_VIDEODRIVER", "auto"))
            self.renderer.reopen()

    @property
    def scheduled(self) -> str | None:
        """What status says is playing: the schedule's creative (None: the fallback card).

        It is never what an audience rule chose, not even as "audience", and it changes when the
        schedule does, whatever is on screen: the retained status is published the moment
        it changes, so the moment an audience rule fires, or ends, would say that someone
        was in front of the screen. Proof of play tells what played, with what is safe to
        say about the people."""
        scheduled = self._player.scheduled
        return scheduled if scheduled in self._player.playlist.creatives else None

    def show(self, creative: str | None) -> None:
        """`creative` on screen now (None, or one the playlist lacks: the fallback card)."""
        playlist = self._player.playlist
        if creative is None or creative not in playlist.creatives:
            self._open_renderer().show_fallback()
        else:
            self._open_renderer().show(content_of(playlist, creative))
        self._showing(creative, self._clock())

    def keep_only(self, playlist: Playlist) -> None:
        """The renderer forgets the pictures of creatives `playlist` no longer has, and a
        creative fault held about the old media is never reported."""
        self._faults.forget()
        if self.renderer is not None:
            self.renderer.keep_only(content_of(playlist, creative) for creative in playlist.creatives)

    def show_fallback(self) -> None:
        self._open_renderer().show_fallback()

    def set_notice(self, visible: bool) -> None:
        """The notice that audience measurement is active."""
        if self.renderer is not None:
            self.renderer.set_notice_visible(visible)

    def draw(self) -> None:
        """A loop step: one turn of the window; what it reports goes to the player."""
        from signage.display.renderer import Ended, Failed, WindowClosed

        renderer = self._open_renderer()
        for event in renderer.frame():
            current = self._player.current
            if isinstance(event, Failed):
                # Reported at once only if the schedule had it on screen; else held (an audience rule chose it).
                scheduled = self._player.overlay.current is None and self._player.scheduled == event.content_id
                self._faults.failed(event.content_id, event.reason, scheduled)
                if current and current.play.creative == event.content_id:
                    self._player.finished(self._now(), "error")
            elif isinstance(event, Ended) and current and current.play.creative == event.content_id:
                self._player.finished(self._now(), "duration")
            elif isinstance(event, WindowClosed):
                logger.warning("the window was closed; opening it again")
                renderer.reopen()

    def reopen_with(self, display: DisplayConfig, running: DisplayConfig) -> Exception | None:
        """A reload: the window again with `display` settings (the window cannot exist
        twice: the running one closes first). Why the new one cannot open, with the window
        of the `running` settings back (blank: the caller puts the picture back); None
        when it opened."""
        self._open_renderer().close()
        renderer = self.new_renderer(display)
        try:
            renderer.open()
        except Exception as exc:  # noqa: BLE001 - whatever the new settings break, the old window comes back
            renderer.close()
            self.open(running)
            return exc
        self.renderer = renderer
        return None

    def close(self) -> None:
        if self.renderer is not None:
            self.renderer.close()
