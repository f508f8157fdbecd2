"""The kiosk: its parts, their lifecycle and the signals; the only module that wires them all.

A camera frame to the creative on screen: the vision worker (capture and analysis
threads) hands an AudienceSnapshot to the `AudienceCounter`'s handoff; each turn of the
frame loop the counter gives the rules (the `Player`) the smoothed audience, the
player's decision goes to the `Screen`, whose renderer draws it. An audience count to
a fleet row: the counter adds each snapshot and each finished play into its
aggregator, and sends proof of play and each interval's metrics to the `Uplink`, the
owner of the telemetry link (hold, spool, pump, paho), whose broker the fleet's ingest
reads into its database. docs/architecture.md draws both paths.

Threads, and what each one owns (nothing else is shared):
- main thread: the screen and its renderer, the player (rules engine), the audience
  counter's aggregator, problems and status, the systemd watchdog. It alone changes
  what is on screen.
- capture and analysis (VisionWorker): the camera and every frame. They hand
  AudienceSnapshots to the main thread through the counter's `AudienceHandoff`, the one
  lock between vision and rules.
- telemetry (paho's network thread and the spool pump): the MQTT connection and the
  spool. Commands arrive on paho's thread and only queue (`Commands`) for the main
  thread, which checks them against the running playlist and answers (state echo or
  refusal).
- playlist watcher (its own thread): owns the playlist files; new playlists and
  rejections reach the main thread through its events; a playlist reload (MQTT, and
  SIGHUP's second half) is a request the watcher thread services.

Each part owns its state and is changed only through its own methods: `Screen`
(screen.py), `AudienceCounter` (counting.py), `Uplink` (uplink.py), `Privacy`
(privacy.py), `Playlists` (playlists.py), `Commands` (commands.py), `VisionStage`
(vision.py). The frame loop's steps are in `loop.py`, status and stuck threads in
`health.py`, signals and the orderly stop in `lifecycle.py`, SIGHUP in `reload.py`
(it runs on the main thread: it builds the new parts that changed before handing
them over, and the screen holds its last picture meanwhile).

Every step of the loop runs behind the one fault barrier (faults.py), and so does every
step of the worker threads: an unforeseen exception costs one step, is logged once per
kind and shows in status, never the process. The window opens first, so the screen is
lit (fallback card) before anything that can fail is tried.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Callable

from signage import __version__
from signage.audience import AudienceSnapshot
from signage.config import Config, check_runtime_paths, load_config
from signage.faults import Barrier
from signage.kiosk import lifecycle, loop, reload
from signage.kiosk.commands import Commands
from signage.kiosk.counting import AudienceCounter
from signage.kiosk.health import status_of, stuck_thread
from signage.kiosk.playlists import Playlists
from signage.kiosk.privacy import Privacy
from signage.kiosk.problems import Problems
from signage.kiosk.releases import Releases
from signage.kiosk.creative_faults import CreativeFaults
from signage.kiosk.screen import Screen
from signage.kiosk.status import StatusPublisher
from signage.kiosk.systemd import Notifier
from signage.kiosk.uplink import Uplink
from signage.kiosk.vision import VisionStage, open_configured_source
from signage.kiosk.watchdog import Watchdog
from signage.playlist.loader import Playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.playlist.watcher import PlaylistWatcher
from signage.wire.commands import Command

if TYPE_CHECKING:
    from signage.display.events import RenderObserver
    from signage.display.renderer import Renderer
    from signage.kiosk.uplink import Unstarted
    from signage.telemetry.mqtt import Telemetry

logger = logging.getLogger(__name__)


class Observer:
    """Hooks a bench or a test injects to watch the kiosk; production runs this no-op.
    `screen`: a display RenderObserver to hand to the renderer (what is presented)."""

    screen: RenderObserver | None = None

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
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self.problems = Problems()
        self.barrier = Barrier(logger, report=self.problems.report_fault)
        self.player = Player(Playlist.nothing())
        self.creative_faults = CreativeFaults(self.problems, config.privacy.min_group, wall)
        self.screen = Screen(self.player, self.creative_faults, clock, self.now, wall, self.observer.screen,
                             self.observer.showing)
        self.uplink = Uplink(self.on_command, clock, on_announcement=self._on_announcement)
        self.counter = AudienceCounter(config, self.barrier, self.uplink.send, clock, wall,
                                       seen=self.creative_faults.saw, keep=self.uplink.keep_held)
        self.vision = VisionStage(config, self.problems, self._on_snapshot, self.counter.vision_stopped,
                                  self.screen.set_notice, open_source)
        self.privacy = Privacy(config.privacy, wall(), self.vision, self.uplink, self._status_changed)
        self.playlists = Playlists(self.problems, self.player, self.uplink, self.screen, self.now)
        self.releases = Releases(config, self.problems, self.uplink.refuse, self.playlists.request_reload)
        self.commands = Commands(self.player, self.privacy, self.playlists, self.screen, self.uplink, self.now, wall)
        self.watchdog = Watchdog(Notifier(), clock)
        self.status_publisher = StatusPublisher(clock)

    # ----- start and stop ------------------------------------------------------------------

    def run(self) -> int:
        """Until SIGTERM/SIGINT, --duration, or the end of a non-looping video source."""
        check_runtime_paths(self.config)  # a spool the service user cannot write: one clear message, exit 2
        previous_handlers = lifecycle.install_signals(self.stop_requested, self.reload_requested)
        clean = False
        try:
            self.screen.open(self.config.display)  # first: the fallback card lights the screen before anything else
            self.playlists.boot(self.config)
            # Behind the barrier: a part that cannot start is reported, the screen stays lit.
            self.barrier.run("start: telemetry", self.uplink.start, self.config, self.privacy.on)
            self.barrier.run("start: held plays", self.counter.restore, self.uplink.read_held)  # before any is kept
            if not self.privacy.on:
                self.barrier.run("start: vision", self.vision.start)
            self.barrier.run("start: playlist watcher", self.playlists.start)
            self.barrier.run("start: content", self.releases.start)
            self.watchdog.notifier.ready(f"playing on {self.config.site}/{self.config.device}")
            logger.info("signage %s running: site %s, device %s", __version__, self.config.site, self.config.device)
            while not self.stop_requested.is_set():
                self.barrier.run("frame loop", loop.tick, self)
                if self.barrier.failing("frame loop"):
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
            lifecycle.restore_signals(previous_handlers)
        return 0

    def stop(self) -> None:
        self.stop_requested.set()

    def reload(self) -> None:
        """As SIGHUP: re-read the configuration and the playlists."""
        self.reload_requested.set()

    def reload_config(self) -> None:
        """A loop step (SIGHUP): the configuration file again, all of it or none
        (reload.py), then the playlists; a vision stage that failed is tried again (the
        model may be fixed)."""
        logger.info("SIGHUP: reloading the configuration and playlists")
        if self.reread is not None:
            began = time.monotonic()
            staged = reload.prepare(self)
            if staged is not None:
                reload.retire(self, staged)  # under the running names
                reload.commit(self, staged)
                self.config = staged.config  # every part has it: status shows all of it at once
                self.barrier.run("reload: status", self.publish_status, True)
            logger.info("the configuration reload held the screen for %.2f s", time.monotonic() - began)
        self.playlists.request_reload()
        if not self.privacy.on and self.problems.get("vision"):
            self.vision.stop()
            self.vision.start()

    # ----- what the threads hand over -------------------------------------------------------

    def now(self) -> Now:
        return Now(self.clock(), self.wall())

    def _on_snapshot(self, snapshot: AudienceSnapshot) -> None:
        """The analysis thread: a snapshot for the counter (and the observer)."""
        self.counter.put(snapshot)
        self.observer.snapshot(snapshot)

    def _on_announcement(self, topic: str, payload: bytes) -> None:
        """paho's thread: a content release is announced (the updater looks at once)."""
        self.releases.announced(topic, payload)

    def on_command(self, command: Command) -> None:
        """paho's thread: queued; the main thread checks it and answers (commands.py)."""
        self.commands.put(command)

    # ----- status and health ----------------------------------------------------------------

    def publish_status(self, force: bool = False) -> None:
        self.status_publisher.maybe_publish(self.status, self.uplink.set_status, force)

    def _status_changed(self) -> None:
        self.publish_status(force=True)

    def status(self) -> dict:
        """The status message as published (any thread may ask: building it changes nothing)."""
        return status_of(self, self.uplink.health()).payload()

    def stuck(self, stale: float) -> str | None:
        """A thread that made no progress within `stale` seconds, or None."""
        return stuck_thread(self.vision, self.uplink, self.playlists, self.releases, stale)

    # ----- for tests and benches: what the parts hold now --------------------------------

    @property
    def renderer(self) -> Renderer | None:
        return self.screen.renderer

    @property
    def telemetry(self) -> Telemetry | Unstarted | None:
        return self.uplink.link

    @property
    def watcher(self) -> PlaylistWatcher | None:
        return self.playlists.watcher
