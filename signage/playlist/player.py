"""The scheduler around the engine: keeps the history, applies decisions, applies a
new playlist at the next creative boundary, and writes proof-of-play records.

Two layers, so that the schedule never depends on who is in front of the screen:

- the schedule: the default loop, dayparts and commands (every rule without audience
  conditions), run by its own engine as if nobody were ever there. Its plays start and
  end at the same moments whatever the audience does;
- audience plays: a rule with audience conditions puts its creative over the schedule
  when the engine lets it (it outranks what is on screen, after min_show). The schedule
  runs on underneath; when the audience play ends, the screen shows the schedule's
  creative of that moment for what is left of it.

A gap in the default loop would otherwise be a record of the moment someone was there:
every play after an audience play would start later than it would have. Proof of play
records what was on screen; a record whose start or end an audience play set is marked
`touched`, and the kiosk publishes it only in aggregate (docs/privacy.md).

Single-threaded and clock-free like the engine: the caller passes the time in. The
controller ticks it from its render loop; `signage simulate` from a virtual clock.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field, replace

from signage.audience import EXPRESSIONS, AudienceState, Sample
from signage.clock import utc_iso
from signage.contributors import Contributions
from signage.playlist.loader import Playlist
from signage.playlist.rules import HOUR, Current, Decision, Engine, History, Now, Play, into_hour

logger = logging.getLogger(__name__)

FALLBACK_SECONDS = 10.0
EndReason = str  # "duration", "interrupted", "error", "removed", "stopped"
NOBODY = AudienceState()  # what the schedule's engine sees, always


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
    touched: bool = False  # a schedule play whose start or end an audience play set (a record of that moment)


@dataclass
class _Audience:
    """Running audience summary of what is on screen. A sample holds until the next one
    arrives: the span up to a tick is the previous sample's (whoever walks in at the tick
    that ends a play was not there during it)."""

    last_t: float
    sample: Sample = field(default_factory=lambda: Sample(t=0.0))
    peak_faces: int = 0
    peak_looking: int = 0
    face_seconds: float = 0.0
    looking_seconds: float = 0.0
    expression_seconds: list[float] = field(default_factory=lambda: [0.0] * len(EXPRESSIONS))
    people: Contributions = field(default_factory=Contributions)

    def add(self, state: AudienceState, t: float) -> None:
        sample, self.sample = self.sample, state.now
        span = max(0.0, t - self.last_t)
        self.last_t = t
        if span <= 0:
            return
        self.peak_faces = max(self.peak_faces, sample.faces)
        self.peak_looking = max(self.peak_looking, sample.looking)
        self.face_seconds += sample.faces * span
        self.looking_seconds += sample.looking * span
        for i, share in enumerate(sample.shares):
            self.expression_seconds[i] += sample.looking * share * span
        self.people.add(sample.people, span)


@dataclass
class _OnScreen:
    """What the screen shows since `start`: one proof-of-play record once it ends."""

    creative: str | None
    rule: str
    start: float
    local: dt.datetime
    reason: str
    audience: bool  # an audience play
    touched: bool  # a schedule play shown from where an audience play ended
    summary: _Audience


class Player:
    def __init__(self, playlist: Playlist, seed: int = 0):
        self.seed = seed
        self.records: list[PlayRecord] = []  # finished plays, for the caller to drain
        self.schedule = History()  # the schedule's plays, as if nobody were ever there
        self.overlay = History()  # audience plays: `current` is the one over the schedule
        self._use(playlist)
        self._pending: Playlist | None = None
        self._screen: _OnScreen | None = None
        self._shown: _OnScreen | None = None  # what the caller was last told to show
        self._state = AudienceState()

    @property
    def playlist(self) -> Playlist:
        return self.engine.playlist

    @property
    def current(self) -> Current | None:
        """What is on screen: an audience play over the schedule, else the schedule's play."""
        return self.overlay.current or self.schedule.current

    @property
    def scheduled(self) -> str | None:
        """The schedule's creative now, whatever is on screen (None: the fallback card)."""
        current = self.schedule.current
        return current.play.creative if current else None

    def tick(self, state: AudienceState, now: Now) -> Decision:
        """Advance to `now`: end what is due, let the schedule move on, then ask the
        engine whether an audience rule takes the screen. A decision with action 'start'
        means: show `decision.creative` now."""
        self._state = state
        if self._screen is not None:
            self._screen.summary.add(state, now.t)
        before = self._screen
        overlay = self.overlay.current
        if overlay is not None and overlay.ends is not None and now.t >= overlay.ends:
            self._end_overlay(now, "duration", resume=True)
        planned = self._advance_schedule(now)
        # A boundary on screen (what it showed ended): the engine chooses afresh, as between plays.
        boundary = self._screen is not before or self._screen is None
        view = self._overlay_view(now, None if boundary else self.current)
        decision = self.engine.choose(state, now, view)
        if decision.action == "start" and decision.audience:
            self._start_overlay(decision, now)
        rechecks = [t for t in (planned.recheck_at, decision.recheck_at) if t is not None]
        underneath = self.schedule.current
        if self.overlay.current is not None and underneath is not None and underneath.ends is not None:
            rechecks.append(underneath.ends)  # the schedule moves on under the audience play
        return self._answer(min(rechecks, default=None), decision.reasons)

    def finished(self, now: Now, reason: EndReason = "duration") -> None:
        """The renderer reports the creative on screen ended (a video reached its end) or
        failed ('error': its creative is skipped until the playlist changes)."""
        current = self.current
        if current is None:
            return
        failed = current.play.creative
        if reason == "error" and failed is not None:
            # What an audience play found broken, the schedule finds out when it plays it: its
            # plays (and their INFO lines) stay as if nobody were there.
            if self.overlay.current is not None:
                self.overlay = replace(self.overlay, bad=self.overlay.bad | {failed})
            else:
                self.schedule = replace(self.schedule, bad=self.schedule.bad | {failed})
        if self.overlay.current is not None:
            self._end_overlay(now, reason, resume=True)
        else:
            self._finish_schedule(now, reason)

    def replace_playlist(self, playlist: Playlist, now: Now) -> None:
        """Use a new playlist from the next boundary, or at once if the creative on
        screen no longer exists or nothing playable is (the fallback card)."""
        self._pending = playlist
        overlay = self.overlay.current
        if overlay is not None and overlay.play.creative not in playlist.creatives:
            self._end_overlay(now, "removed", resume=True)
        current = self.schedule.current
        if current is None:
            self._swap_playlist()
            return
        if not current.play.creative or current.play.creative not in playlist.creatives:
            self._finish_schedule(now, "removed")
            self._swap_playlist()

    def play_now(self, creative: str, now: Now) -> None:
        """Play a creative once, at once (the MQTT `creative` command); then the rules resume."""
        if creative not in self.playlist.creatives:
            raise KeyError(creative)
        if self.overlay.current is not None:
            self._end_overlay(now, "interrupted", resume=False)
        if self.schedule.current is not None:
            self._finish_schedule(now, "interrupted")
        self._start_schedule(Decision("start", creative, "command", "played on command", priority=float("inf")), now)

    def stop(self, now: Now) -> None:
        if self.overlay.current is not None:
            self._end_overlay(now, "stopped", resume=False)
        self._finish_schedule(now, "stopped")

    def take_records(self) -> list[PlayRecord]:
        """The plays finished since the last call (proof of play, for the caller to send)."""
        records, self.records = self.records, []
        return records

    # ----- the schedule ---------------------------------------------------------------------

    def _use(self, playlist: Playlist) -> None:
        self.engine = Engine(playlist, self.seed)
        self._schedule_engine = Engine(replace(playlist, rules=[r for r in playlist.rules if not r.when.audience]),
                                       self.seed)

    def _swap_playlist(self) -> None:
        if self._pending is None:
            return
        self._use(self._pending)
        self.schedule = replace(self.schedule, bad=frozenset())  # new media: nothing is bad yet
        self.overlay = replace(self.overlay, bad=frozenset())
        self._pending = None

    def _advance_schedule(self, now: Now) -> Decision:
        current = self.schedule.current
        if current is not None and current.ends is not None and now.t >= current.ends:
            self._finish_schedule(now, "duration")
        if self.schedule.current is None and self._pending is not None:
            self._swap_playlist()
        decision = self._schedule_engine.choose(NOBODY, now, self.schedule)
        if decision.action == "start":
            if self.schedule.current is not None:
                self._finish_schedule(now, "interrupted")
            self._start_schedule(decision, now)
        return decision

    def _start_schedule(self, decision: Decision, now: Now) -> None:
        play = Play(decision.creative, decision.rule, decision.index, now.t)
        self.schedule = replace(self.schedule, current=Current(play, decision.priority, False,
                                                               now.t + self._seconds(decision.creative),
                                                               decision.min_show))
        logger.info("playing %s (%s): %s", decision.creative or "fallback", decision.rule, decision.reason)
        if self.overlay.current is None:
            self._show(decision.creative, decision.rule, now, decision.reason, audience=False, touched=False)

    def _finish_schedule(self, now: Now, reason: EndReason) -> None:
        current = self.schedule.current
        if current is None:
            return
        if self.overlay.current is None:  # it was on screen
            self._record(now, reason)
        play = replace(current.play, end=now.t)
        self.schedule = self.schedule.finish(play, horizon=now.t - HOUR)

    # ----- audience plays over it -----------------------------------------------------------

    def _overlay_view(self, now: Now, current: Current | None) -> History:
        """The history the engine sees for audience rules: their plays since the top of the
        hour only (an audience play of an hour before, for one person, must not change
        what the next hour plays), what is on screen, the failed creatives."""
        since = now.t - into_hour(now.local)
        plays = tuple(p for p in self.overlay.plays if p.start >= since)
        last = tuple((rule, p) for rule, p in self.overlay.last if p.start >= since)
        return History(plays, current, self.schedule.bad | self.overlay.bad, last)

    def _start_overlay(self, decision: Decision, now: Now) -> None:
        if self.overlay.current is not None:
            self._end_overlay(now, "interrupted", resume=False)
        elif self._screen is not None:
            self._record(now, "interrupted", touched=True)  # its end is the moment the audience rule fired
        play = Play(decision.creative, decision.rule, decision.index, now.t)
        self.overlay = replace(self.overlay, current=Current(play, decision.priority, True,
                                                             now.t + self._seconds(decision.creative),
                                                             decision.min_show))
        # Never at INFO: its time and reason (e.g. "looking >= 1") say that someone was there then.
        logger.debug("playing %s (%s): %s", decision.creative, decision.rule, decision.reason)
        self._show(decision.creative, decision.rule, now, decision.reason, audience=True, touched=True)

    def _end_overlay(self, now: Now, reason: EndReason, resume: bool) -> None:
        current = self.overlay.current
        if current is None:
            return
        self._record(now, reason)
        self.overlay = self.overlay.finish(replace(current.play, end=now.t), horizon=now.t - HOUR)
        schedule = self.schedule.current
        if resume and schedule is not None:
            self._show(schedule.play.creative, schedule.play.rule, now, "the schedule, after an audience play",
                       audience=False, touched=True)

    # ----- what is on screen ----------------------------------------------------------------

    def _seconds(self, creative: str | None) -> float:
        if creative in self.playlist.creatives:
            return self.playlist.seconds(creative)
        return FALLBACK_SECONDS  # nothing playable: the fallback, then try again

    def _show(self, creative: str | None, rule: str, now: Now, reason: str, audience: bool, touched: bool) -> None:
        self._screen = _OnScreen(creative, rule, now.t, now.local, reason, audience, touched,
                                 _Audience(last_t=now.t, sample=self._state.now))

    def _answer(self, recheck_at: float | None, reasons: tuple) -> Decision:
        """What the caller shows: 'start' when the screen changed since it last asked; with
        the engine's reasons for the rules it did not pick."""
        screen, current = self._screen, self.current
        if screen is not None and screen is not self._shown:
            self._shown = screen
            return Decision("start", screen.creative, screen.rule, screen.reason, reasons=reasons,
                            recheck_at=recheck_at, audience=screen.audience)
        if current is None:
            return Decision("keep", None, "default", "nothing to play", reasons=reasons, recheck_at=recheck_at)
        return Decision("keep", current.play.creative, current.play.rule, "what is on screen plays on",
                        reasons=reasons, recheck_at=recheck_at, audience=current.audience)

    def _record(self, now: Now, reason: EndReason, touched: bool = False) -> None:
        """What the screen showed until now, as proof of play (nothing for no time, or the fallback)."""
        screen, self._screen = self._screen, None
        if screen is None:
            return
        screen.summary.add(self._state, now.t)
        seconds = now.t - screen.start
        if not screen.creative or seconds <= 0:
            return
        audience = screen.summary
        started = screen.local
        self.records.append(PlayRecord(
            creative=screen.creative, rule=screen.rule, start=utc_iso(started),
            end=utc_iso(started + dt.timedelta(seconds=seconds)), seconds=round(seconds, 3), ended=reason,
            peak_faces=audience.peak_faces, peak_looking=audience.peak_looking,
            mean_faces=round(audience.face_seconds / seconds, 3),
            looking_seconds=round(audience.looking_seconds, 2),
            expressions={name: round(value, 2) for name, value in zip(EXPRESSIONS, audience.expression_seconds)
                         if value > 0},
            audience=screen.audience, people=audience.people, touched=screen.touched or touched,
        ))
