"""Proof of play released in aggregate: the plays a kiosk held because they depended on
fewer than `privacy.min_group` people (an audience rule chose, cut short or followed them,
or their hour had too few passers) and released per creative for an hour or a day (the
`totals` message, table `play_totals`). With the plays published one by one, they
attribute every second on screen once (docs/privacy.md)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

import sqlalchemy as sa

from signage.fleet.tables import play_totals
from signage.fleet.times import day_range

# The creative a day with fewer than min_group passers is released under: only its seconds,
# since its plays per creative would count what its audience rules did.
AUDIENCE = "audience"


@dataclass(frozen=True)
class Released:
    """One row of proof of play released in aggregate: on screen `site`/`device`, `plays`
    plays of `creative` started in [start, end) and were on screen `seconds` in all. `period`
    is what the kiosk released them for: a UTC hour or day, or the part of it the kiosk ran
    (it stopped, or its playlist changed). Under AUDIENCE, `plays` is None: a quiet day's
    plays are unknown, only their seconds are known. No row carries an audience figure."""

    site: str
    device: str
    creative: str
    period: str
    start: datetime
    end: datetime
    plays: int | None
    seconds: float


def released_select(start: datetime, end: datetime, site: str | None = None, device: str | None = None,
                    creative: str | None = None) -> sa.Select:
    """The released rows whose period starts in [start, end) (naive UTC), by start, screen
    and creative: a query to stream (an export) or to read whole (`released`)."""
    t = play_totals.c
    query = sa.select(t.site, t.device, t.creative, t.period, t.start, t.end, t.plays, t.seconds).where(
        t.start >= start, t.start < end).order_by(t.start, t.site, t.device, t.creative, t.id)
    for column, value in ((t.site, site), (t.device, device), (t.creative, creative)):
        if value:
            query = query.where(column == value)
    return query


def released(engine: sa.Engine, first: date, last: date, site: str | None = None, device: str | None = None,
             creative: str | None = None, limit: int | None = None) -> list[Released]:
    """Proof of play released in aggregate for the days [first, last] (UTC), filtered by
    site, screen and creative; at most `limit` rows."""
    query = released_select(*day_range(first, last), site, device, creative)
    if limit:
        query = query.limit(limit)
    with engine.begin() as conn:
        return [Released(*row) for row in conn.execute(query)]


@dataclass(frozen=True)
class QuietDays:
    """The seconds on screen released under AUDIENCE (days with fewer than min_group
    passers) over a period: `periods` released (a day, or the part of it a kiosk ran),
    `seconds` in all."""

    periods: int
    seconds: float


def quiet_days(engine: sa.Engine, first: date, last: date, site: str | None = None,
               device: str | None = None) -> QuietDays:
    """What a report over [first, last] shows as "audience (released per day)": no
    creative's plays, but seconds that were on screen."""
    t = play_totals.c
    query = sa.select(sa.func.count(), sa.func.sum(t.seconds)).where(
        t.creative == AUDIENCE, *[c == v for c, v in ((t.site, site), (t.device, device)) if v],
        t.start >= day_range(first, last)[0], t.start < day_range(first, last)[1])
    with engine.begin() as conn:
        periods, seconds = conn.execute(query).one()
    return QuietDays(int(periods or 0), float(seconds or 0))
