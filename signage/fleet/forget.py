"""Forgetting screens, so that screens that left (or never existed: forged statuses) do
not cost for ever.

- **Retire**: the screen leaves the fleet page. Its live state goes (the screen row, its
  state echoes, status history and commands); what it reported stays (plays, metrics
  and every rollup), so reports over the past stay true. A screen that reports again
  comes back as a new one. Screens that are online are never retired.
- **Delete**: retire, and erase everything the screen reported: raw rows, its per-screen
  rollups, its dead letters, and its share of the per-site rollups (subtracted in the
  same transaction), as if it had never reported. For a forged or test screen.

Both work on a connection inside the caller's transaction.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa

from signage.fleet.times import now_utc
from signage.fleet.tables import (alerts, commands, creative_day_expressions, creative_days,
                                  creative_site_day_expressions, creative_site_days, dead_letters, metrics, play_totals,
                                  plays, screen_hour_expressions, screen_hours, screen_states, screen_transitions,
                                  screens, status_history)

LIVE_STATE = (screen_states, status_history, commands)  # goes with the screen row
REPORTED = (metrics, plays, play_totals, screen_hours, screen_hour_expressions, creative_days, creative_day_expressions,
            dead_letters, screen_transitions, alerts)
CHUNK = 500  # screens per DELETE … IN (…)


def unseen_since(before: datetime) -> sa.ColumnElement[bool]:
    """Screens not heard since `before` that are not online (a forged status leaves no
    availability at all)."""
    return sa.and_(sa.or_(screens.c.last_seen.is_(None), screens.c.last_seen < before),
                   sa.or_(screens.c.availability.is_(None), screens.c.availability != "online"))


def count_unseen(conn: sa.Connection, before: datetime) -> int:
    return conn.execute(sa.select(sa.func.count()).select_from(screens).where(unseen_since(before))).scalar_one()


def retire(conn: sa.Connection, before: datetime, now: datetime | None = None) -> int:
    """Retire the screens not seen since `before`; how many. Their availability ends
    with a "retired" transition: the availability report stops counting them."""
    gone = [tuple(row) for row in conn.execute(sa.delete(screens).where(unseen_since(before))
                                               .returning(screens.c.site, screens.c.device))]
    for offset in range(0, len(gone), CHUNK):
        chunk = gone[offset:offset + CHUNK]
        for table in LIVE_STATE:
            conn.execute(sa.delete(table).where(sa.tuple_(table.c.site, table.c.device).in_(chunk)))
    if gone:
        conn.execute(sa.insert(screen_transitions), [{"site": s, "device": d, "feature": "availability",
                                                      "value": "retired", "at": now or now_utc()} for s, d in gone])
    return len(gone)


@dataclass
class Reported:
    """What a screen has reported, for the confirmation page."""

    plays: int
    metrics: int
    days: int  # days with plays in the rollups


def reported(conn: sa.Connection, site: str, device: str) -> Reported:
    def count(query) -> int:
        return int(conn.execute(query).scalar() or 0)

    return Reported(
        plays=count(sa.select(sa.func.count()).select_from(plays).where(plays.c.site == site,
                                                                       plays.c.device == device)),
        metrics=count(sa.select(sa.func.count()).select_from(metrics).where(metrics.c.site == site,
                                                                           metrics.c.device == device)),
        days=count(sa.select(sa.func.count(sa.distinct(creative_days.c.day))).where(
            creative_days.c.site == site, creative_days.c.device == device)))


def delete(conn: sa.Connection, site: str, device: str) -> bool:
    """Erase the screen and everything it reported; False if there was no such screen."""
    _subtract_from_site_rollups(conn, site, device)
    for table in LIVE_STATE + REPORTED:
        conn.execute(sa.delete(table).where(table.c.site == site, table.c.device == device))
    return conn.execute(sa.delete(screens).where(screens.c.site == site, screens.c.device == device)).rowcount > 0


def _subtract_from_site_rollups(conn: sa.Connection, site: str, device: str) -> None:
    """The per-site rollups are sums over the site's screens: take this screen's part out,
    and drop the rows nothing else contributed to."""
    d, e = creative_days, creative_day_expressions
    s, se = creative_site_days, creative_site_day_expressions
    values = [c.name for c in d.columns if not c.primary_key]
    rows = conn.execute(sa.select(d.c.day, d.c.creative, *[d.c[v] for v in values])
                        .where(d.c.site == site, d.c.device == device)).mappings().all()
    if rows:
        conn.execute(sa.update(s).where(s.c.site == site, s.c.day == sa.bindparam("b_day"),
                                        s.c.creative == sa.bindparam("b_creative"))
                     .values({v: s.c[v] - sa.bindparam(f"b_{v}") for v in values}),
                     [{f"b_{k}": r[k] for k in ("day", "creative", *values)} for r in rows])
        conn.execute(sa.delete(s).where(s.c.site == site, s.c.plays <= 0))
    mixes = conn.execute(sa.select(e.c.day, e.c.creative, e.c.expression, e.c.seconds)
                         .where(e.c.site == site, e.c.device == device)).mappings().all()
    if mixes:
        conn.execute(sa.update(se).where(se.c.site == site, se.c.day == sa.bindparam("b_day"),
                                         se.c.creative == sa.bindparam("b_creative"),
                                         se.c.expression == sa.bindparam("b_expression"))
                     .values(seconds=se.c.seconds - sa.bindparam("b_seconds")),
                     [{f"b_{k}": r[k] for k in ("day", "creative", "expression", "seconds")} for r in mixes])
        # What float subtraction leaves of a mix nothing else contributed to, or a mix whose day is gone.
        remaining = sa.select(s.c.day).where(s.c.site == site, s.c.day == se.c.day, s.c.creative == se.c.creative)
        conn.execute(sa.delete(se).where(se.c.site == site, sa.or_(se.c.seconds <= 1e-9, ~remaining.exists())))
