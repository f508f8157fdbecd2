"""The kiosk's counting path without camera or screen: a scripted audience, as the
snapshots vision would hand over, through the real handoff, counter (aggregator and
ledger), player and rules engine, on a fake clock. What the kiosk would publish comes
out, each with its time: plays, totals, metrics, and the whole status message, built by
the kiosk's own status builder and publisher from the parts this path has (the screen's
schedule, problems, the fault barrier); and every INFO or higher log line of signage.*.
Frames are constant (one per snapshot, none dropped): their timing is not modelled here."""

from __future__ import annotations

import datetime as dt
import logging
import threading
import textwrap
from dataclasses import dataclass
from pathlib import Path

from signage.audience import AudienceSnapshot, Face, TrackSummary
from signage.config import Config
from signage.display.videoinfo import video_length
from signage.faults import Barrier
from signage.kiosk.counting import AudienceCounter
from signage.kiosk.health import status_of
from signage.kiosk.problems import Problems
from signage.kiosk.screen import Screen
from signage.kiosk.status import StatusPublisher
from signage.playlist.loader import Playlist, load_playlist
from signage.playlist.player import Player
from signage.playlist.rules import Now

T0 = dt.datetime(2026, 11, 23, 9, 50, tzinfo=dt.timezone.utc)


@dataclass(frozen=True)
class Visit:
    """One person: in view from `enter` to `leave` (seconds from the start), looking at the
    screen during `looks`, with `expression` while looking."""

    track: int
    enter: float
    leave: float
    looks: tuple[tuple[float, float], ...] = ()
    expression: str = "neutral"
    zone: str = "mid"

    def looking(self, t: float) -> bool:
        return any(a <= t < b for a, b in self.looks)

    def looked(self, t: float) -> float:
        return sum(max(0.0, min(b, t) - a) for a, b in self.looks)


# Two schedule cards and an audience rule that plays `look` for one person looking 1 s:
# the smallest playlist whose plays depend on who is there.
LOOKERS = """
creatives:
  - {id: loop-a, type: card, text: A, duration: 10}
  - {id: loop-b, type: card, text: B, duration: 10}
  - {id: look, type: card, text: Look, duration: 6}
default: [loop-a, loop-b]
rules:
  - id: someone-looking
    priority: 10
    when: {looking: {min: 1}, hold: 1}
    play: look
"""


def playlist_from(folder: Path, text: str) -> Playlist:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "playlist.yaml").write_text(textwrap.dedent(text))
    return load_playlist([folder], base=folder, video_length=video_length)


class _Lines(logging.Handler):
    """The run's own log lines: those of the thread that runs it. A thread an earlier test
    left behind in this process (a broker link, a server) logs through the same loggers."""

    def __init__(self, clock):
        super().__init__(logging.INFO)
        self.clock, self.lines, self.thread = clock, [], threading.get_ident()

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno >= logging.INFO and record.thread == self.thread:
            self.lines.append((self.clock(), record.name, record.getMessage()))


class _Camera:
    """What status reads of vision: a camera that runs while it is watching."""

    faults = 0

    def __init__(self):
        self.watching = True

    def camera_state(self, privacy: bool) -> str:
        return "off" if privacy or not self.watching else "running"

    def hardware(self) -> dict:
        return {"camera": None, "edgetpu": None}


class _Kiosk:
    """The parts of a kiosk its status reads, as the counting path has them: the real
    screen (without a window: status names the schedule's creative), problems and fault
    barrier; no uplink, playlist watcher or content releases."""

    def __init__(self, config: Config, player: Player, clock, wall, problems: Problems, barrier: Barrier):
        self.config, self.player, self.clock, self.started = config, player, clock, clock()
        self.problems, self.barrier, self.vision = problems, barrier, _Camera()
        self.screen = Screen(player, problems, clock, lambda: Now(clock(), wall()), wall)
        self.privacy = self.playlists = self.uplink = self.releases = self
        self.on = False  # privacy mode
        self.faults = self.retired_faults = 0

    def state(self) -> None:  # no content releases
        return None

    def status(self) -> dict:
        return status_of(self, None).payload()  # (duck-typed: the parts status reads)


def run(playlist: Playlist, visits, seconds: float, *, min_group: int = 3, step: float = 1.0,
        start: dt.datetime = T0, interval: float = 600.0, watching=lambda t: True) -> dict:
    """The audience `visits` (a list of Visit, or a function of (t, step) giving the
    snapshot) for `seconds`, a snapshot every `step`, the camera on while `watching(t)`;
    then the kiosk stops. Returns
    {"messages": [(t, kind, payload)] (kinds play, totals, metrics, status),
    "playing": [(t, creative)], "log": [(t, logger, line)], "held": [(t, body)]} (held: each
    held proof of play the kiosk's spool would keep)."""
    source = visits if callable(visits) else lambda t, step: snapshot(visits, t, step)
    config = Config.model_validate({"site": "lab", "device": "kiosk-1", "privacy": {"min_group": min_group},
                                    "mqtt": {"interval": interval}})
    clock = [0.0]
    messages: list = []

    def wall() -> dt.datetime:
        return start + dt.timedelta(seconds=clock[0])

    problems = Problems()
    held: list = []
    barrier = Barrier(logging.getLogger("signage.kiosk.app"), report=problems.report_fault)
    counter = AudienceCounter(config, barrier, lambda kind, message: messages.append((clock[0], kind,
                                                                                     message.payload())),
                              lambda: clock[0], wall, keep=lambda body: held.append((clock[0], body)))
    player = Player(playlist)
    kiosk = _Kiosk(config, player, lambda: clock[0], wall, problems, barrier)
    status = StatusPublisher(lambda: clock[0])
    lines = _Lines(lambda: clock[0])
    logger = logging.getLogger("signage")
    logger.addHandler(lines)
    level = logger.level
    logger.setLevel(logging.INFO)  # (setLevel, not `.level =`: it clears the loggers' cached verdicts)
    # Whatever an earlier test in this process set on a signage.* logger (a level, disabled),
    # the run hears its INFO lines: set back after.
    children = {name: (child.level, child.disabled) for name, child in logging.root.manager.loggerDict.items()
                if name.startswith("signage.") and isinstance(child, logging.Logger)}
    for name in children:
        logging.getLogger(name).setLevel(logging.NOTSET)
        logging.getLogger(name).disabled = False
    playing: list = []
    try:
        ticks = int(round(seconds / step))
        for n in range(ticks + 1):
            t = clock[0] = n * step
            counter.put(source(t, step))
            state = counter.count()
            player.tick(state, Now(t, start + dt.timedelta(seconds=t)))
            if not playing or playing[-1][1] != player.scheduled:
                playing.append((t, player.scheduled))
            kiosk.vision.watching = watching(t)
            counter.send_plays(player, False, kiosk.vision.watching)
            if counter.interval_over():
                counter.send_metrics()
            status.maybe_publish(kiosk.status, lambda payload: messages.append((clock[0], "status", payload)))
        now = Now(clock[0], start + dt.timedelta(seconds=clock[0]))
        counter.count()
        player.stop(now)
        counter.send_plays(player, final=True)
        counter.send_metrics()
    finally:
        logger.removeHandler(lines)
        logger.setLevel(level)
        for name, (child_level, disabled) in children.items():
            logging.getLogger(name).setLevel(child_level)
            logging.getLogger(name).disabled = disabled
    return {"messages": messages, "playing": playing, "log": lines.lines, "held": held}


def snapshot(visits: list[Visit], t: float, step: float) -> AudienceSnapshot:
    faces = tuple(Face(box=(0.4, 0.3, 0.1, 0.15), score=0.9, expressions=None, looking=v.looking(t), yaw=0.0,
                       pitch=0.0, distance_m=2.0, zone=v.zone, track=v.track, dwell_s=t - v.enter,
                       track_expression=v.expression if v.looking(t) else None, looking_s=v.looked(t))
                  for v in visits if v.enter <= t < v.leave)
    ended = tuple(TrackSummary(dwell_s=v.leave - v.enter, looking_s=v.looked(v.leave),
                               expression=v.expression if v.looks else None, zone=v.zone)
                  for v in visits if t - step < v.leave <= t)
    return AudienceSnapshot(t=t, faces=faces, ended=ended)


def without_ids(messages: list) -> list:
    """The messages as a reader compares them: message ids are random."""
    return [(t, kind, {key: value for key, value in payload.items() if key != "id"}) for t, kind, payload in messages]
