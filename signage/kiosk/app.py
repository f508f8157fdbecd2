"""The kiosk: its parts, their lifecycle and the signals; the only module that wires them all.

Threads, and what each one owns (nothing else is shared):
- main thread: the renderer, the player (rules engine), the metrics aggregator,
  problems and status, the systemd watchdog. It alone changes what is on screen.
- capture and analysis (VisionWorker): the camera and every frame. They hand
  AudienceSnapshots to the main thread through `AudienceHandoff`, the one lock
  between vision and rules.
- telemetry (paho's network thread and the spool pump): the MQTT connection and the
  spool. Commands arrive on paho's thread and only queue for the main thread, which
  checks them against the running playlist and answers (state echo or refusal).
- playlist watcher (its own thread): owns the playlist files; new playlists and
  rejections reach the main thread through `watcher.events`; a playlist reload (MQTT,
  and SIGHUP's second half) is a request the watcher thread services.

SIGHUP's configuration reload (reload.py) does run on the main thread: it builds the
new parts that changed (models, a camera, the playlists with their video probes)
before swapping them in, and the screen holds its last picture meanwhile (reload.py
says how long that took).

Where the rest lives: the frame loop's steps in `loop.py`, what is counted and sent in
`counting.py`, the privacy mode and its schedule in `privacy.py`, status and stuck
threads in `health.py`, telemetry's start and stop in `uplink.py`, the playlists at
boot and from the watcher in `playlists.py`, signals and the orderly stop in
`lifecycle.py`, MQTT commands in `commands.py`, SIGHUP in `reload.py`.

Every step of the loop runs behind a fault barrier, and so does every step of the
worker threads: an unforeseen exception costs one step, is logged once and shows in
status, never the process. The window opens first, so the screen is lit (fallback
card) before anything that can fail is tried.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import threading
import time
from pathlib import Path
from typing import Callable

from signage import __version__
from signage.audience import AudienceSnapshot
from signage.config import Config, check_runtime_paths, load_config
from signage.kiosk import lifecycle, loop, playlists, privacy, uplink
from signage.kiosk.content import content_of
from signage.kiosk.counting import count_audience
from signage.kiosk.handoff import AudienceHandoff
from signage.kiosk.health import status_of, stuck_thread
from signage.kiosk.problems import Barrier, Problems
from signage.kiosk.status import StatusPublisher
from signage.kiosk.systemd import Notifier
from signage.kiosk.vision import VisionStage, open_configured_source
from signage.kiosk.watchdog import Watchdog
from signage.playlist.loader import Playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.telemetry.metrics import Aggregator
from signage.wire.commands import Command, CommandRejected

logger = logging.getLogger(__name__)


class Observer:
    """Hooks a bench or a test injects to watch the kiosk; production runs this no-op.
    `screen`: a display RenderObserver to hand to the renderer (what is presented)."""

    screen = None

    def snapshot(self, snapshot: AudienceSnapshot) -> None:
        """Called on the analysis thread for every analysed frame."""

    def showing(self, creative: str | None, t: float) -> None:
        """Called on the main thread when a creative is asked for (None: the fallback)."""


class Kiosk:
    def __init__(self, config: Config, config_path: Path | None = None, duration: float | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], dt.datetime] = lambda: dt.datetime.now().astimezone(),
                 observer: Observer | None = None, open_source=open_configured_source,
                 reread: Callable[[], Config] | None = None):
        """`reread` makes the configuration again for SIGHUP (the file plus the same
        command-line overrides); by default the file at `config_path`, if any."""
        self.config, self.config_path, self.duration = config, config_path, duration
        self.reread = reread or ((lambda: load_config(config_path)) if config_path is not None else None)
        self.clock, self.wall = clock, wall  # monotonic for durations; wall time for the schedule and stamps
        self.observer = observer or Observer()
        self.started = clock()
        self.handoff = AudienceHandoff()
        self.problems = Problems()
        self.barrier = Barrier(self.problems)
        self.vision = VisionStage(self.problems, self._on_snapshot, open_source)
        self.watchdog = Watchdog(Notifier(), clock)
        self.status_publisher = StatusPublisher(clock)
        self.commands: queue.Queue[Command] = queue.Queue(maxsize=100)
        self.privacy = privacy.Privacy.at_start(config.privacy, wall())
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self.last_metrics = clock()
        self.aggregator = Aggregator(config.site, config.device, config.privacy.min_group, now=wall(), t=clock())
        self.telemetry = None
        self.renderer = None
        self.player: Player | None = None
        self.scheduled_on_screen: str | None = None  # what status says is playing (health.playing)
        self.watcher = None
        self.watcher_faults = 0
        self.retired_faults = 0  # of the telemetry links and watchers a reload replaced (status: since start)
        self.previous_handlers: dict = {}  # signal handlers to put back at the end

    # ----- start and stop ------------------------------------------------------------------

    def run(self) -> int:
        """Until SIGTERM/SIGINT, --duration, or the end of a non-looping video source."""
        check_runtime_paths(self.config)  # a spool the service user cannot write: one clear message, exit 2
        lifecycle.install_signals(self)
        clean = False
        try:
            self.open_display()  # first: the fallback card lights the screen before anything else
            self.player = Player(Playlist.nothing())
            self.watcher = playlists.watcher_for(self.config)
            playlists.adopt(self, playlists.boot(self.watcher, self.problems))
            # Behind the barrier: a part that cannot start is reported, the screen stays lit.
            self.telemetry = self.barrier.run("start: telemetry", uplink.start, self, self.config) or \
                uplink.Unstarted("telemetry: an unexpected fault (the log says which)", "", self.clock(), self.config)
            if not self.privacy.on:
                self.barrier.run("start: vision", self.start_vision)
            self.barrier.run("start: playlist watcher", self.watcher.start)
            self.watchdog.notifier.ready(f"playing on {self.config.site}/{self.config.device}")
            logger.info("signage %s running: site %s, device %s", __version__, self.config.site, self.config.device)
            while not self.stop_requested.is_set():
                if self.barrier.run("frame loop", loop.tick, self) is None and self.problems.get("fault:frame loop"):
                    time.sleep(0.05)  # a fault that repeats every frame must not spin a core
                if self.duration is not None and self.clock() - self.started >= self.duration:
                    logger.info("--duration reached")
                    break
                if self.vision.ended and not self.config.source.loop:
                    logger.info("the video source ended")
                    break
            clean = True
        finally:
            lifecycle.shutdown(self, clean)
        return 0

    def stop(self) -> None:
        self.stop_requested.set()

    def reload(self) -> None:
        """As SIGHUP: re-read the configuration and the playlists."""
        self.reload_requested.set()

    # ----- the parts ------------------------------------------------------------------------------

    def new_renderer(self, display):
        """A renderer for `display` settings, watched by the injected observer (not open yet)."""
        from signage.display.renderer import Renderer

        return Renderer(display, clock=self.clock, wall=self.wall, observer=self.observer.screen)

    def open_display(self) -> None:
        from signage.display.renderer import DisplayError

        self.renderer = self.new_renderer(self.config.display)
        try:
            self.renderer.open()
        except DisplayError as exc:  # not there yet (a DRM device still coming up): retried every 2 s
            logger.error("no display yet (%s, SDL_VIDEODRIVER=%s); retrying every 2 s", exc,
                         os.environ.get("SDL_VIDEODRIVER", "auto"))
            self.renderer.reopen()

    def start_vision(self, prepared=None) -> None:
        self.vision.start(self.config, prepared)
        self.renderer.set_notice_visible(self.vision.running)

    def stop_vision(self) -> None:
        self.vision.stop()
        count_audience(self)
        self.handoff.clear()
        self.renderer.set_notice_visible(False)

    def show(self, creative: str | None) -> None:
        playlist, current = self.player.playlist, self.player.current
        if not (current and current.audience):
            self.scheduled_on_screen = creative if creative in playlist.creatives else None
        if creative is None or creative not in playlist.creatives:
            self.renderer.show_fallback()
        else:
            self.renderer.show(content_of(playlist, creative))
        self.observer.showing(creative, self.clock())

    def now(self) -> Now:
        return Now(self.clock(), self.wall())

    def _on_snapshot(self, snapshot: AudienceSnapshot) -> None:
        self.handoff.put(snapshot)
        self.observer.snapshot(snapshot)

    def on_command(self, command: Command) -> None:
        """paho's thread: queue it; the main thread checks it and answers (kiosk/commands.py)."""
        try:
            self.commands.put_nowait(command)
        except queue.Full:
            raise CommandRejected("too many commands waiting; try again in a moment") from None

    # ----- status and health ----------------------------------------------------------------

    def publish_status(self, force: bool = False) -> None:
        if self.telemetry is not None:
            self.status_publisher.maybe_publish(self.status, self.telemetry.set_status, force)

    def status(self) -> dict:
        """The status message as published (any thread may ask: building it changes nothing)."""
        return status_of(self, self.telemetry.health() if self.telemetry else None).payload()

    def stuck(self, stale: float) -> str | None:
        """A thread that made no progress within `stale` seconds, or None."""
        return stuck_thread(self, stale)
