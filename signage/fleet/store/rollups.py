"""Hour and day sums of the facts that were new, written in the same transaction as them.

`summed` adds new metrics, plays and totals up by screen-hour and by screen-day-creative (and
their expression mixes); `Rollups.add` writes the sums per screen and per site as upserts that
add (`x = x + excluded.x`), in key order, so concurrent writers on PostgreSQL neither lose
updates nor deadlock. A count the kiosk withheld (fewer than min_group people) is unknown,
not zero: it is counted as withheld and never summed, since a sum over small groups would
re-derive them.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import sqlalchemy as sa

from signage.fleet.database import InsertFor
from signage.fleet.parse import Incoming, metrics_expressions, play_expressions
from signage.fleet.tables import (creative_day_expressions, creative_days, creative_site_day_expressions,
                                  creative_site_days, screen_hour_expressions, screen_hours)

HOUR_SUMS = ["intervals", "withheld_intervals", "viewers_withheld_intervals", "passers", "viewers",
             "viewers_unbroken", "frames", "dropped_frames", "plays", "play_seconds", "looking_seconds"]
HOUR_MAXIMA = ["peak_faces"]
DAY_SUMS = ["plays", "seconds", "viewed_plays", "peak_viewers", "looking_seconds", "looking_squares",
            "suppressed_plays", "measured_plays", "expressed_seconds", "impressions", "ots_plays",
            "viewed_impressions", "viewer_plays", "released_plays"]
INTEGERS = {"intervals", "withheld_intervals", "viewers_withheld_intervals", "passers", "viewers",
            "viewers_unbroken", "peak_faces", "frames", "dropped_frames", "plays", "viewed_plays", "peak_viewers",
            "suppressed_plays", "measured_plays", "impressions", "ots_plays", "viewed_impressions", "viewer_plays",
            "released_plays"}


def _groups() -> defaultdict:
    return defaultdict(lambda: defaultdict(float))


@dataclass
class Sums:
    """Sums keyed like the rollup tables' primary keys."""

    hours: dict[tuple, dict[str, float]] = field(default_factory=_groups)  # (site, device, hour)
    hour_expressions: dict[tuple, float] = field(default_factory=lambda: defaultdict(float))  # … expression
    days: dict[tuple, dict[str, float]] = field(default_factory=_groups)  # (site, device, day, creative)
    day_expressions: dict[tuple, float] = field(default_factory=lambda: defaultdict(float))  # … expression


def summed(new_metrics: list[Incoming], new_plays: list[Incoming], new_totals: Sequence[Incoming] = ()) -> Sums:
    sums = Sums()
    for item in new_metrics:
        _add_metrics(sums, item)
    for item in new_plays:
        _add_play(sums, item)
    for item in new_totals:
        _add_totals(sums, item)
    return sums


def _hour(item: Incoming) -> tuple:
    return (item.site, item.device, item.interval()[0].replace(minute=0, second=0, microsecond=0))


def _add_metrics(sums: Sums, item: Incoming) -> None:
    m, key = item.data, _hour(item)
    row = sums.hours[key]
    row["intervals"] += 1
    if m.frames is not None and m.dropped_frames is not None:  # withheld with the passers: unknown, not 0
        row["frames"] += m.frames
        row["dropped_frames"] += m.dropped_frames
    if m.passers is None:
        row["withheld_intervals"] += 1
    else:
        row["passers"] += m.passers
    if m.viewers is None:
        row["viewers_withheld_intervals"] += 1
    else:
        row["viewers"] += m.viewers
    if m.peak_faces is not None:
        row["peak_faces"] = max(row["peak_faces"], m.peak_faces)
    breakdown = metrics_expressions(m)
    if breakdown is None:
        row["viewers_unbroken"] += m.viewers or 0  # the mix stays unknown; never derived
    else:
        for expression, n in breakdown.items():
            sums.hour_expressions[key + (expression[:32],)] += n


def _add_play(sums: Sums, item: Incoming) -> None:
    p = item.data
    row = sums.hours[_hour(item)]
    row["plays"] += 1
    row["play_seconds"] += p.seconds
    key = (item.site, item.device, item.interval()[0].date(), p.creative)
    day = sums.days[key]
    day["plays"] += 1
    day["seconds"] += p.seconds
    if p.ots is not None:  # distinct people: published only for min_group of them, none dominant
        day["impressions"] += p.ots
        day["ots_plays"] += 1
    if p.viewers is not None:
        day["viewed_impressions"] += p.viewers
        day["viewer_plays"] += 1
    if p.peak_viewers is None or p.looking_seconds is None:  # withheld by the kiosk: a play, no audience
        day["suppressed_plays"] += 1
        return
    row["looking_seconds"] += p.looking_seconds
    day["measured_plays"] += 1  # what looking_seconds is summed over, whether or not its mix follows
    day["viewed_plays"] += 1 if p.peak_viewers >= 1 else 0
    day["peak_viewers"] += p.peak_viewers
    day["looking_seconds"] += p.looking_seconds
    day["looking_squares"] += p.looking_seconds ** 2
    breakdown = play_expressions(p)
    if breakdown is None:
        day["suppressed_plays"] += 1
    else:
        day["expressed_seconds"] += p.looking_seconds
        for expression, seconds in breakdown.items():
            sums.day_expressions[key + (expression[:32],)] += seconds


def _add_totals(sums: Sums, item: Incoming) -> None:
    """Plays the kiosk released in aggregate (an hour or a day of them): proof of play per
    creative and day, with no audience figure (each is counted as suppressed). The seconds
    of a quiet day (under "audience", their plays withheld) stay in play_totals: a creative
    of unknown plays would read as one played 0 times. An hour's totals also go into that
    hour of the screen (plays and seconds on screen only); a day's belong to no hour of it."""
    assert item.start is not None  # a totals message is an interval: parse gives it its start
    in_hour = item.data.period == "hour"
    for creative, total in item.data.creatives.items():
        if total.plays is None:
            continue
        day = sums.days[(item.site, item.device, item.start.date(), creative)]
        day["seconds"] += total.seconds
        day["plays"] += total.plays
        day["released_plays"] += total.plays
        day["suppressed_plays"] += total.plays
        if in_hour:
            hour = sums.hours[_hour(item)]
            hour["plays"] += total.plays
            hour["play_seconds"] += total.seconds


def per_site(sums: Sums) -> tuple[dict[tuple, dict[str, float]], dict[tuple, float]]:
    """The day sums without the device: (site, day, creative[, expression])."""
    days: dict[tuple, dict[str, float]] = _groups()
    for (site, _, day, creative), values in sums.days.items():
        for name, value in values.items():
            days[(site, day, creative)][name] += value
    expressions: dict[tuple, float] = defaultdict(float)
    for (site, _, day, creative, expression), seconds in sums.day_expressions.items():
        expressions[(site, day, creative, expression)] += seconds
    return days, expressions


class Rollups:
    def __init__(self, insert: InsertFor):
        self._insert = insert  # the dialect's INSERT, which has ON CONFLICT (database.insert_for)

    def add(self, conn: sa.Connection, sums: Sums) -> None:
        """Add the sums to the per-screen and the per-site rollups."""
        self._upsert(conn, screen_hours, _rows(screen_hours, sums.hours, HOUR_SUMS + HOUR_MAXIMA), HOUR_SUMS,
                     maximum=HOUR_MAXIMA)
        self._upsert(conn, screen_hour_expressions, _rows(screen_hour_expressions, sums.hour_expressions),
                     ["viewers"])
        self._upsert(conn, creative_days, _rows(creative_days, sums.days, DAY_SUMS), DAY_SUMS)
        self._upsert(conn, creative_day_expressions, _rows(creative_day_expressions, sums.day_expressions),
                     ["seconds"])
        site_days, site_expressions = per_site(sums)
        self._upsert(conn, creative_site_days, _rows(creative_site_days, site_days, DAY_SUMS), DAY_SUMS)
        self._upsert(conn, creative_site_day_expressions, _rows(creative_site_day_expressions, site_expressions),
                     ["seconds"])

    def _upsert(self, conn: sa.Connection, table: sa.Table, rows: list[dict], add: list[str],
                maximum: Sequence[str] = ()) -> None:
        if not rows:
            return
        stmt = self._insert(table)
        update = {c: table.c[c] + stmt.excluded[c] for c in add}
        update |= {c: sa.case((stmt.excluded[c] > table.c[c], stmt.excluded[c]), else_=table.c[c]) for c in maximum}
        keys = [c.name for c in table.primary_key.columns]
        conn.execute(stmt.on_conflict_do_update(index_elements=keys, set_=update), rows)


def _rows(table: sa.Table, groups: dict, columns: list[str] | None = None) -> list[dict]:
    """Rows in key order: the key's columns, then each of `columns` (0 where nothing was
    added), or, for a table of one value, that value."""
    keys = [c.name for c in table.primary_key.columns]
    if columns is None:  # a table of one value
        only = next(c.name for c in table.columns if not c.primary_key)
        each = [{only: groups[key]} for key in sorted(groups)]
    else:
        each = [{c: groups[key].get(c, 0) for c in columns} for key in sorted(groups)]
    return [dict(zip(keys, key)) | {k: int(v) if k in INTEGERS else v for k, v in values.items()}
            for key, values in zip(sorted(groups), each)]
