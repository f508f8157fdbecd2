"""The daily availability report: per screen and day, the share of the time the fleet
knew the screen's state that it was online, online with its display fine, and online
with its camera fine (fine: what the fleet page counts as no problem, so a display off
by its power schedule or a camera off for privacy is fine). Computed from the screen's
transitions (tables.screen_transitions), from the state it was in when the day began;
time before a screen's first availability, after it retired, and after now is not
counted.

Screens are read a chunk at a time, each chunk in its own short transaction, so a CSV of
a month of a large fleet streams in bounded memory and holds no connection between rows.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import sqlalchemy as sa

from signage.fleet.queries import FINE
from signage.fleet.tables import screen_transitions
from signage.fleet.times import day_range, day_start, now_utc

GOOD = {"display": FINE["display"], "camera": FINE["camera"]}
KNOWN = ("online", "stopped", "offline")  # "retired" (forget.retire) and nothing yet: not observed
CHUNK = 200  # screens read in one transaction
DAY = timedelta(days=1)


@dataclass
class DayAvailability:
    site: str
    device: str
    day: date
    observed_s: float = 0.0  # seconds of the day whose availability the fleet knew
    online_s: float = 0.0
    display_ok_s: float = 0.0  # online, and the display fine
    camera_ok_s: float = 0.0  # online, and the camera fine

    def add(self, seconds: float, online: bool, display_ok: bool, camera_ok: bool) -> None:
        self.observed_s += seconds
        self.online_s += seconds if online else 0.0
        self.display_ok_s += seconds if online and display_ok else 0.0
        self.camera_ok_s += seconds if online and camera_ok else 0.0

    def absorb(self, other: DayAvailability) -> None:
        """Add another day of the same screen (a period's total)."""
        self.observed_s += other.observed_s
        self.online_s += other.online_s
        self.display_ok_s += other.display_ok_s
        self.camera_ok_s += other.camera_ok_s

    def share(self, seconds: float) -> float | None:
        """Percent of the observed time, to 0.01; None when nothing was observed."""
        return round(100.0 * seconds / self.observed_s, 2) if self.observed_s > 0 else None

    @property
    def online(self) -> float | None:
        return self.share(self.online_s)

    @property
    def display_ok(self) -> float | None:
        return self.share(self.display_ok_s)

    @property
    def camera_ok(self) -> float | None:
        return self.share(self.camera_ok_s)


def screen_days(site: str, device: str, state: dict[str, str], changes: Iterable[tuple[datetime, str, str]],
                start: datetime, end: datetime) -> list[DayAvailability]:
    """The days of [start, end) (start at midnight) for one screen, from its `state` at
    `start` (feature → value) and its changes after it, oldest first."""
    days = {start.date() + timedelta(days=n): DayAvailability(site, device, start.date() + timedelta(days=n))
            for n in range(-(-int((end - start).total_seconds()) // 86400))}
    state, cursor = dict(state), start
    for at, feature, value in changes:
        _account(days, state, cursor, min(max(at, cursor), end))
        state[feature], cursor = value, max(at, cursor)
    _account(days, state, cursor, end)
    return [d for d in days.values() if d.observed_s > 0]


def _account(days: dict[date, DayAvailability], state: dict[str, str], begin: datetime, until: datetime) -> None:
    """Add [begin, until) in `state` to the days it covers."""
    if state.get("availability") not in KNOWN:
        return
    online = state.get("availability") == "online"
    while begin < until:
        piece_end = min(until, day_start(begin.date()) + DAY)
        days[begin.date()].add((piece_end - begin).total_seconds(), online, state.get("display") in GOOD["display"],
                               state.get("camera") in GOOD["camera"])
        begin = piece_end


def report(engine: sa.Engine, first: date, last: date, site: str | None = None, device: str | None = None,
           now: datetime | None = None, screens: slice | None = None) -> Iterator[DayAvailability]:
    """Each screen's days of [first, last], by site, device and day; `screens` takes a
    slice of the screens (a page). The screens are read now (a database that is down
    fails here, before a response starts), their days as the iterator is read."""
    start, end = day_range(first, last)
    end = min(end, now or now_utc())
    keys = _screens(engine, end, site, device) if end > start else []
    return _days(engine, keys[screens] if screens else keys, start, end)


def _days(engine: sa.Engine, keys: list[tuple[str, str]], start: datetime, end: datetime) -> Iterator[DayAvailability]:
    for offset in range(0, len(keys), CHUNK):
        chunk = keys[offset:offset + CHUNK]
        states, changes = _chunk(engine, chunk, start, end)
        for key in chunk:
            yield from screen_days(*key, states.get(key, {}), changes.get(key, []), start, end)


def screen_count(engine: sa.Engine, last: date, site: str | None = None, device: str | None = None) -> int:
    return len(_screens(engine, day_range(last, last)[1], site, device))


def _screens(engine: sa.Engine, end: datetime, site: str | None, device: str | None) -> list[tuple[str, str]]:
    t = screen_transitions
    query = sa.select(t.c.site, t.c.device).where(t.c.at < end).distinct().order_by(t.c.site, t.c.device)
    query = query.where(t.c.site == site) if site else query
    query = query.where(t.c.device == device) if device else query
    with engine.begin() as conn:
        return [(s, d) for s, d in conn.execute(query)]


def _chunk(engine: sa.Engine, keys: list[tuple[str, str]], start: datetime, end: datetime):
    """(state at `start`, changes in [start, end)) of each screen of `keys`."""
    t = screen_transitions
    mine = sa.tuple_(t.c.site, t.c.device).in_(keys)
    latest = (sa.select(sa.func.max(t.c.row)).where(mine, t.c.at < start)
              .group_by(t.c.site, t.c.device, t.c.feature).scalar_subquery())
    states: dict[tuple[str, str], dict[str, str]] = {}
    changes: dict[tuple[str, str], list[tuple[datetime, str, str]]] = {}
    with engine.begin() as conn:
        for s, d, feature, value in conn.execute(sa.select(t.c.site, t.c.device, t.c.feature, t.c.value)
                                                 .where(t.c.row.in_(latest))):
            states.setdefault((s, d), {})[feature] = value
        for s, d, feature, value, at in conn.execute(
                sa.select(t.c.site, t.c.device, t.c.feature, t.c.value, t.c.at)
                .where(mine, t.c.at >= start, t.c.at < end).order_by(t.c.site, t.c.device, t.c.at, t.c.row)):
            changes.setdefault((s, d), []).append((at, feature, value))
    return states, changes


PAGE_SIZE = 100  # screens on one page of the report
CSV_COLUMNS = ["day", "site", "device", "observed_hours", "online_pct", "display_ok_pct", "camera_ok_pct"]


@dataclass
class AvailabilityPage:
    screens: list[DayAvailability]  # one per screen over the period (day: its first day)
    days: list[DayAvailability]  # each day of each screen, for a page of one screen
    total: int  # screens in the report
    page: int
    pages: int


def page_of(engine: sa.Engine, first: date, last: date, site: str | None, device: str | None, page: int,
            now: datetime | None = None) -> AvailabilityPage:
    """A page of screens, each over the whole period; the days too when one screen is asked for."""
    total = screen_count(engine, last, site, device)
    pages = max(1, -(-total // PAGE_SIZE))
    page = min(page, pages)
    days = list(report(engine, first, last, site, device, now,
                       screens=slice((page - 1) * PAGE_SIZE, page * PAGE_SIZE)))
    screens: dict[tuple[str, str], DayAvailability] = {}
    for d in days:
        screens.setdefault((d.site, d.device), DayAvailability(d.site, d.device, d.day)).absorb(d)
    return AvailabilityPage(list(screens.values()), days if device else [], total, page, pages)


def csv_row(d: DayAvailability) -> list:
    """A CSV row: percentages to 0.01, empty where nothing was observed."""
    return [d.day.isoformat(), d.site, d.device, round(d.observed_s / 3600, 2), d.online, d.display_ok, d.camera_ok]
