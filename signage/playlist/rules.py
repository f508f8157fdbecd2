"""The rules engine: which creative should be on screen now, and why.

Pure and deterministic: `choose` is a function of the playlist, the audience state,
the time (monotonic seconds for durations, local wall time for dayparts), the play
history and a seed. No I/O, no threads, no clock of its own.

Semantics:
- Rules are tried by priority (higher first), ties in declaration order. A rule
  matches when its time conditions hold now and its audience conditions have held
  for `hold` seconds. The first matching rule with a creative that is not cooling
  down, capped or broken wins; otherwise the default loop plays.
- What is on screen changes at a creative's end. Only an audience-triggered rule of
  higher priority interrupts early, and only after the playing creative has been
  shown for its `min_show` seconds. An audience creative that is playing is never cut
  because its own condition flickered: it plays to its end.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass, field
from functools import partial
from typing import Callable, Literal, TypedDict

from signage.audience import EXPRESSIONS, AudienceState, Sample
from signage.fields import DailyWindow
from signage.playlist.fileformat import DAYS, PlayItem, Rule, When

DEFAULT_RULE = "default"
_EXPRESSION_INDEX = {name: index for index, name in enumerate(EXPRESSIONS)}
HOUR = 3600.0


@dataclass(frozen=True)
class Now:
    t: float  # monotonic seconds: durations, holds, cooldowns
    local: dt.datetime  # local wall time: days, hours, dates


@dataclass(frozen=True)
class Play:
    """One play in the history: which list position of which rule."""

    creative: str | None  # None: nothing playable, the fallback (as in Decision)
    rule: str
    index: int  # position in the rule's (or default loop's) play list
    start: float
    end: float | None = None  # None while playing


@dataclass(frozen=True)
class Current:
    """What is on screen now, as the engine needs to know it."""

    play: Play
    priority: float  # -inf for the default loop
    audience: bool  # started by an audience-triggered rule
    ends: float | None  # planned end; None: a video that plays to its end
    min_show: float


@dataclass(frozen=True)
class History:
    plays: tuple[Play, ...] = ()  # finished plays of the last hour, oldest first
    current: Current | None = None
    bad: frozenset[str] = frozenset()  # creatives whose media failed: skipped
    last: tuple[tuple[str, Play], ...] = ()  # each rule's newest finished play, however old

    def last_by(self, rule: str) -> Play | None:
        """The rule's newest play: where its sequence continues."""
        if self.current and self.current.play.rule == rule:
            return self.current.play
        return dict(self.last).get(rule)

    def finish(self, play: Play, horizon: float) -> History:
        """With `play` finished and plays that ended before `horizon` forgotten."""
        first = 0
        while first < len(self.plays) and (self.plays[first].end or 0.0) < horizon:
            first += 1
        last = tuple((rule, old) for rule, old in self.last if rule != play.rule) + ((play.rule, play),)
        return History(self.plays[first:] + (play,), None, self.bad, last)


# Why a rule did not win: the words, or a function that words them when asked (the hot path).
Why = str | Callable[[], str | None]


@dataclass(frozen=True)
class Decision:
    action: Literal["start", "keep"]
    creative: str | None  # None: nothing playable, show the fallback
    rule: str
    reason: str
    index: int = 0
    reasons: tuple = field(default=(), repr=False, compare=False)  # (rule id, why or a function making why)
    recheck_at: float | None = None  # a time when the answer may change without input changing
    priority: float = float("-inf")
    audience: bool = False
    min_show: float = 0.0

    @property
    def rejected(self) -> tuple[tuple[str, str], ...]:
        """(rule id, why it did not win) for every rule tried before the winner. Worded
        only when asked: a simulated day makes tens of thousands of decisions."""
        return tuple((rule, why() if callable(why) else why) for rule, why in self.reasons)


class _Chosen(TypedDict):
    """A Decision's fields besides action, reason and recheck_at."""

    creative: str | None
    rule: str
    index: int
    reasons: tuple
    priority: float
    audience: bool
    min_show: float


@dataclass(frozen=True)
class Candidate:
    rule: Rule | None  # None: the default loop
    item: PlayItem | None  # None: nothing playable (the renderer shows the fallback card)
    index: int
    why: str


def time_conditions(when: When, local: dt.datetime) -> str | None:
    """None when the time conditions hold, else why not. `days` and `dates` apply to the
    day a window starts: in a 22:00-02:00 window, Saturday 01:00 is Friday's night."""
    if when.hours is None:
        return _day_why(when, local.date(), "today")
    open_now = [(window, day) for window in when.hours if (day := window.started_on(local)) is not None]
    if not open_now:
        windows = ", ".join(f"{w.start}-{w.end}" for w in when.hours)
        return f"{local.hour:02d}:{local.minute:02d} is outside {windows}"
    whys = [_day_why(when, day, "today" if day == local.date() else f"the {window.start}-{window.end} window"
                                                                      " open now began on a day that")
            for window, day in open_now]
    return None if None in whys else whys[0]


def _day_why(when: When, day: dt.date, what: str) -> str | None:
    if when.days is not None and DAYS[day.weekday()] not in when.days:
        return f"{what} is {DAYS[day.weekday()]}, not {', '.join(when.days)}"
    if when.dates is not None and not any(r.start <= day <= r.end for r in when.dates):
        return f"{what} is {day.isoformat()}, outside the date ranges"
    return None


def into_hour(local: dt.datetime) -> float:
    """Seconds since the top of the hour, in UTC (the hours the kiosk's proof of play is
    released by): audience rules start afresh each hour (docs/privacy.md)."""
    if local.tzinfo is not None:
        local = local.astimezone(dt.timezone.utc)
    return local.minute * 60 + local.second + local.microsecond / 1e6


def audience_conditions(when: When, sample: Sample) -> str | None:
    """None when the audience conditions hold for this sample, else why not."""
    checks = (("faces", when.faces, sample.faces), ("looking", when.looking, sample.looking),
              ("dwell", when.dwell, sample.dwell), ("attention", when.attention, sample.attention))
    for name, wanted, value in checks:
        if wanted is not None and not wanted.holds(value):
            bounds = " and ".join(f"{op} {v:g}" for op, v in ((">=", wanted.min), ("<=", wanted.max)) if v is not None)
            return f"{name} is {value:g}, needs {bounds}"
    if when.expression is not None:
        share = sample.shares[_EXPRESSION_INDEX[when.expression.dominant]]
        if share < max(sample.shares) or share < when.expression.min_share:
            return (f"{when.expression.dominant} is {share:.0%} of looking faces, needs "
                    f">= {when.expression.min_share:.0%} and the most common")
    return None


def _time_ok(when: When, local: dt.datetime) -> bool:
    """time_conditions without the wording, for the hot path."""
    if when.hours is None:
        return _day_ok(when, local.date())
    return any(day is not None and _day_ok(when, day) for day in (w.started_on(local) for w in when.hours))


def _day_ok(when: When, day: dt.date) -> bool:
    if when.days is not None and DAYS[day.weekday()] not in when.days:
        return False
    return when.dates is None or any(r.start <= day <= r.end for r in when.dates)


def occurrence(window: DailyWindow, weekday: int) -> str:
    """'fri 22:00 to sat 02:00': the occurrence of `window` that starts on `weekday` (0 is mon)."""
    return f"{DAYS[weekday]} {window.start} to {DAYS[(weekday + 1) % 7]} {window.end}"


def spans(window: DailyWindow, when: When) -> str:
    """Every occurrence of an overnight window in a week, by the rule's days."""
    if when.days is None or len(set(when.days)) == len(DAYS):
        return f"every day {window.start} to {window.end} the next day"
    return ", ".join(occurrence(window, DAYS.index(day)) for day in sorted(set(when.days), key=DAYS.index))


def _window_now(when: When, local: dt.datetime) -> str:
    """'time window', and which night when the window open now crosses midnight."""
    for window in when.hours or ():
        day = window.started_on(local)
        if day is not None and window.crosses_midnight and _day_ok(when, day):
            return f"time window {occurrence(window, day.weekday())}"
    return "time window"


def _audience_reason(when: When, sample: Sample) -> str:
    return audience_conditions(when, sample) or "the audience just changed"


def _holds(when: When):
    """A fast yes/no version of audience_conditions, for walking back through samples."""
    ranges = [(name, wanted) for name in ("faces", "looking", "dwell", "attention")
              if (wanted := getattr(when, name)) is not None]
    expression = when.expression
    index = _EXPRESSION_INDEX[expression.dominant] if expression else 0

    def holds(sample: Sample) -> bool:
        for name, wanted in ranges:
            if not wanted.holds(getattr(sample, name)):
                return False
        if expression is not None:
            share = sample.shares[index]
            return share >= expression.min_share and share >= max(sample.shares)
        return True

    return holds


class Engine:
    """`choose` for one playlist. Holds no state between calls."""

    def __init__(self, playlist, seed: int = 0):
        self.playlist = playlist
        self.seed = seed
        self._conditions = {rule.id: _holds(rule.when) for rule in playlist.rules}

    def choose(self, state: AudienceState, now: Now, history: History) -> Decision:
        rejected: list[tuple[str, object]] = []
        recheck: list[float] = []
        winner: Candidate | None = None
        for rule in self.playlist.rules:
            why: Why | None = None if _time_ok(rule.when, now.local) else partial(time_conditions, rule.when, now.local)
            if why is None and rule.when.audience:
                why = self._audience_why(rule, state, now, recheck)
            if why is None:
                found = self._pick(rule, rule.play, history, now, recheck)
                if isinstance(found, Candidate):
                    why = self._past_the_hour(found, now, recheck) if rule.when.audience else None
                    if why is None:
                        winner = found
                        break
                else:
                    why = found
            rejected.append((rule.id, why))
        if winner is None:
            winner = self._default(history, now)
        return self._decide(winner, history, now, tuple(rejected), recheck)

    def _audience_why(self, rule: Rule, state: AudienceState, now: Now, recheck: list[float]) -> Why | None:
        # Held since the top of the hour at most: who was there the hour before changes nothing now.
        held = min(state.held_for(self._conditions[rule.id], now.t, enough=rule.when.hold), into_hour(now.local))
        if held <= 0:
            return partial(_audience_reason, rule.when, state.now)
        if held < rule.when.hold:
            recheck.append(now.t + rule.when.hold - held)
            return f"conditions held {held:.1f} s of the {rule.when.hold:g} s hold"
        return None

    def _past_the_hour(self, found: Candidate, now: Now, recheck: list[float]) -> str | None:
        """Why an audience play may not start now: it would run past the top of the hour
        (its proof of play is released by the hour it played in, and what it does to the
        schedule must end inside it). None when it fits."""
        if found.item is None:
            return None  # nothing playable: the fallback card, no play to release
        seconds = self.playlist.seconds(found.item.creative)
        hour_end = now.t - into_hour(now.local) + HOUR
        if now.t + seconds <= hour_end + 1e-6:
            return None
        recheck.append(hour_end)
        return f"its {seconds:g} s would run past the top of the hour"

    def _pick(self, rule: Rule | None, items: list[PlayItem], history: History, now: Now,
              recheck: list[float]) -> Candidate | str:
        rule_id = rule.id if rule else DEFAULT_RULE
        if rule is not None and rule.max_per_hour is not None:
            recent = [p.start for p in history.plays if p.rule == rule_id and p.start > now.t - HOUR]
            if history.current and history.current.play.rule == rule_id:
                recent.append(history.current.play.start)
            if len(recent) >= rule.max_per_hour:
                recheck.append(min(recent) + HOUR)
                return f"played {len(recent)} times in the last hour (max_per_hour {rule.max_per_hour})"
        eligible, cooling = [], []
        for index, item in enumerate(items):
            if item.creative in history.bad:
                continue
            if rule is not None and rule.cooldown > 0:
                last = self._last_end(history, rule_id, item.creative, now)
                if last is not None and now.t - last < rule.cooldown:
                    cooling.append(last + rule.cooldown)
                    continue
            eligible.append(index)
        if not eligible:
            if cooling and rule is not None:  # only a rule cools down
                recheck.append(min(cooling))
                return f"every creative is cooling down (cooldown {rule.cooldown:g} s)"
            return "every creative failed to load"
        if rule is not None and rule.order == "random":
            plays = sum(1 for p in history.plays if p.rule == rule_id)
            chooser = random.Random(f"{self.seed}:{rule_id}:{plays}")
            index = chooser.choices(eligible, weights=[items[i].weight for i in eligible])[0]
            return Candidate(rule, items[index], index, "weighted random")
        previous = history.last_by(rule_id)
        start = (previous.index + 1) % len(items) if previous else 0
        index = min(eligible, key=lambda i: (i - start) % len(items))
        return Candidate(rule, items[index], index, "next in sequence")

    @staticmethod
    def _last_end(history: History, rule_id: str, creative: str, now: Now) -> float | None:
        if history.current and history.current.play.rule == rule_id and history.current.play.creative == creative:
            return now.t
        for play in reversed(history.plays):
            if play.rule == rule_id and play.creative == creative:
                return play.end if play.end is not None else now.t
        return None

    def _default(self, history: History, now: Now) -> Candidate:
        found = self._pick(None, self.playlist.default, history, now, [])
        if isinstance(found, Candidate):
            return Candidate(None, found.item, found.index, "default loop")
        return Candidate(None, None, -1, found)

    def _decide(self, winner: Candidate, history: History, now: Now, rejected: tuple,
                recheck: list[float]) -> Decision:
        rule = winner.rule
        creative = winner.item.creative if winner.item is not None else None
        fields = _Chosen(
            creative=creative, rule=rule.id if rule else DEFAULT_RULE, index=winner.index, reasons=rejected,
            priority=rule.priority if rule else float("-inf"), audience=bool(rule and rule.when.audience),
            min_show=rule.min_show if rule else self.playlist.default_min_show,
        )
        current = history.current
        if current is None:
            return Decision("start", reason=self._reason(winner, now), recheck_at=min(recheck, default=None), **fields)
        keep = _Chosen(creative=current.play.creative, rule=current.play.rule, index=current.play.index,
                       reasons=rejected, priority=current.priority, audience=current.audience,
                       min_show=current.min_show)
        if fields["rule"] == current.play.rule:
            return Decision("keep", reason="the playing rule still wins", recheck_at=min(recheck, default=None), **keep)
        if fields["audience"] and fields["priority"] > current.priority:
            shown = now.t - current.play.start
            if shown >= current.min_show:
                return Decision("start", reason=f"interrupts {current.play.rule}: {self._reason(winner, now)}",
                                recheck_at=min(recheck, default=None), **fields)
            recheck.append(current.play.start + current.min_show)
            return Decision("keep", reason=f"{fields['rule']} waits for min_show {current.min_show:g} s",
                            recheck_at=min(recheck, default=None), **keep)
        return Decision("keep", reason=f"{fields['rule']} starts at the next boundary",
                        recheck_at=min(recheck, default=None), **keep)

    @staticmethod
    def _reason(winner: Candidate, now: Now) -> str:
        if winner.rule is None:
            return winner.why if winner.item is None else "default loop (no rule matched)"
        conditions = []
        when = winner.rule.when
        for name in ("faces", "looking", "dwell", "attention"):
            wanted = getattr(when, name)
            if wanted is not None:
                conditions += [f"{name} >= {wanted.min:g}"] if wanted.min is not None else []
                conditions += [f"{name} <= {wanted.max:g}"] if wanted.max is not None else []
        if when.expression is not None:
            conditions.append(f"{when.expression.dominant} >= {when.expression.min_share:.0%}")
        if when.days or when.hours or when.dates:
            conditions.append(_window_now(when, now.local))
        held = f" held {when.hold:g} s" if when.audience else ""
        how = f" ({winner.why})" if len(winner.rule.play) > 1 else ""
        return f"rule {winner.rule.id}: {' and '.join(conditions) or 'always'}{held}{how}"
