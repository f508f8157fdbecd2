"""`signage simulate`: replay a scripted audience through the engine on a virtual clock.

A scenario file lists moments; each sets the audience from then until the next:

    start: 2026-11-23T08:00:00   # local time at second 0 (default: next Monday 08:00)
    duration: 3600               # seconds to simulate (default: last moment + 60)
    timeline:
      - at: 0                    # seconds, or "HH:MM:SS" from the start
        faces: 0
      - at: 10
        faces: 2
        looking: 2
        expression: happy        # of those looking; or expressions: {happy: 0.5, neutral: 0.5}
      - at: 25
        faces: 0

The clock jumps from event to event (a creative ends, the scenario changes, a hold or
a cooldown completes), so a simulated day takes a fraction of a second.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, field_validator, model_validator

from signage.audience import EXPRESSIONS, AudienceState, Sample
from signage.config import Section
from signage.playlist.loader import Playlist
from signage.playlist.player import Player, PlayRecord
from signage.playlist.rules import Now
from signage.playlist.fileformat import DAYS, Expression
from signage.validation import validate
from signage.yamlread import load

MAX_SECONDS = 7 * 86400
# Every simulated moment (start + up to MAX_SECONDS, in any time zone) must be a date Python can hold.
EARLIEST, LATEST = dt.datetime(1900, 1, 1), dt.datetime(9998, 12, 31, 23, 59, 59)
STEP_WITH_PEOPLE = 1.0  # dwell and attention grow while people stay: look again every second


def _seconds(value: Any) -> Any:
    if isinstance(value, str) and value.count(":") == 2:
        hours, minutes, seconds = value.split(":")
        return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
    return value


Seconds = Annotated[float, BeforeValidator(_seconds, json_schema_input_type=float | str), Field(ge=0, le=MAX_SECONDS)]


class Moment(Section):
    at: Seconds = Field(description="Seconds from the start, or HH:MM:SS.")
    faces: int = Field(0, ge=0, le=100)
    looking: int = Field(0, ge=0, le=100)
    expression: Expression | None = Field(None, description="Every looking face shows this.")
    expressions: dict[Expression, float] | None = Field(None, description="Shares among looking faces.")

    @model_validator(mode="after")
    def _consistent(self) -> Moment:
        if self.looking > self.faces:
            raise ValueError(f"looking ({self.looking}) cannot exceed faces ({self.faces})")
        if self.expression and self.expressions:
            raise ValueError("give `expression` or `expressions`, not both")
        return self

    def shares(self) -> tuple[float, ...]:
        if self.looking == 0:
            return (0.0,) * len(EXPRESSIONS)
        if self.expression:
            return tuple(1.0 if name == self.expression else 0.0 for name in EXPRESSIONS)
        if self.expressions:
            total = sum(self.expressions.values()) or 1.0
            return tuple(self.expressions.get(name, 0.0) / total for name in EXPRESSIONS)
        return (0.0,) * len(EXPRESSIONS)


def _next_monday_8() -> dt.datetime:
    today = dt.date.today()
    monday = today + dt.timedelta(days=(7 - today.weekday()) % 7 or 7)
    return dt.datetime.combine(monday, dt.time(8, 0))


class Scenario(Section):
    start: dt.datetime = Field(default_factory=_next_monday_8, description="Local time at second 0.")
    duration: Seconds | None = Field(None, description="Seconds to simulate; default: last moment + 60.")
    timeline: list[Moment] = Field(min_length=1)

    @field_validator("start")
    @classmethod
    def _representable(cls, start: dt.datetime) -> dt.datetime:
        if not EARLIEST <= start.replace(tzinfo=None) <= LATEST:
            raise ValueError(f"{start.isoformat()} is out of range; give a time from {EARLIEST:%Y-%m-%d} to "
                             f"{LATEST:%Y-%m-%d}")
        return start

    @model_validator(mode="after")
    def _in_order(self) -> Scenario:
        times = [m.at for m in self.timeline]
        if times != sorted(times):
            raise ValueError("timeline moments must be in order of `at`")
        return self

    @property
    def seconds(self) -> float:
        return self.duration if self.duration is not None else self.timeline[-1].at + 60


def load_scenario(path: Path) -> Scenario:
    return validate(Scenario, load(path))


@dataclass(frozen=True)
class Switch:
    at: float  # seconds from the start
    local: dt.datetime  # the simulated local time then
    creative: str
    rule: str
    reason: str


def simulate(playlist: Playlist, scenario: Scenario, seed: int = 0) -> tuple[list[Switch], list[PlayRecord]]:
    player = Player(playlist, seed=seed)
    start = scenario.start if scenario.start.tzinfo else scenario.start.astimezone()
    moments = scenario.timeline
    end = scenario.seconds
    state = AudienceState()
    switches: list[Switch] = []
    t, index = 0.0, -1
    present_since: float | None = None
    looking_since: float | None = None
    while t <= end:
        while index + 1 < len(moments) and moments[index + 1].at <= t:
            index += 1
            moment = moments[index]
            present_since = (present_since if present_since is not None else t) if moment.faces else None
            looking_since = (looking_since if looking_since is not None else t) if moment.looking else None
        moment = moments[index] if index >= 0 else Moment(at=0)
        state = state.update(Sample(
            t=t, faces=moment.faces, looking=moment.looking, shares=moment.shares(),
            dwell=t - present_since if present_since is not None else 0.0,
            attention=t - looking_since if looking_since is not None else 0.0))
        now = Now(t, start + dt.timedelta(seconds=t))
        decision = player.tick(state, now)
        if decision.action == "start":
            switches.append(Switch(t, now.local, decision.creative or "(fallback)", decision.rule, decision.reason))
        t = _next_event(t, end, player, decision, moments, index, moment.faces > 0)
    player.stop(Now(end, start + dt.timedelta(seconds=end)))
    return switches, player.records


def _next_event(t, end, player, decision, moments, index, people) -> float:
    """The next time anything can change: a moment, a creative's end, a hold or a
    cooldown completing, or (while people stay) their dwell growing."""
    candidates = [end + 1]
    if index + 1 < len(moments):
        candidates.append(moments[index + 1].at)
    if player.current is not None and player.current.ends is not None:
        candidates.append(player.current.ends)
    if decision.recheck_at is not None:
        candidates.append(decision.recheck_at)
    if people:
        candidates.append(t + STEP_WITH_PEOPLE)
    return min(c for c in candidates if c > t)


def format_schedule(switches: list[Switch], records: list[PlayRecord]) -> str:
    """The schedule: when (from the start, and the simulated day and time), what, and why."""
    lines = [f"{'time':>10}  {'local':13}{'creative':18}{'rule':18}reason"]
    for switch in switches:
        clock = _elapsed(switch.at)
        local = f"{DAYS[switch.local.weekday()]} {switch.local:%H:%M:%S}"
        lines.append(f"{clock:>10}  {local:13}{switch.creative:18}{switch.rule:18}{switch.reason}")
    counts: dict[str, int] = {}
    for record in records:
        counts[record.creative] = counts.get(record.creative, 0) + 1
    lines.append("plays: " + ", ".join(f"{name} {count}" for name, count in sorted(counts.items())))
    return "\n".join(lines)


def _elapsed(seconds: float) -> str:
    """H:MM:SS from the start (hours past 24 too: one column, no spaces), tenths if any."""
    tenths = round(seconds * 10)
    hours, rest = divmod(tenths, 36000)
    minutes, rest = divmod(rest, 600)
    whole, tenth = divmod(rest, 10)
    return f"{hours}:{minutes:02d}:{whole:02d}" + (f".{tenth}" if tenth else "")
