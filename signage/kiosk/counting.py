"""What the kiosk counts and sends: the audience from vision into the rules and the
interval's metrics, and proof of play and the metrics out to the uplink, as messages
built from the message models."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Callable

from signage.audience import AudienceSnapshot, AudienceState
from signage.config import Config
from signage.faults import Barrier
from signage.kiosk.handoff import AudienceHandoff
from signage.playlist.player import Player
from signage.wire.messages import Message, utc
from signage.telemetry.ledger import Ledger, Totals, utc_naive
from signage.telemetry.metrics import Aggregator, play_message, totals_message

Send = Callable[[str, Message], None]
Seen = Callable[[Iterable[int], dt.datetime], None]
GRACE_S = 10.0  # beyond a play's end, for the loop to hand it in (the fallback card lasts as long)


class AudienceCounter:
    """Vision -> rules and metrics. Owns the handoff (the one lock between the analysis
    thread and the main thread: `put` is the analysis thread's) and the interval's
    aggregator; everything else is the main thread's. `send` takes the messages (the
    kiosk's uplink); `barrier` keeps a fault in counting from costing a play; `seen` hears
    which people (track numbers) were in view, for what else is held by period."""

    def __init__(self, config: Config, barrier: Barrier, send: Send, clock: Callable[[], float],
                 wall: Callable[[], dt.datetime], seen: Seen = lambda tracks, now: None):
        self.handoff = AudienceHandoff()
        self._barrier, self._send, self._clock, self._wall, self._seen = barrier, send, clock, wall, seen
        self._site, self._device, self._min_group = config.site, config.device, config.privacy.min_group
        self._interval_s = config.mqtt.interval
        self._interval_began = clock()
        self.aggregator = self._new_aggregator()
        self.ledger = self._new_ledger()
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

    def _new_ledger(self) -> Ledger:
        return Ledger(self._min_group)

    def _new_aggregator(self) -> Aggregator:
        return Aggregator(self._site, self._device, self._min_group, now=self._wall(), t=self._clock())
