"""The kiosk: lifecycle, signals and the frame loop; the only module that wires them all.

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
  rejections reach the main thread through `watcher.events`; a reload (SIGHUP, MQTT)
  is a request the watcher thread services, never a load on the main thread.

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
import signal
import threading
import time
from pathlib import Path
from typing import Callable

from signage import __version__
from signage.audience import AudienceSnapshot, AudienceState
from signage.config import Config, check_runtime_paths, load_config
from signage.fields import within
from signage.kiosk import commands as operator
from signage.kiosk.content import content_of
from signage.kiosk.handoff import AudienceHandoff
from signage.kiosk.problems import Barrier, Problems
from signage.kiosk.status import StatusPublisher
from signage.kiosk.systemd import Notifier
from signage.kiosk.vision import VisionStage, open_configured_source
from signage.kiosk.watchdog import Watchdog
from signage.playlist.loader import Playlist
from signage.playlist.watcher import MAX_BACKOFF_S as WATCHER_BACKOFF_S
from signage.playlist.watcher import PlaylistAccepted, PlaylistRejected, WatcherFault
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.telemetry.commands import Command, CommandRejected
from signage.telemetry.metrics import Aggregator, play_message

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
        self._clock, self._wall = clock, wall
        self.observer = observer or Observer()
        self.started = clock()
        self.handoff = AudienceHandoff()
        self.problems = Problems()
        self.barrier = Barrier(self.problems)
        self.vision = VisionStage(self.problems, self._on_snapshot, open_source)
        self.watchdog = Watchdog(Notifier(), clock)
        self.status_publisher = StatusPublisher(clock)
        self.commands: queue.Queue[Command] = queue.Queue(maxsize=100)
        self.privacy = config.privacy.start_in_privacy
        self.privacy_forced: bool | None = True if config.privacy.start_in_privacy else None
        self.stop_requested = threading.Event()
        self.reload_requested = threading.Event()
        self._last_metrics = clock()
        self.telemetry = None
        self.renderer = None
        self.player: Player | None = None
        self.watcher = None
        self.watcher_faults = 0

    # ----- start and stop ------------------------------------------------------------------

    def run(self) -> int:
        """Until SIGTERM/SIGINT, --duration, or the end of a non-looping video source."""
        check_runtime_paths(self.config)  # a spool the service user cannot write: one clear message, exit 2
        self._install_signals()
        clean = False
        try:
            self.open_display()  # first: the fallback card lights the screen before anything else
            self.player = Player(Playlist.nothing())
            self.adopt_playlist(operator.boot_playlist(self))
            self.aggregator = Aggregator(self.config.site, self.config.device, self.config.privacy.min_group,
                                         now=self._wall())
            # Behind the barrier: a part that cannot start is reported, the screen stays lit.
            self.telemetry = self.barrier.run("start: telemetry", operator.start_telemetry, self)
            if not self.privacy:
                self.barrier.run("start: vision", self.start_vision)
            self.barrier.run("start: playlist watcher", self.watcher.start)
            self.watchdog.notifier.ready(f"playing on {self.config.site}/{self.config.device}")
            logger.info("signage %s running: site %s, device %s", __version__, self.config.site, self.config.device)
            while not self.stop_requested.is_set():
                if self.barrier.run("frame loop", self._tick) is None and self.barrier.problems.get(
                        "fault:frame loop"):
                    time.sleep(0.05)  # a fault that repeats every frame must not spin a core
                if self.duration is not None and self._clock() - self.started >= self.duration:
                    logger.info("--duration reached")
                    break
                if self.vision.ended and not self.config.source.loop:
                    logger.info("the video source ended")
                    break
            clean = True
        finally:
            self._shutdown(clean)
        return 0

    def stop(self) -> None:
        self.stop_requested.set()

    def reload(self) -> None:
        """As SIGHUP: re-read the configuration and the playlists."""
        self.reload_requested.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        handlers = {signal.SIGTERM: lambda *_: self.stop_requested.set(),
                    signal.SIGINT: lambda *_: self.stop_requested.set(),
                    signal.SIGHUP: lambda *_: self.reload_requested.set()}
        self._previous_handlers = {number: signal.signal(number, handler) for number, handler in handlers.items()}

    def _shutdown(self, clean: bool) -> None:
        """Stop capture (the frame in analysis finishes), flush metrics and plays into the
        spool, publish the final status and `stopped` (a crash leaves the will, `offline`),
        close the window. Each step runs behind the barrier: one failing loses no other."""
        step = self.barrier.run
        step("shutdown", self.watchdog.notifier.stopping)
        if self.watcher is not None:
            step("shutdown: playlist watcher", self.watcher.stop)
        step("shutdown: vision", self.vision.stop)
        if self.player is not None and self.telemetry is not None:
            step("shutdown: audience", self._count_audience)
            step("shutdown: player", lambda: self.player.stop(self._now()))
            step("shutdown: plays", self._send_plays)
            step("shutdown: metrics", lambda: self._send("metrics", self.aggregator.flush(self._wall())))
        if self.telemetry is not None:
            step("shutdown: telemetry", operator.stop_telemetry, self, clean)
        if self.renderer is not None:
            step("shutdown: display", self.renderer.close)
        for number, handler in getattr(self, "_previous_handlers", {}).items():
            signal.signal(number, handler)
        logger.info("stopped" if clean else "stopped after an unexpected fault")

    # ----- parts that start, stop and restart -------------------------------------------------

    def open_display(self) -> None:
        from signage.display.renderer import DisplayError, Renderer

        self.renderer = Renderer(self.config.display, clock=self._clock, wall=self._wall,
                                 observer=self.observer.screen)
        try:
            self.renderer.open()
        except DisplayError as exc:  # not there yet (a DRM device still coming up): retried every 2 s
            logger.error("no display yet (%s, SDL_VIDEODRIVER=%s); retrying every 2 s", exc,
                         os.environ.get("SDL_VIDEODRIVER", "auto"))
            self.renderer.reopen()

    def start_vision(self) -> None:
        self.vision.start(self.config)
        self.renderer.set_notice_visible(self.vision.running)

    def stop_vision(self) -> None:
        self.vision.stop()
        self._count_audience()
        self.handoff.clear()
        self.renderer.set_notice_visible(False)

    def adopt_playlist(self, playlist: Playlist) -> None:
        """A new playlist (at boot, from the watcher or a reload): swapped in at the next
        boundary; problems about creatives are re-checked against it."""
        self.player.replace_playlist(playlist, self._now())
        self.problems.clear_where(lambda topic: topic.startswith("creative:"))
        if self.telemetry is not None and self.telemetry.state("creative") not in (None, "", *playlist.creatives):
            self.telemetry.set_state("creative", "")  # the creative last asked for is gone

    def set_privacy(self, on: bool) -> None:
        self.privacy = on
        logger.info("privacy mode %s", "on: camera released, no audience data" if on else "off")
        if on:
            self.stop_vision()
        else:
            self.start_vision()
        if self.telemetry:
            self.telemetry.set_state("privacy", "ON" if on else "OFF")
        self.publish_status(force=True)

    def _on_snapshot(self, snapshot: AudienceSnapshot) -> None:
        self.handoff.put(snapshot)
        self.observer.snapshot(snapshot)

    def on_command(self, command: Command) -> None:
        """paho's thread: queue it; the main thread checks it and answers (kiosk/commands.py)."""
        try:
            self.commands.put_nowait(command)
        except queue.Full:
            raise CommandRejected("too many commands waiting; try again in a moment") from None

    # ----- the frame loop ---------------------------------------------------------------------

    def _now(self) -> Now:
        return Now(self._clock(), self._wall())

    def _tick(self) -> None:
        step = self.barrier.run
        if self.reload_requested.is_set():
            self.reload_requested.clear()
            step("reload", operator.reload_config, self)
        step("commands", operator.apply_commands, self)
        while self.watcher is not None and not self.watcher.events.empty():
            step("playlist", self._take_watcher_event, self.watcher.events.get())
        step("privacy schedule", self._apply_privacy_schedule)
        step("rules", self._choose)
        if step("display", self._render) is None and self.problems.get("fault:display"):
            step("display fallback", self.renderer.show_fallback)
            time.sleep(0.02)
        step("plays", self._send_plays)
        if self._clock() - self._last_metrics >= self.config.mqtt.interval:
            self._last_metrics = self._clock()
            step("metrics", self._send, "metrics", self.aggregator.flush(self._wall()))
        step("status", self.publish_status)
        step("watchdog", self.watchdog.feed, self.stuck)

    def _take_watcher_event(self, event) -> None:
        if isinstance(event, PlaylistAccepted):
            self.problems.clear("playlist")
            self.problems.clear("playlist watcher")
            self.adopt_playlist(event.playlist)
        elif isinstance(event, PlaylistRejected):
            self.problems.clear("playlist watcher")  # it works again: a rejection is an answer
            self.problems.set("playlist", f"rejected: {event.problems}")
        elif isinstance(event, WatcherFault):
            self.watcher_faults = event.count
            self.problems.set("playlist watcher", event.message)

    def _choose(self) -> None:
        state = self._count_audience()
        decision = self.player.tick(state, self._now())
        if decision.action == "start":
            self.show(decision.creative)

    def show(self, creative: str | None) -> None:
        playlist = self.player.playlist
        if creative is None or creative not in playlist.creatives:
            self.renderer.show_fallback()
        else:
            self.renderer.show(content_of(playlist, creative))
        self.observer.showing(creative, self._clock())

    def _render(self) -> bool:
        from signage.display.renderer import Ended, Failed, WindowClosed

        for event in self.renderer.frame():
            current = self.player.current
            if isinstance(event, Failed):
                self.problems.set(f"creative:{event.content_id}", f"creative {event.content_id}: {event.reason}")
                if current and current.play.creative == event.content_id:
                    self.player.finished(self._now(), "error")
            elif isinstance(event, Ended) and current and current.play.creative == event.content_id:
                self.player.finished(self._now(), "duration")
            elif isinstance(event, WindowClosed):
                logger.warning("the window was closed; opening it again")
                self.renderer.reopen()
        return True

    def _count_audience(self) -> AudienceState:
        state, snapshots = self.handoff.take()
        for snapshot in snapshots:
            self.aggregator.add_snapshot(snapshot)
        self.aggregator.add_dropped_frames(self.vision.dropped_since_last() + self.handoff.take_lost())
        return state

    def _send_plays(self) -> None:
        records, self.player.records = self.player.records, []
        for record in records:  # the proof of play first: a fault in counting must not lose it
            self._send("play", play_message(record, self.config.site, self.config.device,
                                            self.config.privacy.min_group))
            self.barrier.run("impressions", self.aggregator.add_play, record.creative, record.peak_looking >= 1)

    def _send(self, kind: str, message: dict) -> None:
        if self.telemetry is not None:
            self.telemetry.send(kind, message)  # never raises: telemetry holds what it cannot spool

    def _apply_privacy_schedule(self) -> None:
        wall = self._wall()
        scheduled = within(self.config.privacy.schedule, wall)
        wanted = self.privacy_forced if self.privacy_forced is not None else scheduled
        if wanted != self.privacy:
            self.set_privacy(wanted)

    # ----- status and health ----------------------------------------------------------------

    def publish_status(self, force: bool = False) -> None:
        if self.telemetry is not None:
            self.status_publisher.maybe_publish(self.status, self.telemetry.set_status, force)

    def status(self) -> dict:
        from signage.kiosk.health import status_of

        return status_of(self)

    def stuck(self, stale: float) -> str | None:
        """A thread that made no progress within `stale` seconds, or None (the main
        thread is the caller, so it is alive)."""
        culprit = self.vision.stuck(stale)
        if culprit is None and self.telemetry is not None and not self.telemetry.alive(stale):
            culprit = "the telemetry thread"
        if culprit is None and self.watcher is not None:
            if not self.watcher.alive():
                culprit = "the playlist watcher thread (dead)"
            elif time.monotonic() - self.watcher.last_progress > stale + WATCHER_BACKOFF_S:
                culprit = "the playlist watcher thread"  # stuck in a read, not in its back-off after a fault
        return culprit
