"""What the kiosk counts and sends: the audience from vision into the rules and the
interval's metrics, and proof of play and the metrics out to the uplink, as messages
built from the message models."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from typing import Callable

from signage.audience import AudienceSnapshot, AudienceState
from signage.config import Config
from signage.faults import Barrier
from signage.kiosk.handoff import AudienceHandoff
from signage.playlist.player import Player
from signage.telemetry.held import HeldCopy, HeldUnreadable, decode
from signage.telemetry.ledger import DAY, Ledger, Totals, day_of, utc_naive
from signage.telemetry.metrics import Aggregator, play_message, totals_message
from signage.telemetry.spool import SpoolFault
from signage.telemetry.spool.heldrows import HeldRows
from signage.wire.messages import Message, utc

logger = logging.getLogger(__name__)

Send = Callable[[str, Message], None]
Seen = Callable[[Iterable[int], dt.datetime], None]
Keep = Callable[[HeldRows], None]
GRACE_S = 10.0  # beyond a play's end, for the loop to hand it in (the fallback card lasts as long)


class AudienceCounter:
    """Vision -> rules and metrics. Owns the handoff (the one lock between the analysis
    thread and the main thread: `put` is the analysis thread's) and the interval's
    aggregator; everything else is the main thread's. `send` takes the messages (the
    kiosk's uplink); `barrier` keeps a fault in counting from costing a play; `seen` hears
    which people (track numbers) were in view, for what else is held by period."""

    def __init__(self, config: Config, barrier: Barrier, send: Send, clock: Callable[[], float],
                 wall: Callable[[], dt.datetime], seen: Seen = lambda tracks, now: None,
                 keep: Keep | None = None):
        """`keep` takes the ledger's held plays each time they change, to keep them on disk
        (telemetry/held.py)."""
        self.handoff = AudienceHandoff()
        self._barrier, self._send, self._clock, self._wall, self._seen = barrier, send, clock, wall, seen
        self._site, self._device, self._min_group = config.site, config.device, config.privacy.min_group
        self._interval_s = config.mqtt.interval
        self._interval_began = clock()
        self.aggregator = self._new_aggregator()
        self.ledger = self._new_ledger()
        self._held = HeldCopy(keep)
        self._lost: tuple[str, dt.datetime] | None = None  # held plays a restart could not restore, and until when
        self._watched: dt.datetime | None = None  # the last time the camera watched (naive UTC)

    def put(self, snapshot: AudienceSnapshot) -> None:
        """The analysis thread: a new snapshot."""
        self.handoff.put(snapshot)

    def count(self, dropped_frames: int = 0) -> AudienceState:
        """The snapshots vision handed over since the last call, and the frames it dropped,
        into the aggregator; the newest smoothed audience state, for the rules."""
        state, snapshots = self.handoff.take()
        wall = self._wall()
        for snapshot in snapshots:
            self.aggregator.add_snapshot(snapshot)
            tracks = [face.track for face in snapshot.faces if face.track is not None]
            self.ledger.saw(tracks, wall)
            self._seen(tracks, wall)
        self.aggregator.add_dropped_frames(dropped_frames + self.handoff.take_lost())
        self._held.update(self.ledger, self._min_group)
        return state

    def vision_stopped(self, dropped_frames: int) -> None:
        """Vision stopped: what it saw last is counted, and nobody is in front of the screen for the rules."""
        self.count(dropped_frames)
        self.handoff.clear()

    def send_plays(self, player: Player, final: bool = False, watching: bool = True) -> None:
        """The plays the player finished since the last call, as proof of play: at once, or
        held by the ledger while the playlist has audience rules and the camera is
        `watching` (whether it is follows the privacy schedule and the camera's faults,
        never the audience), or when they depend on the audience; and what the periods
        that are over release (with `final`, all of them: the kiosk stops, or the names
        or the minimum group change)."""
        playlist, now = player.playlist, self._wall()
        if watching:
            self._watched = utc_naive(now)
        rules = any(rule.when.audience for rule in playlist.rules)
        released = []
        for record in player.take_records():
            # Held if the camera watched at any time since it started (a play that began
            # before the camera went off may have been cut or resumed by the audience).
            hold = rules and self._watched is not None and utc(record.start) <= self._watched
            released += self.ledger.add(record, hold)
        # An hour is over once every play that started in it has ended: its longest creative later.
        grace = max((playlist.seconds(creative) for creative in playlist.creatives), default=0.0) + GRACE_S
        released += self.ledger.due(now, grace, final)
        for item in released:  # the proof of play first: a fault in counting must not lose it
            if isinstance(item, Totals):
                self._send("totals", totals_message(item, self._site, self._device))
                continue
            message = play_message(item, self._site, self._device, self._min_group)
            self._send("play", message)
            # Impressions count the creative under the name the play was published with.
            self._barrier.run("impressions", self.aggregator.add_play, message.creative, item.people)
        # After what was released is sent: the spool stores both in one transaction.
        self._held.update(self.ledger, self._min_group)

    def restore(self, read: Callable[[], HeldRows | bytes | None]) -> None:
        """At boot: the plays held before the kiosk stopped (read from the spool), back into
        the ledger, released by its rules. What cannot be read is lost, said in the journal
        and in `lost` until the day it could have held is over; the kiosk runs on."""
        try:
            body = read()
            hours, days = decode(body, self._min_group) if body is not None else ([], [])
        except (HeldUnreadable, SpoolFault, RuntimeError) as exc:  # (RuntimeError: no spool to read)
            logger.error("the proof of play held before the restart cannot be restored (%s); it is lost", exc)
            self._lost = (f"held plays: those held before the restart are lost ({exc})"[:300],
                          day_of(utc_naive(self._wall())) + DAY)
            hours, days = [], []
        self.ledger.restore(hours, days)
        plays = sum(len(hour.plays) for hour in hours) + sum(int(n) for day in days for n, _ in day.held.values())
        if plays:
            logger.info("restored %d plays held before the restart", plays)
        self._held.update(self.ledger, self._min_group)  # (an unreadable body is replaced: lost only that)

    def lost(self) -> str | None:
        """Why plays held before the restart were lost, until the day they belonged to is over."""
        if self._lost is not None and utc_naive(self._wall()) >= self._lost[1]:
            self._lost = None
        return self._lost[0] if self._lost is not None else None

    def interval_over(self) -> bool:
        """True once per metrics interval (mqtt.interval); the next one begins now."""
        if self._clock() - self._interval_began < self._interval_s:
            return False
        self._interval_began = self._clock()
        return True

    def send_metrics(self) -> None:
        """The interval so far, as a metrics message; a new interval begins."""
        self._send("metrics", self.aggregator.flush(self._wall(), self._clock()))

    def follow(self, config: Config, renew: bool) -> None:
        """A reload: the new interval; with `renew` (after the old interval was sent), the
        names and the minimum group the next metrics and plays are published with."""
        self._interval_s = config.mqtt.interval
        if renew:
            self._site, self._device, self._min_group = config.site, config.device, config.privacy.min_group
            self.aggregator = self._new_aggregator()
            self.ledger = self._new_ledger()
            self._held.update(self.ledger, self._min_group)

    def _new_ledger(self) -> Ledger:
        return Ledger(self._min_group)

    def _new_aggregator(self) -> Aggregator:
        return Aggregator(self._site, self._device, self._min_group, now=self._wall(), t=self._clock())
