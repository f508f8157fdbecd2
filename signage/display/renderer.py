"""The full-screen renderer: what is on screen, and when it is presented.

Runs in the main thread. `show(content)` asks for a creative; `frame()` does one
turn of the screen's loop and returns what happened (a video ended, media failed,
the window closed). A picture is presented only when it changes: a still image or
card once, a fade at the display rate for its length, a video at its own frame
rate; in between `frame()` pumps events, checks the power schedule and sleeps
until the next thing can change (pacing.py), so the controller's loop keeps
turning (watchdog, status, rules) at almost no cost. Images are prepared by a
worker thread and uploaded once (textures.py); videos decode in their own thread
(video.py). Whatever fails, the fallback card is drawn: the screen is never black.
Memory does not creep: buffers the size of a picture are mapped on their own,
and what a display loss frees is given back (heap.py); a new playlist makes the cache
forget the pictures of creatives it no longer has (keep_only).

Fault barrier: any exception while preparing or drawing a creative (a card whose text
cannot be rendered, an image that cannot be decoded or is too large, a video that
breaks mid-way, a texture that cannot be made) becomes a `Failed` event and the
fallback card, logged once per file version. A `pygame.error` from the display itself,
or Xlib reporting a dead connection (see xloss.py), marks the display lost; the window
is reopened when a display is there again.
"""

from __future__ import annotations

import datetime as dt
import gc
import io
import logging
import os
import threading
import time
from pathlib import Path
from typing import Callable, Iterable

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
# SDL may present through OpenGL; Mesa would then cache compiled shaders under
# ~/.cache. The kiosk writes nothing it does not need to.
os.environ.setdefault("MESA_SHADER_CACHE_DISABLE", "true")

import pygame  # noqa: E402

from signage.config import DisplayConfig  # noqa: E402
from signage.display import heap  # noqa: E402
from signage.display.content import Content, rgb  # noqa: E402
from signage.display.events import Ended, Failed, RenderObserver, WindowClosed  # noqa: E402,F401
from signage.display.failures import Failures, reason_of  # noqa: E402
from signage.display.media import ImageCache, Loader, file_key, render_card, render_notice  # noqa: E402
from signage.display.pacing import IDLE_S, Pacing  # noqa: E402
from signage.display.power import PowerSchedule  # noqa: E402
from signage.display.scene import Showing, compose  # noqa: E402
from signage.display.video import VideoPlayback  # noqa: E402
from signage.display.window import Screen, init_video, open_screen, x11_handles  # noqa: E402
from signage.display.xloss import XLossGuard  # noqa: E402

logger = logging.getLogger(__name__)
DisplayError = pygame.error  # what a display that is not there raises, for callers that do not import pygame

FALLBACK_ID = "fallback"
REOPEN_AFTER_S = 2.0
EXPOSED = {getattr(pygame, name) for name in ("WINDOWEXPOSED", "VIDEOEXPOSE") if hasattr(pygame, name)}


class RenderStats:
    """What the controller's status shows of the screen."""

    def __init__(self, failures: Failures):
        self.showing = FALLBACK_ID
        self.since = 0.0  # monotonic time it went on screen
        self.ticks = 0  # turns of the screen's loop (presents are far fewer: see RenderObserver)
        self.state = "starting"  # ok, off (power schedule), lost (display gone), starting
        self._failures = failures

    @property
    def errors(self) -> list[str]:
        """The last creatives that could not be shown, "id: reason", newest last."""
        return self._failures.recent


class Renderer:
    def __init__(self, config: DisplayConfig, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone(),
                 observer: RenderObserver | None = None):
        self.config = config
        self._clock, self._wall = clock, wall
        self.observer = observer or RenderObserver()
        self._failures = Failures()
        self.stats = RenderStats(self._failures)
        self.screen: Screen | None = None
        self.logical = (0, 0)
        self._cache = ImageCache(config.cache_mb * 1024 * 1024)
        self._loader = Loader()
        self._current: Showing | None = None
        self._incoming: Showing | None = None  # waiting for its image to be prepared
        self._leaving: Showing | None = None  # fading out, or up until a video's first frame
        self._fade: tuple[float, float] | None = None  # (start, seconds)
        self._notice_visible = True
        self._notice: tuple | None = None  # (picture, logical rect)
        self._events: list = []
        self._power = PowerSchedule(config.power)
        self._lost_since: float | None = None
        self._pacing = Pacing(1 / config.fps)
        self._due_period = 1 / config.fps  # the frame period the next present is judged late against
        self._wake = threading.Event()  # set by the image loader and video decoders: something is ready
        self._guard = XLossGuard()
        self._unavailable_logged = False
        self._ever_opened = False
        self._held: tuple[int, int, int] | None = None  # last told to the observer
        heap.map_large_buffers()  # pictures and frames given back when freed, not left as holes in the heap

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
        self.logical = self.screen.logical
        try:
            self._notice = self._upload_notice()
        except Exception as exc:  # a notice that cannot be drawn must not keep the screen dark
            logger.error("measurement notice cannot be drawn: %s", exc)
            self._notice = None
        self._pacing = Pacing(1 / self.config.fps)
        self._pacing.change(self._clock())
        self.stats.state = "ok"
        self._power.is_on = True
        self._ever_opened = True
        self._lost_since = None
        self._unavailable_logged = False
        backend = self.screen.backend
        self.observer.opened(self.screen.driver, backend.kind, backend.driver, backend.gl)
        logger.info("display open: %dx%d (%s, %s: %s%s), rotation %d", *self.screen.size, self.screen.driver,
                    backend.kind, backend.driver, f", GL {backend.gl}" if backend.gl else "", self.config.rotation)
        if self._current is None:
            self.show_fallback()

    def close(self) -> None:
        for showing in (self._current, self._incoming, self._leaving):
            if showing and showing.video:
                showing.video.close()
        self._loader.close()
        if self._guard.lost:
            self._guard.release_window()
        self._teardown()
        pygame.display.quit()

    def _teardown(self) -> None:
        """Forget every picture, then the renderer and the window: SDL frees a renderer's
        textures with it, so none may outlive it."""
        self._cache.clear()
        for showing in (self._current, self._incoming, self._leaving):
            if showing is not None:
                showing.forget_pictures()
        self._leaving = self._fade = self._notice = None
        self._pacing.stop_fade()
        screen, self.screen = self.screen, None
        if screen is not None:
            gc.collect()  # a picture held in a reference cycle would otherwise outlive its renderer
            try:
                screen.close()
            except Exception:  # noqa: BLE001 - a dead display may refuse; it is gone either way
                pass
            heap.give_back()  # the window, its GL context and every texture were just freed at once

    # ----- what to show ---------------------------------------------------------------

    def show(self, content: Content) -> None:
        """Switch to `content` with its transition, as soon as it is ready. Never raises
        for a bad creative: it becomes a Failed event and the fallback. The newest request
        wins: an image still being prepared for an earlier request is dropped."""
        self._drop_incoming()
        if self.screen is None:  # display lost: shown once it is back
            if self._current is not None and self._current.video is not None:
                self._current.video.close()
            self._current = Showing(content)
            return
        showing = Showing(content)
        try:
            if content.type == "card":
                self._prepare_card(showing)
            elif content.type == "image":
                self._request_image(showing)
            elif content.type == "video":
                self._start_video(showing)
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

    def _drop_incoming(self) -> None:
        incoming, self._incoming = self._incoming, None
        if incoming is not None and incoming.future is not None:
            incoming.future.cancel()  # still queued: never decoded; running: its result is ignored

    def show_fallback(self) -> None:
        """The fallback card from config: when nothing else can be shown."""
        self.show(_fallback_content(self.config))

    def keep_only(self, contents: Iterable[Content]) -> None:
        """Forget the cached pictures of everything but `contents` (the creatives of a new
        playlist) and the fallback: a creative edited away, or an image file replaced, is
        never shown again, and its texture would otherwise stay until the cache is full."""
        keys: set[tuple] = {("card", _fallback_content(self.config), self.logical)}
        for content in contents:
            if content.type == "card":
                keys.add(("card", content, self.logical))
            elif content.type == "image" and content.path is not None:
                try:
                    keys.add((*file_key(content.path), content.fit, self.logical))
                except OSError:
                    continue  # gone: nothing of it to keep
        self._cache.retain(keys)

    def _prepare_card(self, showing: Showing) -> None:
        content = showing.content
        key = ("card", content, self.logical)
        showing.picture = self._cache.get(key)
        if showing.picture is not None:
            return
        try:
            surface = render_card(content, self.logical, pygame)
            showing.picture = self.screen.backend.upload_surface(surface)
        except Exception as exc:
            if content.id != FALLBACK_ID or self._display_gone(exc):
                raise
            # the fallback card never fails: its background alone still says "alive"
            logger.error("fallback card text cannot be drawn (%s); showing its background only", reason_of(exc))
            showing.colour = _colour(content.background)
            return
        self._cache.put(key, showing.picture, self.logical[0] * self.logical[1] * 4)

    def set_notice_visible(self, visible: bool) -> None:
        """The measurement notice shows while the camera is in use."""
        if visible != self._notice_visible:
            self._notice_visible = visible
            self._pacing.change(self._clock())

    def _request_image(self, showing: Showing) -> None:
        content = showing.content
        try:
            key = (*file_key(content.path), content.fit, self.logical)
        except OSError as exc:
            showing.failed = f"{content.path}: {exc.strerror}"
            return
        if self._failures.known(key[:3]):
            showing.failed = self._failures.known(key[:3])
            return
        showing.key = key
        showing.picture = self._cache.get(key)
        if showing.picture is None:
            showing.future = self._loader.submit(content.path, self.logical, content.fit,
                                                 self.config.max_image_pixels)
            showing.future.add_done_callback(lambda _: self._wake.set())

    def _start_video(self, showing: Showing) -> None:
        content = showing.content
        try:
            key = file_key(content.path)
        except OSError as exc:
            showing.failed = f"{content.path}: {exc.strerror}"
            return
        if self._failures.known(key):
            showing.failed = self._failures.known(key)
            return
        showing.key = key
        showing.stream = self.screen.backend.stream()
        showing.video = VideoPlayback(content, self.config.max_image_pixels, self.config.video_decode,
                                      on_frame=self._wake.set)

    def _switch(self, showing: Showing) -> None:
        now = self._clock()
        old, leaving = self._current, self._leaving
        if leaving is not None and leaving is not old and leaving.video is not None:
            leaving.video.close()
        self._leaving, self._fade = None, None
        self._pacing.stop_fade()
        if old is not None and old.video is not None:
            old.video.close()  # its stream keeps its last frame, for the fade
        if old is not None and self.screen is not None and (showing.video is not None
                                                           or showing.content.transition == "fade"):
            self._leaving = old  # a video shows the old picture until its first frame
            if showing.video is None:
                self._start_fade(showing, now)
        showing.started = now
        self._current = showing
        self.stats.showing, self.stats.since = showing.content.id, now
        self._pacing.change(now)

    def _start_fade(self, showing: Showing, now: float) -> None:
        if showing.content.transition == "fade" and self._leaving is not None:
            self._fade = (now, max(showing.content.fade_seconds, 1e-3))
            self._pacing.start_fade(now)
        else:
            self._leaving = None

    def _fail(self, content: Content, reason: str) -> None:
        """Report once per file version (or card), mark the file bad until it changes,
        show the fallback."""
        self._failures.record(content, reason)
        self._events.append(Failed(content.id, reason))
        if content.id != FALLBACK_ID:
            self.show_fallback()
        elif self.screen is not None:  # unreachable by design; still never leave it dark
            self._current = Showing(content, colour=_colour(content.background))
            self._pacing.change(self._clock())

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
        self._report_held()
        events, self._events = self._events, []
        return events

    def _step(self) -> None:
        try:
            self._pump()
            if self._guard.lost:
                raise pygame.error("X server connection lost")
            self._collect_incoming()
            self._guarded(self._advance)
            now = self._clock()
            due = self._pacing.due(now)
            if due is not None:
                started = time.perf_counter()
                self._guarded(self._compose)
                self.screen.backend.present()
                if self._guard.lost:
                    raise pygame.error("X server connection lost")
                late = now - due > 1.5 * self._due_period
                self._pacing.presented(now)
                self._due_period = self._pacing.period
                self.observer.presented(time.monotonic(), time.perf_counter() - started, late)
        except pygame.error as exc:  # the display went away (X server, DRM device)
            self._display_gone(exc, force=True)
            return
        self._sleep_until(self._pacing.wake_at(self._clock(), self._video_due()))

    def _pump(self) -> None:
        for event in pygame.event.get():
            if event.type == pygame.QUIT:
                self._events.append(WindowClosed())
            elif event.type in EXPOSED:  # uncovered (or a compositor lost it): draw it again
                self._pacing.change(self._clock())

    def _sleep_until(self, wake: float) -> None:
        delay = min(wake - self._clock(), IDLE_S)
        if delay > 0:
            self._wake.wait(delay)

    def _video_due(self) -> float | None:
        current = self._current
        if current is None or current.video is None:
            return None
        due = current.video.next_due()
        return None if due is None else current.started + due

    def _collect_incoming(self) -> None:
        incoming = self._incoming
        if incoming is None or not incoming.future.done():
            return
        self._incoming = None
        try:
            pixels = incoming.future.result()
            incoming.picture = self.screen.backend.upload(pixels)
        except Exception as exc:
            if self._display_gone(exc):
                raise pygame.error(reason_of(exc)) from exc
            self._fail(incoming.content, reason_of(exc))
            return
        self._cache.put(incoming.key, incoming.picture, pixels.shape[0] * pixels.shape[1] * 4)
        self._switch(incoming)

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
        if current is None or current.video is None:
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
            self._pacing.change(current.started + frame.pts)
            self._due_period = 1 / video.fps
        if frame is not None or video.dropped:
            self.observer.video_frames(1 if frame is not None else 0, video.dropped)
            video.dropped = 0
        if video.ended and not current.reported_end:
            current.reported_end = True
            self._events.append(Ended(current.content.id))

    def _compose(self) -> None:
        waiting = self._leaving is not None and self._fade is None  # a video's first frame is not there yet
        over, opacity = None, 1.0
        if not waiting and self._fade is not None:
            start, seconds = self._fade
            progress = (self._clock() - start) / seconds
            if progress >= 1:
                self._fade, self._leaving = None, None
                self._pacing.stop_fade()
            else:  # the old picture fades out over the new one
                over, opacity = self._leaving, 1 - progress
        notice = self._notice if self._notice_visible else None
        compose(self.screen.backend, self.logical, self._leaving if waiting else self._current, over, opacity,
                notice)

    # ----- helpers ------------------------------------------------------------------

    def _report_held(self) -> None:
        """Tell the observer what the screen holds, when that changed (once a turn)."""
        videos = {id(s.video): s.video for s in (self._current, self._incoming, self._leaving)
                  if s is not None and s.video is not None}
        held = (self._cache.bytes, len(self._cache), sum(video.held_bytes for video in videos.values()))
        if held != self._held:
            self._held = held
            self.observer.held(*held)

    def _upload_notice(self):
        if not self.config.notice.enabled:
            return None
        surface, rect = render_notice(self.config.notice, self.logical, pygame)
        return self.screen.backend.upload_surface(surface, alpha=True), rect

    def _powered(self) -> bool:
        was_on = self._power.is_on
        on = self._power.on(self._wall())
        if on != was_on:
            self.stats.state = "ok" if on else "off"
            if on:
                self._pacing.change(self._clock())
            else:
                self.screen.backend.clear((0, 0, 0))
                self.screen.backend.present()
        return on

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
        wanted = self._current.content if self._current is not None else None
        for showing in (self._current, self._incoming, self._leaving):
            if showing is not None and showing.video is not None:
                showing.video.close()
        self._teardown()
        self._current = self._incoming = None
        try:
            pygame.display.quit()
            self.open()
            if wanted is not None and wanted.id != FALLBACK_ID:
                self.show(wanted)
            if self.screen is not None:
                logger.info("display back: showing %s", self.stats.showing)
        except pygame.error as exc:
            self._teardown()
            self._current = Showing(wanted) if wanted is not None else None
            self._lost_since = self._clock()
            if not self._unavailable_logged:
                self._unavailable_logged = True
                logger.warning("display still unavailable (%s); retrying every %.0f s", exc, REOPEN_AFTER_S)

    def reopen(self) -> None:
        """Re-create the window (after the window was closed, in kiosk mode)."""
        self._lost_since = None
        self._try_reopen()

    def has_video_frame(self) -> bool:
        current = self._current
        return current is not None and current.stream is not None and current.stream.picture is not None

    def screenshot_png(self) -> bytes:
        """What was presented last, as PNG bytes: encoded in memory, so that the caller
        writes the file and hears of a full disk (SDL's own writer leaves an empty file)."""
        surface = pygame.surfarray.make_surface(self.pixels().swapaxes(0, 1))
        encoded = io.BytesIO()
        pygame.image.save(surface, encoded, "screenshot.png")
        return encoded.getvalue()

    def pixels(self):
        """What was presented last, as an (h, w, 3) RGB array, read back through the
        renderer (tests and preview)."""
        return self.screen.backend.read_pixels()


def _colour(value: str) -> tuple[int, int, int]:
    try:
        return rgb(value)
    except (ValueError, IndexError):
        return (32, 32, 32)


def _fallback_content(config: DisplayConfig) -> Content:
    fallback = config.fallback
    return Content(id=FALLBACK_ID, type="card", text=fallback.text, background=fallback.background,
                   color=fallback.color)
