"""The scheduler around the engine: keeps the history, applies decisions, applies a
new playlist at the next creative boundary, and writes proof-of-play records.

Single-threaded and clock-free like the engine: the caller passes the time in. The
controller ticks it from its render loop; `signage simulate` from a virtual clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace

from signage.audience import EXPRESSIONS, AudienceState
from signage.clock import utc_iso
from signage.contributors import Contributions
from signage.playlist.loader import Playlist
from signage.playlist.rules import HOUR, Current, Decision, Engine, History, Now, Play

logger = logging.getLogger(__name__)

FALLBACK_SECONDS = 10.0
EndReason = str  # "duration", "interrupted", "error", "removed", "stopped"


@dataclass(frozen=True)
class PlayRecord:
    """Proof of play: one creative on screen, and the audience while it was."""

    creative: str
    rule: str
    start: str  # UTC, ISO 8601: the wall clock when it started
    end: str  # start + seconds: never before start, whatever the wall clock did meanwhile
    seconds: float  # by the monotonic clock
    ended: EndReason
    peak_faces: int
    mean_faces: float
    peak_looking: int
    looking_seconds: float  # person-seconds of looking
    expressions: dict[str, float]  # person-seconds of looking, by expression
    audience: bool = False  # chosen by a rule with audience conditions (what it says about people is private)
    people: Contributions = field(default_factory=Contributions, compare=False)  # who made the figures (RAM only)


@dataclass
class _Audience:
    """Running audience summary of the current play."""

    last_t: float
    peak_faces: int = 0
    peak_looking: int = 0
    face_seconds: float = 0.0
    looking_seconds: float = 0.0
    expression_seconds: list[float] = field(default_factory=lambda: [0.0] * len(EXPRESSIONS))
    people: Contributions = field(default_factory=Contributions)

    def add(self, state: AudienceState, t: float) -> None:
        sample = state.now
        span = max(0.0, t - self.last_t)
        self.last_t = t
        self.peak_faces = max(self.peak_faces, sample.faces)
        self.peak_looking = max(self.peak_looking, sample.looking)
        self.face_seconds += sample.faces * span
        self.looking_seconds += sample.looking * span
        for i, share in enumerate(sample.shares):
            self.expression_seconds[i] += sample.looking * share * span
        self.people.add(sample.people, span)


class Player:
    def __init__(self, playlist: Playlist, seed: int = 0):
        self.engine = Engine(playlist, seed)
        self.history = History()
        self.seed = seed
        self.records: list[PlayRecord] = []  # finished plays, for the caller to drain
        self._pending: Playlist | None = None
        self._audience: _Audience | None = None
        self._started_local: dt.datetime | None = None
        self._state = AudienceState()

    @property
    def playlist(self) -> Playlist:
        return self.engine.playlist

    @property
    def current(self) -> Current | None:
        return self.history.current

    def tick(self, state: AudienceState, now: Now) -> Decision:
        """Advance to `now`: end the current creative if its time is up, then ask the
        engine. A decision with action 'start' means: show `decision.creative` now."""
        self._state = state
        current = self.history.current
        if self._audience is not None:
            self._audience.add(state, now.t)
        if current is not None and current.ends is not None and now.t >= current.ends:
            self._finish(now, "duration")
        if self.history.current is None and self._pending is not None:
            self._swap_playlist()
        decision = self.engine.choose(state, now, self.history)
        if decision.action == "start":
            if self.history.current is not None:
                self._finish(now, "interrupted")
            self._start(decision, now)
        return decision

    def finished(self, now: Now, reason: EndReason = "duration") -> None:
        """The renderer reports the creative ended (a video reached its end) or failed
        ('error': its creative is skipped until the playlist changes)."""
        if self.history.current is None:
            return
        failed = self.history.current.play.creative
        if reason == "error" and failed is not None:
            self.history = replace(self.history, bad=self.history.bad | {failed})
        self._finish(now, reason)

    def replace_playlist(self, playlist: Playlist, now: Now) -> None:
        """Use a new playlist from the next boundary, or at once if the creative on
        screen no longer exists or nothing playable is (the fallback card)."""
        self._pending = playlist
        current = self.history.current
        if current is None:
            self._swap_playlist()
            return
        if not current.play.creative or current.play.creative not in playlist.creatives:
            self._finish(now, "removed")
            self._swap_playlist()

    def play_now(self, creative: str, now: Now) -> None:
        """Play a creative once, at once (the MQTT `creative` command); then the rules resume."""
        if creative not in self.playlist.creatives:
            raise KeyError(creative)
        if self.history.current is not None:
            self._finish(now, "interrupted")
        self._start(Decision("start", creative, "command", "played on command", priority=float("inf")), now)

    def stop(self, now: Now) -> None:
        self._finish(now, "stopped")

    def take_records(self) -> list[PlayRecord]:
        """The plays finished since the last call (proof of play, for the caller to send)."""
        records, self.records = self.records, []
        return records

    def _swap_playlist(self) -> None:
        self.engine = Engine(self._pending, self.seed)
        self.history = replace(self.history, bad=frozenset())  # new media: nothing is bad yet
        self._pending = None

    def _start(self, decision: Decision, now: Now) -> None:
        play = Play(decision.creative, decision.rule, decision.index, now.t)
        if decision.creative in self.playlist.creatives:
            ends = now.t + self.playlist.seconds(decision.creative)
        else:
            ends = now.t + FALLBACK_SECONDS  # nothing playable: the fallback, then try again
        self.history = replace(self.history, current=Current(play, decision.priority, decision.audience, ends,
                                                             decision.min_show))
        self._audience = _Audience(last_t=now.t)
        self._started_local = now.local
        logger.info("playing %s (%s): %s", decision.creative or "fallback", decision.rule, decision.reason)

    def _finish(self, now: Now, reason: EndReason) -> None:
        current = self.history.current
        if current is None:
            return
        if self._audience is not None:
            self._audience.add(self._state, now.t)
        play = Play(current.play.creative, current.play.rule, current.play.index, current.play.start, now.t)
        self.history = self.history.finish(play, horizon=now.t - HOUR)
        audience = self._audience or _Audience(last_t=now.t)
        seconds = now.t - current.play.start
        started = self._started_local or now.local - dt.timedelta(seconds=seconds)
        if play.creative:
            self.records.append(PlayRecord(
                creative=play.creative, rule=play.rule, start=utc_iso(started),
                end=utc_iso(started + dt.timedelta(seconds=seconds)), seconds=round(seconds, 3), ended=reason,
                peak_faces=audience.peak_faces, peak_looking=audience.peak_looking,
                mean_faces=round(audience.face_seconds / seconds, 3) if seconds > 0 else 0.0,
                looking_seconds=round(audience.looking_seconds, 2),
                expressions={name: round(value, 2) for name, value in zip(EXPRESSIONS, audience.expression_seconds)
                             if value > 0},
                audience=current.audience, people=audience.people,
            ))
        self._audience = None
