"""Proof of play that depends on the audience, held and released in aggregate.

A play an audience rule chose for fewer than `min_group` people, and a schedule play
whose start or end such a play set (`touched`), are records of the moment someone was
there. So is the absence of a play record where the schedule had one: with audience
rules in the playlist, every play of an hour is held until the hour is over. Then:

- an hour in which at least min_group people passed publishes its plays one by one if
  none of them depends on the audience; if one does (an audience play, or a touched one),
  it releases all of them per creative (plays, seconds) for the hour: the schedule is
  deterministic, so the slots missing from an hour published one by one would tell when
  an audience rule fired. Which of the two an hour got is a fact about the hour, with its
  min_group passers; it says no more than the hour's totals do (an audience creative in
  them). Every per-play record published is then the schedule's, whoever passed;
- an hour with fewer passers hands all its plays to the day, which releases them per
  creative when at least min_group people passed that day, else only their seconds,
  under "audience".

Periods are UTC hours and days. A play belongs to the hour it started in; an hour is
released `grace` seconds after it ended (the longest creative of the playlist: every play
that started in it has ended by then), a day once its hours are: never at a moment an
audience play could move. A play handed in after its hour was released (a stalled
loop) goes to the day.

Pure: records and track numbers in, what to publish out. Track numbers (who passed)
live here in RAM for an hour and a day, and are never published. `snapshot` and `restore`
carry the held periods across a restart (telemetry/held.py keeps them in the spool): how
many passed, never who.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

from signage.wire.messages import utc

HOUR = dt.timedelta(hours=1)
DAY = dt.timedelta(days=1)
AUDIENCE = "audience"


def hour_of(moment: dt.datetime) -> dt.datetime:
    return moment.replace(minute=0, second=0, microsecond=0)


def day_of(moment: dt.datetime) -> dt.datetime:
    return moment.replace(hour=0, minute=0, second=0, microsecond=0)


@dataclass
class Totals:
    """Plays and seconds per creative: what a period releases in aggregate."""

    period: Literal["hour", "day"]
    start: dt.datetime  # naive UTC
    end: dt.datetime
    creatives: dict[str, tuple[int | None, float]]  # creative -> (plays, seconds); plays None under "audience"


@dataclass
class HeldPeriod:
    """A held period as `snapshot` gives it and `restore` takes it."""

    start: dt.datetime  # naive UTC
    passers: int  # how many people passed (counted, never named)
    plays: tuple  # an hour's held PlayRecords, in order
    held: dict[str, tuple[float, float]]  # a day's creative -> (plays, seconds)


@dataclass
class _Period:
    start: dt.datetime  # naive UTC
    passers: set[int] = field(default_factory=set)  # track numbers seen (RAM only)
    plays: list = field(default_factory=list)  # PlayRecords held, in order
    held: dict[str, list[float]] = field(default_factory=dict)  # creative -> [plays, seconds], for the day

    def hold(self, creative: str, plays: float, seconds: float) -> None:
        counts = self.held.setdefault(creative, [0, 0.0])
        counts[0] += plays
        counts[1] += seconds


class Ledger:
    """Held plays by hour and day."""

    def __init__(self, min_group: int):
        self.min_group = min_group
        self._hours: dict[dt.datetime, _Period] = {}
        self._days: dict[dt.datetime, _Period] = {}
        # Grows when what `snapshot` says changes (a play held or released, a period's
        # passers counted up to min_group): a copy kept elsewhere is made again only then.
        self.revision = 0

    def saw(self, tracks: Iterable[int], now: dt.datetime) -> None:
        """These people (track numbers) were in view at `now`."""
        now = utc_naive(now)
        tracks = tuple(tracks)
        for period in (self._hour(hour_of(now)), self._day(day_of(now))):
            before = len(period.passers)
            period.passers.update(tracks)
            if before < self.min_group and len(period.passers) != before:
                self.revision += 1

    def add(self, record, hold: bool) -> list:
        """A finished play. Returned at once, to be published, unless `hold` (the playlist
        has audience rules) or it depends on the audience; held otherwise."""
        start = utc(record.start)
        if self.min_group <= 1 or (not hold and not record.touched and not record.audience):
            return [record]  # (a min_group of 1 holds nothing: no record is about fewer people)
        self._hour(hour_of(start)).plays.append(record)
        self._day(day_of(start))
        self.revision += 1
        return []

    def due(self, now: dt.datetime, grace: float = 0.0, final: bool = False) -> list:
        """What the periods over by `now` release: play records to publish one by one, and
        Totals. An hour is over `grace` seconds after its end; with `final` (the kiosk
        stops, or its names or minimum group change), every period is over now."""
        now = utc_naive(now)
        late = dt.timedelta(seconds=grace)
        out: list = []
        for start in sorted(self._hours):
            end = start + HOUR
            if final or now >= end + late:
                out += self._release_hour(self._hours.pop(start), min(end, now) if final else end)
                self.revision += 1
        for start in sorted(self._days):
            end = start + DAY
            hours_left = any(day_of(hour) == start for hour in self._hours)
            if final or (now >= end + late and not hours_left):
                out += self._release_day(self._days.pop(start), min(end, now) if final else end)
                self.revision += 1
        return out

    def snapshot(self) -> tuple[list[HeldPeriod], list[HeldPeriod]]:
        """The periods held now, hours then days, oldest first: how many people passed
        (never who), the plays an hour holds, the plays and seconds a day holds."""
        hours = [HeldPeriod(start, len(hour.passers), tuple(hour.plays), {})
                 for start, hour in sorted(self._hours.items())]
        days = [HeldPeriod(start, len(day.passers), (), {creative: (counts[0], counts[1])
                                                          for creative, counts in day.held.items()})
                for start, day in sorted(self._days.items())]
        return hours, days

    def restore(self, hours: Iterable[HeldPeriod], days: Iterable[HeldPeriod]) -> None:
        """Periods held before a restart, joined with those held now (released by `due`
        as any other). Their passers stand in as as many negative numbers, which no track
        has (the hour's are among its day's: a day counts at least its hours' passers)."""
        hours = list(hours)
        for hour in hours:
            self._day(day_of(hour.start))  # as `add` makes it
        for period, into in [(hour, self._hour) for hour in hours] + [(day, self._day) for day in days]:
            held = into(period.start)
            held.passers.update(range(-1, -period.passers - 1, -1))
            held.plays.extend(period.plays)
            held.plays.sort(key=lambda record: utc(record.start))
            for creative, (plays, seconds) in period.held.items():
                held.hold(creative, plays, seconds)
        self.revision += 1

    def _release_hour(self, hour: _Period, end: dt.datetime) -> list:
        day = self._day(day_of(hour.start))
        day.passers.update(hour.passers)  # (they are there already, unless the day was released first)
        if len(hour.passers) < self.min_group:
            for record in hour.plays:
                day.hold(record.creative, 1, record.seconds)
            return []
        if not any(record.touched or record.audience for record in hour.plays):
            return list(hour.plays)
        # All or none: one play held back would leave its slot empty in the schedule.
        aggregate = _Period(hour.start)
        for record in hour.plays:
            aggregate.hold(record.creative, 1, record.seconds)
        return [Totals("hour", hour.start, max(end, hour.start), totals(aggregate.held))]

    def _release_day(self, day: _Period, end: dt.datetime) -> list:
        if not day.held:
            return []
        if len(day.passers) >= self.min_group:
            return [Totals("day", day.start, max(end, day.start), totals(day.held))]
        seconds = sum(seconds for _, seconds in day.held.values())
        return [Totals("day", day.start, max(end, day.start), {AUDIENCE: (None, round(seconds, 3))})]

    def _hour(self, start: dt.datetime) -> _Period:
        return self._hours.setdefault(start, _Period(start))

    def _day(self, start: dt.datetime) -> _Period:
        return self._days.setdefault(start, _Period(start))


def totals(held: dict[str, list[float]]) -> dict[str, tuple[int | None, float]]:
    return {creative: (int(plays), round(seconds, 3)) for creative, (plays, seconds) in sorted(held.items())}


def utc_naive(moment: dt.datetime) -> dt.datetime:
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment
