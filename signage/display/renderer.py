"""The full-screen pygame renderer: the only module that imports pygame.

Runs in the main thread. `show(content)` asks for a creative; `frame()` draws one
frame and returns what happened (a video ended, media failed, the window closed).
The loop never waits on disk or decoding: images are prepared by a worker thread and
the previous picture stays up until the next is ready; videos decode in their own
thread. Whatever fails, the fallback card is drawn: the screen is never black.

Fault barrier: any exception while preparing or drawing a creative (a card whose text
cannot be rendered, an image that cannot be decoded or is too large, a video that
breaks mid-way, a surface that cannot be converted) becomes a `Failed` event and the
fallback card, logged once per file version. A `pygame.error` from the display itself,
or Xlib reporting a dead connection (see xloss.py), marks the display lost; the window
is reopened when a display is there again.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import subprocess
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")
# SDL may present through OpenGL; Mesa would then cache compiled shaders under
# ~/.cache. The kiosk writes nothing it does not need to.
os.environ.setdefault("MESA_SHADER_CACHE_DISABLE", "true")

import pygame  # noqa: E402

from signage.config import DisplayConfig  # noqa: E402
from signage.display.content import Content, rgb  # noqa: E402
from signage.fields import within  # noqa: E402
from signage.display.layout import logical_size, rotate_rect  # noqa: E402
from signage.display.media import (ImageCache, Loader, VideoPlayback, file_key,  # noqa: E402
                                   render_card)
from signage.display.fonts import TextRenderer  # noqa: E402
from signage.display.xloss import XLossGuard  # noqa: E402

logger = logging.getLogger(__name__)
DisplayError = pygame.error  # what a display that is not there raises, for callers that do not import pygame

FALLBACK_ID = "fallback"
REOPEN_AFTER_S = 2.0
MAX_REMEMBERED = 10_000  # bad file versions kept, so a bad file is not retried every cycle


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


@dataclass
class RenderStats:
    showing: str = FALLBACK_ID
    since: float = 0.0  # monotonic time it went on screen
    frames: int = 0
    dropped: int = 0  # video frames skipped because they were late
    late: int = 0  # frames that took more than 1.5 frame budgets to draw
    video_frames: int = 0  # video frames shown
    render_ms: float = 0.0  # running mean of the time to draw a frame
    state: str = "starting"  # ok, off (power schedule), lost (display gone), starting
    errors: list[str] = field(default_factory=list)


class Renderer:
    def __init__(self, config: DisplayConfig, clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone()):
        self.config = config
        self._clock, self._wall = clock, wall
        self.stats = RenderStats()
        self.screen = None
        self._cache = ImageCache(config.cache_mb * 1024 * 1024)
        self._loader = Loader()
        self._bad: dict[tuple, str] = {}  # file version -> reason: skipped until the file changes
        self._current: _Showing | None = None
        self._incoming: _Showing | None = None  # waiting for its image to be prepared
        self._previous = None  # snapshot of the last frame, for crossfades
        self._fade: tuple[float, float] | None = None  # (start, seconds)
        self._notice_visible = True
        self._notice = None
        self._events: list = []
        self._power_on = True
        self._lost_since: float | None = None
        self._frame_clock = None
        self._guard = XLossGuard()
        self._reported: set[tuple] = set()  # failures already logged (file version or card)
        self._unavailable_logged = False
        self._ever_opened = False

    # ----- window -----------------------------------------------------------------

    def open(self) -> None:
        """Create the window (full-screen at native resolution, or windowed). With no
        display at all and no SDL_VIDEODRIVER chosen, run headless rather than fail."""
        try:
            _init_video()
        except pygame.error as exc:
            if os.environ.get("SDL_VIDEODRIVER") or self._ever_opened:
                raise  # a display that was there and went away: wait for it, never go headless
            logger.warning("no display found (%s); running headless (SDL_VIDEODRIVER=dummy)", exc)
            os.environ["SDL_VIDEODRIVER"] = "dummy"
            pygame.display.init()
        pygame.font.init()
        driver = pygame.display.get_driver()
        if driver == "x11":
            # A plain XShm framebuffer, no GL context: nothing to tear down on a dead server.
            os.environ.setdefault("SDL_FRAMEBUFFER_ACCELERATION", "0")
        flags = pygame.FULLSCREEN if self.config.fullscreen else 0
        size = self.config.size or ((0, 0) if self.config.fullscreen else (1280, 720))
        try:
            self.screen = pygame.display.set_mode(size, flags, display=self.config.display)
        except pygame.error:
            self.screen = pygame.display.set_mode(size, flags)  # drivers without multi-display
        if driver == "x11":
            info = pygame.display.get_wm_info()
            self._guard.install(_capsule_pointer(info.get("display")), int(info.get("window") or 0))
        pygame.display.set_caption("signage")
        pygame.mouse.set_visible(False)
        self.logical = logical_size(self.screen.get_size(), self.config.rotation)
        try:
            self._notice = self._render_notice()
        except Exception as exc:  # a notice that cannot be drawn must not keep the screen dark
            logger.error("measurement notice cannot be drawn: %s", exc)
            self._notice = None
        self._frame_clock = pygame.time.Clock()
        self.stats.state = "ok"
        self._ever_opened = True
        self._lost_since = None
        self._unavailable_logged = False
        logger.info("display open: %dx%d (%s), rotation %d", *self.screen.get_size(),
                    pygame.display.get_driver(), self.config.rotation)
        if self._current is None:
            self.show_fallback()

    def close(self) -> None:
        for showing in (self._current, self._incoming):
            if showing and showing.video:
                showing.video.close()
        self._loader.close()
        self._cache.clear()
        if self._guard.lost:
            self._guard.release_window()
        pygame.display.quit()

    # ----- what to show ---------------------------------------------------------------

    def show(self, content: Content) -> None:
        """Switch to `content` with its transition, as soon as it is ready. Never raises
        for a bad creative: it becomes a Failed event and the fallback. The newest request
        wins: an image still being prepared for an earlier request is dropped."""
        self._drop_incoming()
        if self.screen is None:  # display lost: shown once it is back
            if self._current is not None and self._current.video is not None:
                self._current.video.close()
            self._current = _Showing(content)
            return
        showing = _Showing(content)
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
            showing.failed = _reason(exc)
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

    def _prepare_card(self, showing: _Showing) -> None:
        content = showing.content
        key = ("card", content, self.logical, self.config.rotation)
        showing.surface = self._cache.get(key)
        if showing.surface is not None:
            return
        try:
            surface = render_card(content, self.logical, pygame)
        except Exception as exc:
            if content.id != FALLBACK_ID:
                raise
            # the fallback card never fails: its background alone still says "alive"
            logger.error("fallback card text cannot be drawn (%s); showing its background only", _reason(exc))
            surface = pygame.Surface(self.logical)
            surface.fill(_colour(content.background))
        showing.surface = self._oriented(surface)
        self._cache.put(key, showing.surface, self.logical[0] * self.logical[1] * 4)

    def set_notice_visible(self, visible: bool) -> None:
        """The measurement notice shows while the camera is in use."""
        self._notice_visible = visible

    def _request_image(self, showing: _Showing) -> None:
        content = showing.content
        try:
            key = (*file_key(content.path), content.fit, self.logical, self.config.rotation)
        except OSError as exc:
            showing.failed = f"{content.path}: {exc.strerror}"
            return
        if key[:3] in self._bad:
            showing.failed = self._bad[key[:3]]
            return
        showing.key = key
        showing.surface = self._cache.get(key)
        if showing.surface is None:
            showing.future = self._loader.submit(content.path, self.logical, content.fit, self.config.rotation,
                                                 self.config.max_image_pixels)

    def _start_video(self, showing: _Showing) -> None:
        content = showing.content
        try:
            key = file_key(content.path)
        except OSError as exc:
            showing.failed = f"{content.path}: {exc.strerror}"
            return
        if key in self._bad:
            showing.failed = self._bad[key]
            return
        showing.key = key
        showing.video = VideoPlayback(content, self.logical, self.config.rotation, self.config.max_image_pixels)

    def _switch(self, showing: _Showing) -> None:
        old = self._current
        if showing.content.transition == "fade" and old is not None and self.screen is not None:
            self._previous = self.screen.copy()
            self._fade = (self._clock(), max(showing.content.fade_seconds, 1e-3))
        else:
            self._fade = self._previous = None
        if old is not None and old.video is not None:
            old.video.close()
        showing.started = self._clock()
        self._current = showing
        self.stats.showing, self.stats.since = showing.content.id, showing.started

    def _fail(self, content: Content, reason: str) -> None:
        """Report once per file version (or card), mark the file bad until it changes,
        show the fallback."""
        report: tuple = ("card", content)
        version = None
        if content.path is not None:
            try:
                report = version = file_key(content.path)
            except OSError:
                report = (str(content.path), reason)
        if len(self._reported) >= MAX_REMEMBERED or len(self._bad) >= MAX_REMEMBERED:
            self._reported.clear()  # months of edits: forget old versions, at worst log again
            self._bad.clear()
        if version is not None:
            self._bad[version] = reason
        if report not in self._reported:
            self._reported.add(report)
            where = f" ({content.path})" if content.path is not None else ""
            logger.error("creative %s%s cannot be shown: %s", content.id, where, reason)
        self.stats.errors = (self.stats.errors + [f"{content.id}: {reason}"])[-10:]
        self._events.append(Failed(content.id, reason))
        if content.id != FALLBACK_ID:
            self.show_fallback()
        elif self.screen is not None:  # unreachable by design; still never leave it dark
            self.screen.fill(_colour(content.background))

    # ----- the frame loop ---------------------------------------------------------------

    def frame(self) -> list:
        """Draw one frame (waiting out the frame-rate cap); returns what happened."""
        if self.screen is None:
            self._try_reopen()
        else:
            try:
                powered = self._powered()
            except pygame.error as exc:  # blanking the screen found the display gone
                self._display_gone(exc, force=True)
                powered = None
            if powered:
                self._draw_frame()
            elif powered is False:
                self._frame_clock.tick(min(self.config.fps, 5))
        events, self._events = self._events, []
        return events

    def _draw_frame(self) -> None:
        started = time.perf_counter()
        try:
            for event in pygame.event.get():
                if event.type == pygame.QUIT:
                    self._events.append(WindowClosed())
            if self._guard.lost:
                raise pygame.error("X server connection lost")
            self._collect_incoming()
            self._draw_guarded()
            pygame.display.flip()
            if self._guard.lost:
                raise pygame.error("X server connection lost")
        except pygame.error as exc:  # the display went away (X server, DRM device)
            self._display_gone(exc, force=True)
            return
        spent = (time.perf_counter() - started) * 1000
        self.stats.frames += 1
        self.stats.render_ms += (spent - self.stats.render_ms) * 0.05
        if spent > 1500 / self.config.fps:
            self.stats.late += 1
        self._frame_clock.tick(self.config.fps)

    def _collect_incoming(self) -> None:
        incoming = self._incoming
        if incoming is None or not incoming.future.done():
            return
        self._incoming = None
        try:
            pixels = incoming.future.result()
            surface = pygame.image.frombuffer(pixels.tobytes(), pixels.shape[1::-1], "RGB").convert()
        except Exception as exc:
            if self._display_gone(exc):
                return
            self._fail(incoming.content, _reason(exc))
            return
        self._cache.put(incoming.key, surface, pixels.shape[0] * pixels.shape[1] * 4)
        incoming.surface = surface
        self._switch(incoming)

    def _draw_guarded(self) -> None:
        """Draw; a creative that breaks while drawn (a video frame that cannot be
        converted...) fails over to the fallback, drawn in the same frame."""
        try:
            self._draw()
        except Exception as exc:
            if self._display_gone(exc) or self._current is None:
                raise pygame.error(_reason(exc)) from exc
            self._fail(self._current.content, _reason(exc))
            self._draw()

    def _draw(self) -> None:
        current = self._current
        if current is None:
            return
        if current.video is not None:
            self._draw_video(current)
        elif current.surface is not None:
            self.screen.blit(current.surface, (0, 0))
        if self._fade is not None:
            start, seconds = self._fade
            progress = (self._clock() - start) / seconds
            if progress >= 1:
                self._fade = self._previous = None
            else:  # the old picture fades out over the new one
                self._previous.set_alpha(round(255 * (1 - progress)))
                self.screen.blit(self._previous, (0, 0))
        if self._notice is not None and self._notice_visible:
            self.screen.blit(*self._notice)

    def _draw_video(self, current: _Showing) -> None:
        video = current.video
        frame = video.frame_at(self._clock() - current.started)
        if video.error:
            self._fail(current.content, video.error)
            self._draw()
            return
        if frame is not None:
            surface = pygame.image.frombuffer(frame.pixels.tobytes(), frame.pixels.shape[1::-1], "RGB")
            w, h = frame.pixels.shape[1::-1]
            if self.config.rotation in (90, 270):
                w, h = h, w
            x, y, _, _ = rotate_rect((*frame.dest, w, h), self.logical, self.config.rotation)
            current.last_frame = surface, (x, y), frame.dest != (0, 0)
            self.stats.video_frames += 1
        if current.last_frame is not None:  # until the first frame: the previous picture stays
            surface, position, bars = current.last_frame
            if bars or self._fade is not None:
                self.screen.fill((0, 0, 0))
            self.screen.blit(surface, position)
        if video.ended and not current.reported_end:
            current.reported_end = True
            self._events.append(Ended(current.content.id))
        self.stats.dropped += video.dropped
        video.dropped = 0

    # ----- helpers ------------------------------------------------------------------

    def _oriented(self, surface):
        """A logical-layout surface turned onto the screen."""
        if self.config.rotation:
            surface = pygame.transform.rotate(surface, -self.config.rotation)
        return surface.convert() if pygame.display.get_surface() else surface

    def _render_notice(self):
        notice = self.config.notice
        if not notice.enabled:
            return None
        text = TextRenderer(pygame, notice.size).render(notice.text, (255, 255, 255))  # any script
        pad = notice.size // 3
        box = pygame.Surface((text.get_width() + 2 * pad, text.get_height() + 2 * pad), pygame.SRCALPHA)
        box.fill((0, 0, 0, 170))
        box.blit(text, (pad, pad))
        w, h = box.get_size()
        lw, lh = self.logical
        margin = notice.size // 2
        x = margin if "left" in notice.corner else lw - w - margin
        y = margin if "top" in notice.corner else lh - h - margin
        sx, sy, _, _ = rotate_rect((x, y, w, h), self.logical, self.config.rotation)
        if self.config.rotation:
            box = pygame.transform.rotate(box, -self.config.rotation)
        return box.convert_alpha(), (sx, sy)

    def _powered(self) -> bool:
        now = self._wall()
        on = not within(self.config.power.off, now)
        if on != self._power_on:
            self._power_on = on
            self.stats.state = "ok" if on else "off"
            logger.info("power schedule: screen %s", "on" if on else "off")
            _run(self.config.power.command_on if on else self.config.power.command_off)
            if not on:
                self.screen.fill((0, 0, 0))
                pygame.display.flip()
        return on

    def _display_gone(self, exc: BaseException, force: bool = False) -> bool:
        """If the display itself failed (not the creative), mark it lost and say so."""
        if not (force or self._guard.lost or (isinstance(exc, pygame.error) and not pygame.display.get_init())):
            return False
        if self.screen is not None:
            logger.error("display lost (%s); reopening when a display is there again", _reason(exc))
        if self._guard.lost:
            self._guard.release_window()
        try:
            pygame.display.quit()
        except Exception:  # noqa: BLE001 - the display is gone either way
            pass
        self.screen, self.stats.state, self._lost_since = None, "lost", self._clock()
        self._fade = self._previous = None
        self._cache.clear()  # surfaces were converted for the old display
        return True

    def _try_reopen(self) -> None:
        if self._lost_since is not None and self._clock() - self._lost_since < REOPEN_AFTER_S:
            time.sleep(0.05)
            return
        wanted = self._current.content if self._current is not None else None
        if self._current is not None and self._current.video is not None:
            self._current.video.close()
        self._current = self._incoming = None
        try:
            pygame.display.quit()
            self._cache.clear()  # surfaces were converted for the old display
            self.open()
            if wanted is not None and wanted.id != FALLBACK_ID:
                self.show(wanted)
            if self.screen is not None:
                logger.info("display back: showing %s", self.stats.showing)
        except pygame.error as exc:
            self.screen = None
            self._current = _Showing(wanted) if wanted is not None else None
            self._lost_since = self._clock()
            if not self._unavailable_logged:
                self._unavailable_logged = True
                logger.warning("display still unavailable (%s); retrying every %.0f s", exc, REOPEN_AFTER_S)

    def reopen(self) -> None:
        """Re-create the window (after the window was closed, in kiosk mode)."""
        self.screen, self._lost_since = None, None
        self._try_reopen()

    def has_video_frame(self) -> bool:
        return self._current is not None and self._current.last_frame is not None

    def save_screenshot(self, path: Path) -> None:
        pygame.image.save(self.screen, str(path))

    def pixels(self):
        """The window's pixels as an (h, w, 3) array (tests and preview)."""
        return pygame.surfarray.array3d(self.screen).swapaxes(0, 1)


@dataclass
class _Showing:
    content: Content
    surface: object = None
    video: VideoPlayback | None = None
    future: Future | None = None
    key: tuple | None = None
    failed: str | None = None
    started: float = 0.0
    last_frame: tuple | None = None
    reported_end: bool = False

    @property
    def ready(self) -> bool:
        """Images wait for their pixels; a video starts at once (the previous picture
        stays until its first frame is decoded)."""
        return self.surface is not None or self.video is not None


def _init_video(attempts: int = 3) -> None:
    """SDL's x11 driver occasionally fails to connect right after a previous shutdown
    ("x11 not available"); a moment later it works."""
    for attempt in range(attempts):
        try:
            pygame.display.init()
            return
        except pygame.error:
            if attempt == attempts - 1:
                raise
            time.sleep(0.1)


def _capsule_pointer(capsule) -> int:
    """The C pointer inside a PyCapsule (how pygame-ce reports SDL's Xlib Display*)."""
    if isinstance(capsule, int):
        return capsule
    import ctypes

    get = ctypes.pythonapi.PyCapsule_GetPointer
    get.restype, get.argtypes = ctypes.c_void_p, [ctypes.py_object, ctypes.c_char_p]
    name = ctypes.pythonapi.PyCapsule_GetName
    name.restype, name.argtypes = ctypes.c_char_p, [ctypes.py_object]
    return get(capsule, name(capsule)) or 0


def _reason(exc: BaseException) -> str:
    """One line for status and the log: the exception's own words, its type if none."""
    text = " ".join(str(exc).split())
    if isinstance(exc, MemoryError):
        return "not enough memory to prepare it"
    return text[:300] if text else type(exc).__name__


def _colour(value: str) -> tuple[int, int, int]:
    try:
        return rgb(value)
    except (ValueError, IndexError):
        return (32, 32, 32)


def _fallback_content(config: DisplayConfig) -> Content:
    fallback = config.fallback
    return Content(id=FALLBACK_ID, type="card", text=fallback.text, background=fallback.background,
                   color=fallback.color)


def _run(argv: list[str]) -> None:
    """Run a configured power command (an argv list, never a shell string)."""
    if not argv:
        return
    try:
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        logger.error("power command %s failed: %s", argv, exc)
