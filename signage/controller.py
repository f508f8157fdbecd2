"""The kiosk controller: threads and wiring; the only module that knows them all.

Threads, and what each one owns (nothing else is shared):
- main thread: the pygame renderer, the player (rules engine), the metrics
  aggregator, status, the systemd watchdog. It alone changes what is on screen.
- capture and analysis (VisionWorker): the camera and every frame. They hand
  AudienceSnapshots to the main thread through `AudienceHandoff`, the one small
  thread-safe handoff between vision and rules.
- telemetry (paho's network thread and our pump): the MQTT connection and the spool.
  Commands arrive on paho's thread and reach the main thread through a queue; the
  main thread checks them against the running state and answers (state echo or refusal).
- playlist watcher: polls the playlist files; new playlists reach the main thread
  through a queue.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import queue
import signal
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from signage import __version__
from signage.audience import AudienceSnapshot, AudienceState, sample_of
from signage.config import Config, load_config, within
from signage.creatives import content_of
from signage.errors import SignageError
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.playlist.watcher import PlaylistWatcher
from signage.systemd import Notifier
from signage.threads import name_os_thread
from signage.telemetry.commands import Command
from signage.telemetry.homeassistant import discovery
from signage.telemetry.metrics import Aggregator, play_message
from signage.telemetry.mqtt import Telemetry
from signage.yamlfile import ProblemsError

logger = logging.getLogger(__name__)

STATUS_EVERY_S = 5.0
STATUS_CHECK_S = 0.25  # how often the frame loop looks for status changes (status() queries the spool)
VOLATILE = ("uptime_s", "spool_depth", "spool_held")  # status fields that change without news
FREEZE_HOOK = "SIGNAGE_TEST_FREEZE_CAPTURE_AFTER"  # seconds; test hook for the watchdog test


class AudienceHandoff:
    """Vision -> rules: the newest AudienceState and the snapshots not yet counted."""

    def __init__(self):
        self._lock = threading.Lock()
        self._state = AudienceState()
        self._pending: list[AudienceSnapshot] = []
        self.first_confirmed_at: float | None = None  # for `signage bench e2e`

    def put(self, snapshot: AudienceSnapshot) -> None:
        sample = sample_of(snapshot)
        with self._lock:
            self._state = self._state.update(sample)
            self._pending.append(snapshot)
            if self.first_confirmed_at is None and snapshot.confirmed:
                self.first_confirmed_at = time.monotonic()

    def take(self) -> tuple[AudienceState, list[AudienceSnapshot]]:
        with self._lock:
            pending, self._pending = self._pending, []
            return self._state, pending

    def clear(self) -> None:
        with self._lock:
            self._state = AudienceState()


@dataclass
class Faults:
    """What is wrong right now, for status (one place, one line each)."""

    vision: str | None = None
    last: str | None = None


class Controller:
    def __init__(self, config: Config, config_path: Path | None = None, duration: float | None = None,
                 clock=time.monotonic, wall=lambda: dt.datetime.now().astimezone()):
        self.config, self.config_path, self.duration = config, config_path, duration
        self._clock, self._wall = clock, wall
        self.started = clock()
        self.handoff = AudienceHandoff()
        self.faults = Faults()
        self.notifier = Notifier()
        self.commands: queue.Queue[Command] = queue.Queue()
        self.playlists: queue.Queue = queue.Queue()
        self.privacy = config.privacy.start_in_privacy
        self._privacy_forced: bool | None = True if config.privacy.start_in_privacy else None
        self._stop = threading.Event()
        self._reload = threading.Event()
        self._last_status = 0.0
        self._last_check = 0.0
        self._last_metrics = clock()
        self._last_watchdog = 0.0
        self._withholding = False
        self._last_shown: dict = {}
        self._last_dropped = 0
        self.worker = None
        self.telemetry: Telemetry | None = None
        self.renderer = None
        self.switches: list[tuple[float, str]] = []  # (monotonic time, creative): for `bench e2e`

    # ----- start and stop ---------------------------------------------------------------------

    def run(self) -> int:
        """Until SIGTERM/SIGINT, --duration, or the end of a non-looping video source."""
        from signage.display.renderer import Renderer

        self._install_signals()
        self.watcher = PlaylistWatcher([Path(self.config.playlists)])
        playlist = self.watcher.load_now()  # a broken playlist at start-up is a clear error, exit 2
        self.player = Player(playlist)
        self.aggregator = Aggregator(self.config.site, self.config.device, self.config.privacy.min_group,
                                     now=self._wall())
        self._start_telemetry()
        self.renderer = Renderer(self.config.display, clock=self._clock, wall=self._wall)
        self.renderer.open()
        if not self.privacy:
            self._start_vision()
        self._watcher_thread = threading.Thread(target=self._watch_playlists, name="playlist-watcher", daemon=True)
        self._watcher_thread.start()
        self.notifier.ready(f"playing on {self.config.site}/{self.config.device}")
        logger.info("signage %s running: site %s, device %s", __version__, self.config.site, self.config.device)
        freeze_after = float(os.environ.get(FREEZE_HOOK, "0") or 0)
        clean = False
        try:
            while not self._stop.is_set():
                self._tick()
                if freeze_after and self.worker and self._clock() - self.started > freeze_after:
                    self.worker.frozen.set()
                if self.duration is not None and self._clock() - self.started >= self.duration:
                    logger.info("--duration reached")
                    break
                if self.worker is not None and self.worker.ended and not self.config.source.loop:
                    logger.info("the video source ended")
                    break
            clean = True
        finally:
            self._shutdown(clean)
        return 0

    def stop(self) -> None:
        self._stop.set()

    def _install_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        handlers = {signal.SIGTERM: lambda *_: self._stop.set(), signal.SIGINT: lambda *_: self._stop.set(),
                    signal.SIGHUP: lambda *_: self._reload.set()}
        self._previous_handlers = {number: signal.signal(number, handler) for number, handler in handlers.items()}

    def reload(self) -> None:
        """As SIGHUP: re-read the configuration and the playlists."""
        self._reload.set()

    def _shutdown(self, clean: bool = True) -> None:
        """Stop capture (the frame in analysis finishes), flush metrics into the spool,
        say `stopped` (`offline` after a crash) with the final status, close the window."""
        self.notifier.stopping()
        if self.worker is not None:
            self.worker.stop()
        self._count_audience()
        now = self._now()
        self.player.stop(now)
        self._send_plays()
        self._send("metrics", self.aggregator.flush(self._wall()))
        if self.telemetry is not None:
            self.telemetry.stop(timeout=2.0, clean=clean, final_status=self.status)
        if self.renderer is not None:
            self.renderer.close()
        for number, handler in getattr(self, "_previous_handlers", {}).items():
            signal.signal(number, handler)
        logger.info("stopped")

    # ----- subsystems -------------------------------------------------------------------------

    def _start_vision(self) -> None:
        from signage.vision.pipeline import Pipeline
        from signage.vision.sources import Backoff, open_source
        from signage.vision.worker import VisionWorker

        source_config = self.config.source
        models_dir = Path(self.config.paths.models) if self.config.paths.models else None
        try:
            pipeline = Pipeline.from_config(self.config.vision, models_dir)
            source = open_source(source_config.spec(), loop=source_config.loop, paced=True,
                                 fallback=source_config.fallback, width=source_config.width,
                                 height=source_config.height, fps=source_config.fps, backoff=Backoff(),
                                 camera=source_config.kind == "camera")
        except SignageError as exc:
            self.faults.vision = str(exc)
            self.faults.last = str(exc)
            logger.error("vision is off: %s; playing the rules that need no audience", exc)
            return
        if self.faults.vision is not None and self.faults.last == self.faults.vision:
            self.faults.last = None  # recovered: the error is history
        self.faults.vision = None
        self.worker = VisionWorker(pipeline, source, self.handoff.put, max_fps=self.config.vision.max_fps)
        self._last_dropped = 0  # a new worker counts its dropped frames from zero
        self.worker.start()
        self.renderer.set_notice_visible(True)

    def _stop_vision(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            self.worker = None
        self._count_audience()
        self.handoff.clear()
        self.renderer.set_notice_visible(False)

    def _start_telemetry(self) -> None:
        self.telemetry = Telemetry(self.config.mqtt, self.config.site, self.config.device, self.config.paths.spool,
                                   spool_max_bytes=int(self.config.paths.spool_max_mb * 1024 * 1024),
                                   on_command=self._on_command)
        if self.config.mqtt.homeassistant:
            for topic, payload in discovery(self.telemetry.root, self.config.site, self.config.device, __version__,
                                            self.config.mqtt.discovery_prefix).items():
                self.telemetry.publish_retained(topic, payload)
        self.telemetry.set_state("privacy", "ON" if self.privacy else "OFF")
        self.telemetry.start()

    def _watch_playlists(self) -> None:
        name_os_thread()
        while not self._stop.wait(0.5):
            playlist = self.watcher.poll()
            if playlist is not None:
                self.playlists.put(playlist)

    # ----- the frame loop ---------------------------------------------------------------------

    def _now(self) -> Now:
        return Now(self._clock(), self._wall())

    def _tick(self) -> None:
        from signage.display.renderer import Ended, Failed, WindowClosed

        if self._reload.is_set():
            self._reload.clear()
            self._reload_config()
        self._apply_commands()
        while not self.playlists.empty():
            self.player.replace_playlist(self.playlists.get(), self._now())
        self._apply_privacy_schedule()
        state = self._count_audience()
        now = self._now()
        decision = self.player.tick(state, now)
        if decision.action == "start":
            self._show(decision.creative)
        for event in self.renderer.frame():
            current = self.player.current
            if isinstance(event, Ended) and current and current.play.creative == event.content_id:
                self.player.finished(self._now(), "duration")
            elif isinstance(event, Failed) and current and current.play.creative == event.content_id:
                self.faults.last = f"creative {event.content_id}: {event.reason}"
                self.player.finished(self._now(), "error")
            elif isinstance(event, WindowClosed):
                logger.warning("the window was closed; opening it again")
                self.renderer.reopen()
        self._send_plays()
        if self._clock() - self._last_metrics >= self.config.mqtt.interval:
            self._last_metrics = self._clock()
            self._send("metrics", self.aggregator.flush(self._wall()))
        self._publish_status()
        self._feed_watchdog()

    def _show(self, creative: str | None) -> None:
        playlist = self.player.playlist
        if creative is None or creative not in playlist.creatives:
            self.renderer.show_fallback()
        else:
            self.renderer.show(content_of(playlist, creative))
        self.switches.append((self._clock(), creative or "fallback"))

    def _count_audience(self) -> AudienceState:
        state, snapshots = self.handoff.take()
        for snapshot in snapshots:
            self.aggregator.add_snapshot(snapshot)
        if self.worker is not None:
            dropped = self.worker.slot.dropped
            self.aggregator.add_dropped_frames(dropped - self._last_dropped)
            self._last_dropped = dropped
        return state

    def _send_plays(self) -> None:
        records, self.player.records = self.player.records, []
        for record in records:
            self.aggregator.add_play(record.creative, viewed=record.peak_looking >= 1)
            self._send("play", play_message(record, self.config.site, self.config.device,
                                            self.config.privacy.min_group))

    def _send(self, kind: str, message: dict) -> None:
        if self.telemetry is not None:
            self.telemetry.send(kind, message)  # never raises: telemetry holds what the disk cannot take

    # ----- privacy, commands, reload ---------------------------------------------------------

    def _apply_privacy_schedule(self) -> None:
        wall = self._wall()
        scheduled = within(self.config.privacy.schedule, wall.hour, wall.minute)
        wanted = self._privacy_forced if self._privacy_forced is not None else scheduled
        if wanted != self.privacy:
            self._set_privacy(wanted)

    def _set_privacy(self, on: bool) -> None:
        self.privacy = on
        logger.info("privacy mode %s", "on: camera released, no audience data" if on else "off")
        if on:
            self._stop_vision()
        else:
            self._start_vision()
        if self.telemetry:
            self.telemetry.set_state("privacy", "ON" if on else "OFF")
        self._publish_status(force=True)

    def _on_command(self, command: Command) -> None:
        """paho's thread: queue it; the main thread checks it against the running state
        and answers (state echo or refusal)."""
        self.commands.put(command)

    def _apply_commands(self) -> None:
        while not self.commands.empty():
            command = self.commands.get()
            logger.info("command: %s %s", command.feature, command.value)
            if command.feature == "creative" and command.value not in self.player.playlist.creatives:
                self.telemetry.refuse(command, f"creative: unknown id {command.value!r}")
                continue
            if command.feature == "privacy":
                self._privacy_forced = command.value == "ON"
            elif command.feature == "playlist":
                self._reload_playlists()
            elif command.feature == "creative":
                self.player.play_now(command.value, self._now())
                self._show(command.value)
            self.telemetry.set_state(command.feature, command.value)

    def _reload_playlists(self) -> None:
        try:
            self.player.replace_playlist(self.watcher.load_now(), self._now())
        except ProblemsError as exc:
            self.watcher.error = str(exc)
            logger.error("playlist reload rejected; the last good playlist keeps running:\n%s", exc)

    def _reload_config(self) -> None:
        """SIGHUP: re-read config.yaml; a broken file changes nothing."""
        logger.info("SIGHUP: reloading the configuration and playlists")
        if self.config_path is not None:
            try:
                config = load_config(self.config_path)
            except ProblemsError as exc:
                self.faults.last = f"config reload rejected: {exc.problems[0]}"
                logger.error("config reload rejected; keeping the running configuration:\n%s", exc)
                config = self.config
            restart_vision = (config.vision, config.source, config.paths) != \
                (self.config.vision, self.config.source, self.config.paths) or self.faults.vision is not None
            self.config = config
            if restart_vision and not self.privacy:  # also retries a vision stage that failed
                self._stop_vision()
                self._start_vision()
        self._reload_playlists()

    # ----- status and watchdog ------------------------------------------------------------------

    def camera_state(self) -> str:
        if self.privacy:
            return "off"
        if self.faults.vision:
            return "error"
        return self.worker.state.value if self.worker else "off"

    def status(self) -> dict:
        current = self.player.current
        health = self.telemetry.health() if self.telemetry else None
        return {
            "schema": 1, "device": self.config.device, "site": self.config.site, "version": __version__,
            "uptime_s": int(self._clock() - self.started),
            "playing": current.play.creative if current and current.play.creative else None,
            "camera": self.camera_state(),
            "playlist": "ok" if self.watcher.error is None else f"rejected: {self.watcher.error}",
            "privacy": self.privacy,
            "display": self.renderer.stats.state if self.renderer else "starting",
            **(health.status_fields() if health else
               {"broker": "off", "spool": "ok", "spool_depth": 0, "spool_held": 0, "spool_dropped": 0}),
            "last_error": (health and health.problem) or self.faults.vision or self.faults.last,
        }

    def _publish_status(self, force: bool = False) -> None:
        """At once when something changed, else every STATUS_EVERY_S (uptime, depth)."""
        if self.telemetry is None or (not force and self._clock() - self._last_check < STATUS_CHECK_S):
            return
        self._last_check = self._clock()
        status = self.status()
        changed = {k: v for k, v in status.items() if k not in VOLATILE} != self._last_shown
        if not (force or changed or self._clock() - self._last_status >= STATUS_EVERY_S):
            return
        if changed:
            logger.info("status: camera %s, playlist %s, display %s, broker %s%s", status["camera"],
                        status["playlist"][:60], status["display"], status["broker"],
                        f", error: {status['last_error']}" if status["last_error"] else "")
        self._last_status = self._clock()
        self._last_shown = {k: v for k, v in status.items() if k not in VOLATILE}
        self.telemetry.set_status(status)

    def healthy(self, stale: float) -> bool:
        """Every thread made progress within `stale` seconds (the main thread is the caller)."""
        now = time.monotonic()
        if self.worker is not None:
            if not self.worker.alive() or any(now - t > stale for t in self.worker.last_progress.values()):
                return False
        if self.telemetry is not None and not self.telemetry.alive(stale):
            return False
        return self._watcher_thread.is_alive()

    def _feed_watchdog(self) -> None:
        interval = self.notifier.watchdog_interval()
        if interval is None or self._clock() - self._last_watchdog < interval:
            return
        self._last_watchdog = self._clock()
        stale = max(2 * interval, 2.0)  # a thread silent this long counts as hung
        if self.healthy(stale):
            self.notifier.watchdog()
        elif not self._withholding:
            self._withholding = True
            logger.error("a thread made no progress for %.0f s: withholding the watchdog so systemd restarts us",
                         stale)


