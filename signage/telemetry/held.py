"""Held proof of play across a restart: the ledger's held periods, as the spool keeps them.

The ledger (ledger.py) holds plays back for up to an hour, or a day for a quiet hour. A
power cut, a SIGKILL or a watchdog restart would lose them, so each change is written to
the spool in the transaction that spools the messages sent before it (spool/file.py), and
the kiosk restores it at boot; the ledger then releases it by its own rules (a period that
ended while the kiosk was down, at once). The spool keeps rows (spool/heldrows.py): one
for the form, one small row per period, one per play kept one by one, and writes only
those that changed, so a busy hour costs the SD card a row per play, not the whole hour
again after every play. An older spool's single body (version 1) is read as well.

What is kept is at most what the ledger holds in RAM, and less:
- how many people passed in each period, never who (no track number), and only up to
  `min_group`: all that the release decides on;
- the plays of an hour with fewer than `min_group` passers so far, or with a play that
  depends on the audience (an audience play, or one it touched), as plays and seconds per
  creative for the hour: no moment, no order (such an hour is released per creative
  anyway; a quiet one restored is, even if it fills up);
- the plays of an hour with `min_group` passers and none that depends on the audience one
  by one, as their proof (creative, rule, times, how it ended) with only the figures about
  people their play messages would publish; who contributed is replaced by as many
  stand-ins (negative numbers, which no track has) as the published counts say.

A snapshot written with another `min_group` is restored as aggregates only: the verdicts
it carries were made with the old minimum. A body that cannot be read is refused whole
(`HeldUnreadable`, saying what is wrong and where); a period whose count is missing is
restored as quiet (nobody passed): the larger period, or "audience", releases its plays.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, Iterable, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator, model_validator

from signage.audience import Expression
from signage.contributors import Contributions
from signage.errors import SignageError
from signage.telemetry.ledger import HeldPeriod, Ledger, day_of, hour_of
from signage.telemetry.spool.heldrows import HeldRows
from signage.fields import ID_PATTERN
from signage.wire.messages import utc

VERSION = 2  # the rows; 1 is the single body of an older spool (read, never written)
LEGACY = 1
FORM = "form"  # the row that names the version and min_group
MAX_PLAYS = 10_000  # plays an hour may hold (a 1 s creative for an hour, and some): a bound, not a quota
DAY_SECONDS = 86_400.0 * 2  # a bound for a period's seconds (a day, and its plays' overrun)
_STAND_IN_SECONDS = 1.0  # each stand-in's share of a figure: equal shares, so none dominates


class HeldUnreadable(SignageError):
    """The held proof of play in the spool cannot be restored; the message says why."""


@dataclass
class HeldPlay:
    """A held play restored from the spool: what `play_message` and the ledger read of a
    PlayRecord (telemetry does not import the playlist), its people as stand-ins."""

    creative: str
    rule: str
    start: str
    end: str
    seconds: float
    ended: str
    peak_faces: int = 0
    mean_faces: float = 0.0
    peak_looking: int = 0
    looking_seconds: float = 0.0
    expressions: dict[str, float] = field(default_factory=dict)
    audience: bool = False
    people: Contributions = field(default_factory=Contributions)
    touched: bool = False


# ----- the stored form -----------------------------------------------------------------------

_Plays = Annotated[int, Field(ge=0, le=MAX_PLAYS * 24)]
_Seconds = Annotated[float, Field(ge=0, le=DAY_SECONDS, allow_inf_nan=False)]
_Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]  # a creative or rule id, as messages carry it


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Play(_Model):
    creative: _Id
    seconds: _Seconds
    rule: _Id
    start: str = Field(max_length=40)  # as the play message publishes them
    end: str = Field(max_length=40)
    ended: Literal["duration", "interrupted", "error", "removed", "stopped"] = "duration"  # as Play says
    audience: bool = False
    ots: int | None = Field(default=None, ge=0)  # the published counts; None when withheld
    viewers: int | None = Field(default=None, ge=0)
    peak_faces: int = Field(default=0, ge=0)
    mean_faces: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    peak_looking: int = Field(default=0, ge=0)
    looking_seconds: float = Field(default=0.0, ge=0, allow_inf_nan=False)
    expressions: dict[Expression, _Seconds] | None = None  # None when withheld

    @field_validator("start", "end")
    @classmethod
    def _a_time(cls, value: str) -> str:
        try:
            utc(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an ISO 8601 time") from None
        return value


class _Period(_Model):
    start: dt.datetime
    passers: int | None = Field(default=None, ge=0)  # None: the count was lost (a quiet period)
    plays: list[_Play] = Field(default_factory=list, max_length=MAX_PLAYS)  # an hour's, one by one
    aggregate: dict[_Id, tuple[_Plays, _Seconds]] = Field(default_factory=dict)  # an hour's, per creative
    held: dict[_Id, tuple[_Plays, _Seconds]] = Field(default_factory=dict)  # a day's, per creative

    @model_validator(mode="after")
    def _bounded(self) -> _Period:
        if len(self.plays) + sum(plays for plays, _ in self.aggregate.values()) > MAX_PLAYS:
            raise ValueError(f"more than {MAX_PLAYS} plays in one hour")
        return self


class _Body(_Model):
    version: int
    min_group: int = Field(ge=1)
    hours: list[_Period] = Field(default_factory=list, max_length=48)
    days: list[_Period] = Field(default_factory=list, max_length=3)


# ----- writing --------------------------------------------------------------------------------

def encode(ledger: Ledger, min_group: int, play_text: Callable[[Any, int], bytes | None] | None = None) -> HeldRows:
    """The ledger's held periods, as the spool keeps them (see the module's docstring).
    `play_text` gives a play's JSON, None for one released in aggregate whatever comes
    (HeldCopy remembers each: a finished play never changes)."""
    text_of = play_text or _play_text
    hours, days = ledger.snapshot()
    periods = {FORM: _json({"version": VERSION, "min_group": min_group})}
    plays: dict[tuple[str, int], bytes] = {}
    for day in days:
        periods[f"day {_iso(day.start)}"] = _json({"start": _iso(day.start), "passers": min(day.passers, min_group),
                                                   "held": _rounded(day.held)})
    for hour in hours:
        name = f"hour {_iso(hour.start)}"
        aggregate, texts = _hour(hour, min_group, text_of)
        periods[name] = _json({"start": _iso(hour.start), "passers": min(hour.passers, min_group),
                               "aggregate": _rounded(aggregate)})
        plays.update(((name, n), text) for n, text in enumerate(texts))
    return HeldRows(periods, plays)


def _hour(hour: HeldPeriod, min_group: int,
          text_of: Callable[[Any, int], bytes | None]) -> tuple[dict[str, tuple[float, float]], list[bytes]]:
    """Plays and seconds per creative, in no order, for every play of an hour with fewer
    than min_group passers so far, or with a play that depends on the audience (an
    audience play, or one it touched: such an hour is released per creative whatever
    comes); the plays of any other hour one by one, in order (a row each)."""
    quiet = hour.passers < min_group or any(record.touched or record.audience for record in hour.plays)
    aggregate: dict[str, tuple[float, float]] = {}
    plays = []
    for record in hour.plays:
        text = None if quiet else text_of(record, min_group)
        if text is None:
            plays_so_far, seconds = aggregate.get(record.creative, (0, 0.0))
            aggregate[record.creative] = (plays_so_far + 1, seconds + record.seconds)
        else:
            plays.append(text)
    return aggregate, plays


def _json(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), allow_nan=False).encode()


def _play_text(record: Any, min_group: int) -> bytes | None:
    """A play's JSON, None for one released in aggregate whatever comes."""
    if record.touched or record.audience:
        return None
    return _json(_play(record, min_group))


def _rounded(held: dict[str, tuple[float, float]]) -> dict[str, list[float]]:
    return {creative: [int(plays), round(seconds, 3)] for creative, (plays, seconds) in sorted(held.items())}


def _play(record: Any, min_group: int) -> dict:
    who: Contributions = record.people
    faces, looking = who.presence_publishable(min_group), who.looking_publishable(min_group)
    expressions = looking and who.expressions_publishable(min_group)
    return {"creative": record.creative, "seconds": record.seconds, "rule": record.rule, "start": record.start,
            "end": record.end, "ended": record.ended, "audience": record.audience,
            "ots": who.ots if faces else None, "viewers": who.viewers if looking else None,
            "peak_faces": record.peak_faces if faces else 0, "mean_faces": record.mean_faces if faces else 0.0,
            "peak_looking": record.peak_looking if looking else 0,
            "looking_seconds": record.looking_seconds if looking else 0.0,
            "expressions": dict(record.expressions) if expressions else None}


def _iso(moment: dt.datetime) -> str:
    return moment.isoformat()  # naive UTC, as the ledger keeps it


class HeldCopy:
    """The rows last given to `keep`: new ones only when the held periods changed (a play
    held or released, a period's count up to min_group), so the spool is asked to write
    when there is something new to keep, not at every frame (and then writes only the
    rows that differ). Each play's JSON is made once."""

    def __init__(self, keep: Callable[[HeldRows], None] | None):
        self._keep = keep
        self._mark: tuple | None = None
        self._texts: dict[int, tuple[Any, int, bytes | None]] = {}  # id(record) -> (record, min_group, JSON)

    def update(self, ledger: Ledger, min_group: int) -> None:
        if self._keep is None:
            return
        mark = (ledger, ledger.revision, min_group)  # (not a snapshot: this runs at every loop step)
        if mark != self._mark:
            used: dict[int, tuple[Any, int, bytes | None]] = {}
            self._keep(encode(ledger, min_group, lambda record, group: self._text(record, group, used)))
            self._texts, self._mark = used, mark  # (the released plays' texts are forgotten)

    def _text(self, record: Any, min_group: int, used: dict[int, tuple[Any, int, bytes | None]]) -> bytes | None:
        known = self._texts.get(id(record))
        if known is None or known[0] is not record or known[1] != min_group:
            known = (record, min_group, _play_text(record, min_group))
        used[id(record)] = known
        return known[2]


# ----- reading --------------------------------------------------------------------------------

def decode(stored: HeldRows | bytes, min_group: int) -> tuple[list[HeldPeriod], list[HeldPeriod]]:
    """The periods the spool's rows (or an older spool's single body) hold, for
    `Ledger.restore`. Raises HeldUnreadable."""
    if isinstance(stored, HeldRows) and stored.legacy is None:
        version = VERSION
        try:
            found = _Body.model_validate(assemble(stored))
        except ValidationError as exc:
            raise _unreadable(exc, "the rows", version) from None
    else:
        version = LEGACY
        try:
            found = _Body.model_validate_json(stored.legacy or b"" if isinstance(stored, HeldRows) else stored)
        except ValidationError as exc:
            raise _unreadable(exc, "the body", version) from None
    if found.version != version:
        raise HeldUnreadable(f"held proof of play: version {found.version} is not {version}, the one this build "
                             f"reads in this form")
    same_rules = found.min_group == min_group
    hours = [HeldPeriod(hour_of(_naive(hour.start)), _count(hour.passers, min_group),
                        _restored(hour, hour_of(_naive(hour.start)), same_rules, min_group), {})
             for hour in found.hours]
    days = [HeldPeriod(day_of(_naive(day.start)), _count(day.passers, min_group), (), dict(day.held))
            for day in found.days]
    return hours, days


def assemble(rows: HeldRows) -> dict:
    """The rows as one document of the form `_Body` reads: the hours with their plays in
    order. A play whose hour has no row is in an hour of no count (a quiet one)."""
    def parsed(name: str, body: bytes) -> Any:
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError):
            raise HeldUnreadable(f"held proof of play: the row {name!r} is not JSON (expected the form of "
                                 f"signage/telemetry/held.py, version {VERSION})") from None

    form = parsed(FORM, rows.periods[FORM]) if FORM in rows.periods else {}
    found: dict[str, Any] = dict(form) if isinstance(form, dict) else {"form": form}
    found.setdefault("version", None)
    hours: dict[str, Any] = {}
    days: list[Any] = []
    for name, body in sorted(rows.periods.items()):
        if name.startswith("hour "):
            hours[name] = parsed(name, body)
        elif name.startswith("day "):
            days.append(parsed(name, body))
        elif name != FORM:
            raise HeldUnreadable(f"held proof of play: a row named {name!r} (expected 'form', 'hour ...' or "
                                 "'day ...')")
    for (name, n), body in sorted(rows.plays.items()):
        hour = hours.setdefault(name, {"start": name.removeprefix("hour ")})
        if isinstance(hour, dict):
            hour.setdefault("plays", []).append(parsed(f"{name} play {n}", body))
    found["hours"], found["days"] = list(hours.values()), days
    return found


def _unreadable(exc: ValidationError, whole: str, version: int) -> HeldUnreadable:
    first = exc.errors()[0]
    where = ".".join(str(part) for part in first["loc"]) or whole
    return HeldUnreadable(f"held proof of play: {where}: {first['msg']} ({exc.error_count()} problem(s); "
                          f"expected the form of signage/telemetry/held.py, version {version})")


def _count(passers: int | None, min_group: int) -> int:
    return 0 if passers is None else min(passers, min_group)


def _naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def _restored(hour: _Period, start: dt.datetime, same_rules: bool, min_group: int) -> tuple[HeldPlay, ...]:
    """An hour's plays: those kept one by one (in aggregate only, under another min_group),
    then those kept in aggregate, each creative's seconds on the first of its plays."""
    at = start.isoformat() + "Z"  # its hour, not a moment
    aggregate = {creative: list(counts) for creative, counts in hour.aggregate.items()}
    plays = []
    for play in hour.plays:
        if same_rules:
            plays.append(HeldPlay(play.creative, play.rule, play.start, play.end, play.seconds, play.ended,
                                  peak_faces=play.peak_faces, mean_faces=play.mean_faces,
                                  peak_looking=play.peak_looking, looking_seconds=play.looking_seconds,
                                  expressions={str(name): value for name, value in (play.expressions or {}).items()},
                                  audience=play.audience,
                                  people=_stand_ins(play, min_group)))
        else:  # its verdicts were made with the old minimum
            counts = aggregate.setdefault(play.creative, [0, 0.0])
            counts[0], counts[1] = counts[0] + 1, counts[1] + play.seconds
    for creative, (count, seconds) in sorted(aggregate.items()):
        plays += [HeldPlay(creative, "", at, at, seconds if n == 0 else 0.0, "duration", touched=True)
                  for n in range(int(count))]
    return tuple(plays)


def _stand_ins(play: _Play, min_group: int) -> Contributions:
    """As many people as the published counts say, equal shares each: the same verdicts
    and counts as the play's own people gave, and nobody's figures."""
    who = Contributions()
    who.present.update(_shares(play.ots or 0))
    who.looking.update(_shares(play.viewers or 0))
    if play.expressions is not None and play.viewers:
        for name in play.expressions or {"neutral": 0.0}:
            who.expressions[name] = dict(_shares(max(min_group, 1)))
    return who


def _shares(count: int) -> Iterable[tuple[int, float]]:
    return ((-number, _STAND_IN_SECONDS) for number in range(1, count + 1))
