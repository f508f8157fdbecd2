"""The full-screen renderer: the window, and the screen's loop.

Runs in the main thread. `show(content)` asks for a creative; `frame()` does one
turn of the screen's loop and returns what happened (a video ended, media failed,
the window closed). A picture is presented only when it changes: a still image or
card once, a fade at the display rate for its length, a video at its own frame
rate; in between `frame()` pumps events, checks the power schedule and sleeps
until the next thing can change (pacing.py), so the controller's loop keeps
turning (watchdog, status, rules) at almost no cost. What is drawn is the stage's
business (stage.py); the pictures it draws from are prepared and cached once
(pictures.py); videos decode in their own thread (video.py). Whatever fails, the
fallback card is drawn: the screen is never black. Memory does not creep: buffers
the size of a picture are mapped on their own, and what a display loss frees is
given back (heap.py); a new playlist makes the cache forget the pictures of
creatives it no longer has (keep_only).

A `pygame.error` from the display itself, or Xlib reporting a dead connection (see
xloss.py), marks the display lost; the window is reopened when a display is there again.
Reading back what was presented (tests, preview, benches) is readback.py's.
"""

from __future__ import annotations

import datetime as dt
import gc
import logging
import os
import threading
import time
from typing import Callable, Iterable

import pygame

from signage.config import DisplayConfig
from signage.display import heap
from signage.display.content import FALLBACK_ID, Content
from signage.display.events import Ended, Failed, RenderObserver, WindowClosed  # noqa: F401 - the renderer's events
from signage.display.failures import reason_of
from signage.display.pacing import IDLE_S
from signage.display.power import PowerSchedule
from signage.display.scene import Showing
from signage.display.stage import Stage
from signage.display.window import Screen, init_video, open_screen, x11_handles
from signage.display.xloss import XLossGuard

logger = logging.getLogger(__name__)
DisplayError = pygame.error  # what a display that is not there raises, for callers that do not import pygame

REOPEN_AFTER_S = 2.0
EXPOSED = {getattr(pygame, name) for name in ("WINDOWEXPOSED", "VIDEOEXPOSE") if hasattr(pygame, name)}


class RenderStats:
    """What the controller's status shows of the screen."""

    def __init__(self, stage: Stage):
        self.ticks = 0  # turns of the screen's loop (presents are far fewer: see RenderObserver)
        self.state = "starting"  # ok, off (power schedule), lost (display gone), starting
        self._stage = stage

    @property
    def showing(self) -> str:
        return self._stage.showing_id

    @property
    def since(self) -> float:
        """The monotonic time it went on screen."""
        return self._stage.since

    @property
    def errors(self) -> list[str]:
        """The last creatives that could not be shown, "id: reason", newest last."""
        return self._stage.pictures.failures.recent


class Renderer:
    def __init__(self, config: DisplayConfig, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone(),
                 observer: RenderObserver | None = None, failure_level: int = logging.ERROR):
        """`failure_level`: how a creative that cannot be shown is logged (a caller that
        reports the Failed events itself, the kiosk, asks for DEBUG)."""
        self.config = config
        self._clock, self._wall = clock, wall
        self.observer = observer or RenderObserver()
        self._wake = threading.Event()  # set by the image loader and video decoders: something is ready
        self._stage = Stage(config, clock, self.observer, self._wake_up, self._display_gone, failure_level)
        self.stats = RenderStats(self._stage)
        self.screen: Screen | None = None
        self._events: list = []
        self._power = PowerSchedule(config.power)
        self._lost_since: float | None = None
        self._guard = XLossGuard()
        self._unavailable_logged = False
        self._ever_opened = False
        heap.map_large_buffers()  # pictures and frames given back when freed, not left as holes in the heap

    @property
    def current(self) -> Showing | None:
        """The creative on screen (or to show again once a lost display is back)."""
        return self._stage.current

    # ----- window -----------------------------------------------------------------

    def open(self) -> None:
        """Create the window (full-screen at native resolution, or windowed). With no
        display at all and no SDL_VIDEODRIVER chosen, run headless rather than fail."""
        try:
            init_video()
        except pygame.error as exc:
            if os.environ.get("SDL_VIDEODRIVER") or self._ever_opened:
                raise  # a display that was there and went away: wait for it, never go headless
            logger.warning("no display found (%s); running headless (SDL_VIDEODRIVER=dummy)", exc)
            os.environ["SDL_VIDEODRIVER"] = "dummy"
            pygame.display.init()
        pygame.font.init()
        self.screen = open_screen(self.config)
        if self.screen.driver == "x11":
            display, window = x11_handles(self.screen.window)
            if display:
                self._guard.install(display, window)
        pygame.mouse.set_visible(False)
        self._stage.attach(self.screen)
        self.stats.state = "ok"
        self._power.is_on = True
        self._ever_opened = True
        self._lost_since = None
        self._unavailable_logged = False
        backend = self.screen.backend
        self.observer.opened(self.screen.driver, backend.kind, backend.driver, backend.gl)
        logger.info("display open: %dx%d (%s, %s: %s%s), rotation %d", *self.screen.size, self.screen.driver,
                    backend.kind, backend.driver, f", GL {backend.gl}" if backend.gl else "", self.config.rotation)
        if self._stage.current is None:
            self.show_fallback()

    def close(self) -> None:
        self._stage.close()
        if self._guard.lost:
            self._guard.release_window()
        self._teardown()
        pygame.display.quit()

    def reopen(self) -> None:
        """Re-create the window (after the window was closed, in kiosk mode)."""
        self._lost_since = None
        self._try_reopen()

    def _teardown(self) -> None:
        """Forget every picture, then the renderer and the window: SDL frees a renderer's
        textures with it, so none may outlive it."""
        self._stage.detach()
        screen, self.screen = self.screen, None
        if screen is not None:
            gc.collect()  # a picture held in a reference cycle would otherwise outlive its renderer
            try:
                screen.close()
            except Exception:  # noqa: BLE001 - a dead display may refuse; it is gone either way
                pass
            heap.give_back()  # the window, its GL context and every texture were just freed at once

    def _display_gone(self, exc: BaseException, force: bool = False) -> bool:
        """If the display itself failed (not the creative), mark it lost and say so."""
        if not (force or self._guard.lost or (isinstance(exc, pygame.error) and not pygame.display.get_init())):
            return False
        if self.screen is not None:
            logger.error("display lost (%s); reopening when a display is there again", reason_of(exc))
        if self._guard.lost:
            self._guard.release_window()
        self._teardown()
        try:
            pygame.display.quit()
        except Exception:  # noqa: BLE001 - the display is gone either way
            pass
        self.stats.state, self._lost_since = "lost", self._clock()
        return True

    def _try_reopen(self) -> None:
        if self._lost_since is not None and self._clock() - self._lost_since < REOPEN_AFTER_S:
            time.sleep(0.05)
            return
        current = self._stage.current
        wanted = current.content if current is not None else None
        self._stage.stop_videos()
        self._teardown()
        self._stage.hold(None)  # open() then shows the fallback
        try:
            pygame.display.quit()
            self.open()
            if wanted is not None and wanted.id != FALLBACK_ID:
                self.show(wanted)
            if self.screen is not None:
                # Not what it shows (an audience rule may have chosen it): that would date a moment someone was there.
                logger.info("display back")
                logger.debug("display back: showing %s", self.stats.showing)
        except pygame.error as exc:
            self._teardown()
            self._stage.hold(wanted)
            self._lost_since = self._clock()
            if not self._unavailable_logged:
                self._unavailable_logged = True
                logger.warning("display still unavailable (%s); retrying every %.0f s", exc, REOPEN_AFTER_S)

    # ----- what to show ---------------------------------------------------------------

    def show(self, content: Content) -> None:
        """Switch to `content` with its transition, as soon as it is ready. Never raises
        for a bad creative: it becomes a Failed event and the fallback. The newest request
        wins: an image still being prepared for an earlier request is dropped."""
        self._stage.show(content)

    def show_fallback(self) -> None:
        """The fallback card from config: when nothing else can be shown."""
        self._stage.show_fallback()

    def keep_only(self, contents: Iterable[Content]) -> None:
        """Forget the cached pictures of everything but `contents` (the creatives of a new
        playlist) and the fallback: a creative edited away, or an image file replaced, is
        never shown again, and its texture would otherwise stay until the cache is full."""
        self._stage.keep_only(contents)

    def set_notice_visible(self, visible: bool) -> None:
        """The measurement notice shows while the camera is in use."""
        self._stage.set_notice_visible(visible)

    # ----- the loop -----------------------------------------------------------------

    def frame(self) -> list:
        """One turn: present if the picture changed, then sleep until the next thing can
        change (at most pacing.IDLE_S); returns what happened."""
        self.stats.ticks += 1
        self._wake.clear()  # whatever becomes ready from here on wakes the sleep at the end
        if self.screen is None:
            self._try_reopen()
        else:
            try:
                powered = self._powered()
                if powered is False:
                    self._pump()
            except pygame.error as exc:  # blanking the screen found the display gone
                self._display_gone(exc, force=True)
                powered = None
            if powered:
                self._step()
            elif powered is False:
                self._sleep_until(self._clock() + IDLE_S)
        self._stage.report_held()
        events, self._events = self._stage.take_events() + self._events, []
        return events

    def _step(self) -> None:
        stage = self._stage
        try:
            self._pump()
            if self._guard.lost:
                raise pygame.error("X server connection lost")
            stage.collect_incoming()
            stage.advance()
            now = self._clock()
            due = stage.pacing.due(now)
            if due is not None:
                started = time.perf_counter()
                stage.compose()
                screen = self.screen
                if screen is None:  # a creative's failure found the display gone: reopened next turn
                    return
                screen.backend.present()
                if self._guard.lost:
                    raise pygame.error("X server connection lost")
                late = now - due > 1.5 * stage.due_period
                stage.presented(now)
                self.observer.presented(time.monotonic(), time.perf_counter() - started, late)
        except pygame.error as exc:  # the display went away (X server, DRM device)
            self._display_gone(exc, force=True)
            return
        self._sleep_until(stage.pacing.wake_at(self._clock(), stage.video_due()))

    def _pump(self) -> None:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self._events.append(WindowClosed())
            elif event.type in EXPOSED:  # uncovered (or a compositor lost it): draw it again
                self._stage.changed()

    def _powered(self) -> bool:
        was_on = self._power.is_on
        on = self._power.on(self._wall())
        if on != was_on:
            self.stats.state = "ok" if on else "off"
            if on:
                self._stage.changed()
            elif self.screen is not None:
                self.screen.backend.clear((0, 0, 0))
                self.screen.backend.present()
        return on

    def _sleep_until(self, wake: float) -> None:
        delay = min(wake - self._clock(), IDLE_S)
        if delay > 0:
            self._wake.wait(delay)

    def _wake_up(self) -> None:
        """Called from the loader and decoder threads: cut the loop's sleep short."""
        self._wake.set()
