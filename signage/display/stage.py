"""The creatives on their way to the screen, on it, and fading off it; what each present draws.

`show` prepares a creative (pictures.py) and switches to it once it is ready: a card or
a cached image at once, an image once the loader has decoded it, a video at once (the
old picture stays until its first frame). A fade draws the old picture out over the
new one. The stage draws into the screen the renderer attached, and knows nothing of
windows: when an exception is the display's own, `display_gone` (the renderer's) says
so and the renderer deals with it.

Fault barrier: any exception while preparing or drawing a creative becomes a `Failed`
event and the fallback card, logged once per file version (failures.py).
"""

from __future__ import annotations

import logging
from typing import Callable, Iterable

import pygame

from signage.config import DisplayConfig
from signage.display.content import FALLBACK_ID, Content, fallback_content, plain_colour
from signage.display.events import Ended, Failed, RenderObserver
from signage.display.failures import reason_of
from signage.display.pacing import Pacing
from signage.display.pictures import Pictures
from signage.display.scene import Showing, compose
from signage.display.window import Screen

logger = logging.getLogger(__name__)


class Stage:
    def __init__(self, config: DisplayConfig, clock: Callable[[], float], observer: RenderObserver,
                 wake: Callable[[], None], display_gone: Callable[[BaseException], bool],
                 failure_level: int = logging.ERROR):
        self._config = config
        self._clock = clock
        self._observer = observer
        self._display_gone = display_gone
        self.pictures = Pictures(config, wake, failure_level)
        self.pacing = Pacing(1 / config.fps)
        self.due_period = 1 / config.fps  # the frame period the next present is judged late against
        self.showing_id, self.since = FALLBACK_ID, 0.0  # what went on screen last, and when (monotonic)
        self._screen: Screen | None = None  # attached while the renderer has a window
        self._current: Showing | None = None
        self._incoming: Showing | None = None  # waiting for its image to be prepared
        self._leaving: Showing | None = None  # fading out, or up until a video's first frame
        self._fade: tuple[float, float] | None = None  # (start, seconds)
        self._notice_visible = True
        self._notice: tuple | None = None  # (picture, logical rect)
        self._events: list = []
        self._held: tuple[int, int, int] | None = None  # last told to the observer

    @property
    def current(self) -> Showing | None:
        """The creative on screen (or to show again once a lost display is back)."""
        return self._current

    # ----- the screen ---------------------------------------------------------------

    def attach(self, screen: Screen) -> None:
        """A window opened: draw into it from now on, starting with the notice."""
        self._screen = screen
        try:
            self._notice = self.pictures.notice(screen.backend, screen.logical)
        except Exception as exc:  # a notice that cannot be drawn must not keep the screen dark
            logger.error("measurement notice cannot be drawn: %s", exc)
            self._notice = None
        self.pacing = Pacing(1 / self._config.fps)
        self.pacing.change(self._clock())

    def detach(self) -> None:
        """Forget every picture made for the screen (the creatives stay): SDL frees a
        renderer's textures with it, so none may outlive it."""
        self.pictures.forget()
        for showing in (self._current, self._incoming, self._leaving):
            if showing is not None:
                showing.forget_pictures()
        self._leaving = self._fade = self._notice = None
        self.pacing.stop_fade()
        self._screen = None

    def stop_videos(self) -> None:
        for showing in (self._current, self._incoming, self._leaving):
            if showing is not None and showing.video is not None:
                showing.video.close()

    def hold(self, content: Content | None) -> None:
        """Nothing coming; `content` (if any) to show once a window is there again."""
        self._incoming = None
        self._current = Showing(content) if content is not None else None

    def close(self) -> None:
        self.stop_videos()
        self.pictures.close()

    # ----- what to show ---------------------------------------------------------------

    def show(self, content: Content) -> None:
        """Switch to `content` once it is ready (Renderer.show says how)."""
        self._drop_incoming()
        screen = self._screen
        if screen is None:  # display lost: shown once it is back
            if self._current is not None and self._current.video is not None:
                self._current.video.close()
            self._current = Showing(content)
            return
        showing = Showing(content)
        try:
            self.pictures.prepare(showing, screen, self._display_gone)
        except Exception as exc:
            if self._display_gone(exc):
                return
            showing.failed = reason_of(exc)
        if showing.failed is not None:
            self._fail(content, showing.failed)
            return
        if showing.ready:
            self._switch(showing)
        else:
            self._incoming = showing

    def show_fallback(self) -> None:
        self.show(fallback_content(self._config.fallback))

    def keep_only(self, contents: Iterable[Content]) -> None:
        logical = self._screen.logical if self._screen is not None else (0, 0)
        self.pictures.keep_only(contents, logical)

    def set_notice_visible(self, visible: bool) -> None:
        if visible != self._notice_visible:
            self._notice_visible = visible
            self.changed()

    def changed(self) -> None:
        """The picture must be presented again (uncovered, powered on, notice toggled)."""
        self.pacing.change(self._clock())

    def _drop_incoming(self) -> None:
        incoming, self._incoming = self._incoming, None
        if incoming is not None and incoming.future is not None:
            incoming.future.cancel()  # still queued: never decoded; running: its result is ignored

    def _switch(self, showing: Showing) -> None:
        now = self._clock()
        old, leaving = self._current, self._leaving
        if leaving is not None and leaving is not old and leaving.video is not None:
            leaving.video.close()
        self._leaving, self._fade = None, None
        self.pacing.stop_fade()
        if old is not None and old.video is not None:
            old.video.close()  # its stream keeps its last frame, for the fade
        if old is not None and self._screen is not None and (showing.video is not None
                                                            or showing.content.transition == "fade"):
            self._leaving = old  # a video shows the old picture until its first frame
            if showing.video is None:
                self._start_fade(showing, now)
        showing.started = now
        self._current = showing
        self.showing_id, self.since = showing.content.id, now
        self.pacing.change(now)

    def _start_fade(self, showing: Showing, now: float) -> None:
        if showing.content.transition == "fade" and self._leaving is not None:
            self._fade = (now, max(showing.content.fade_seconds, 1e-3))
            self.pacing.start_fade(now)
        else:
            self._leaving = None

    def _fail(self, content: Content, reason: str) -> None:
        """Report once per file version (or card), mark the file bad until it changes,
        show the fallback."""
        self.pictures.failures.record(content, reason)
        self._events.append(Failed(content.id, reason))
        if content.id != FALLBACK_ID:
            self.show_fallback()
        elif self._screen is not None:  # unreachable by design; still never leave it dark
            self._current = Showing(content, colour=plain_colour(content.background))
            self.changed()

    # ----- each turn ------------------------------------------------------------------

    def take_events(self) -> list:
        events, self._events = self._events, []
        return events

    def collect_incoming(self) -> None:
        """Upload the image being prepared once its pixels are ready, and switch to it."""
        incoming, screen = self._incoming, self._screen
        if incoming is None or screen is None or incoming.future is None or not incoming.future.done():
            return
        self._incoming = None
        try:
            self.pictures.upload(incoming, screen.backend)
        except Exception as exc:
            if self._display_gone(exc):
                raise pygame.error(reason_of(exc)) from exc
            self._fail(incoming.content, reason_of(exc))
            return
        self._switch(incoming)

    def advance(self) -> None:
        self._guarded(self._advance)

    def compose(self) -> None:
        self._guarded(self._compose)

    def presented(self, now: float) -> None:
        self.pacing.presented(now)
        self.due_period = self.pacing.period

    def video_due(self) -> float | None:
        """When the current video's next frame is due (monotonic), if one is playing."""
        current = self._current
        if current is None or current.video is None:
            return None
        due = current.video.next_due()
        return None if due is None else current.started + due

    def report_held(self) -> None:
        """Tell the observer what the screen holds, when that changed (once a turn)."""
        videos = {id(s.video): s.video for s in (self._current, self._incoming, self._leaving)
                  if s is not None and s.video is not None}
        held = (*self.pictures.held, sum(video.held_bytes for video in videos.values()))
        if held != self._held:
            self._held = held
            self._observer.held(*held)

    def _guarded(self, step: Callable[[], None]) -> None:
        """A creative that breaks while advanced or drawn (a video frame that cannot be
        streamed...) fails over to the fallback, drawn in the same turn."""
        try:
            step()
        except Exception as exc:
            if self._display_gone(exc) or self._current is None:
                raise pygame.error(reason_of(exc)) from exc
            self._fail(self._current.content, reason_of(exc))
            step()

    def _advance(self) -> None:
        """Take the video frame that is due, if any (streamed into its texture)."""
        current = self._current
        if current is None or current.video is None or current.stream is None:
            return
        video = current.video
        frame = video.frame_at(self._clock() - current.started)
        if video.error:
            self._fail(current.content, video.error)
            return
        if frame is not None:
            current.stream.update(frame)
            if self._leaving is not None and self._fade is None:  # the first frame: now the switch shows
                self._start_fade(current, self._clock())
            self.pacing.change(current.started + frame.pts)
            self.due_period = 1 / video.fps
        if frame is not None or video.dropped:
            self._observer.video_frames(1 if frame is not None else 0, video.dropped)
            video.dropped = 0
        if video.ended and not current.reported_end:
            current.reported_end = True
            self._events.append(Ended(current.content.id))

    def _compose(self) -> None:
        screen = self._screen
        if screen is None:  # a creative's failure found the display gone: the renderer reopens
            return
        waiting = self._leaving is not None and self._fade is None  # a video's first frame is not there yet
        over, opacity = None, 1.0
        if not waiting and self._fade is not None:
            start, seconds = self._fade
            progress = (self._clock() - start) / seconds
            if progress >= 1:
                self._fade, self._leaving = None, None
                self.pacing.stop_fade()
            else:  # the old picture fades out over the new one
                over, opacity = self._leaving, 1 - progress
        notice = self._notice if self._notice_visible else None
        compose(screen.backend, screen.logical, self._leaving if waiting else self._current, over, opacity, notice)
