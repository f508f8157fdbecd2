"""The export round of `signage bench fleet`: its bulk plays and its report, small."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from signage.cli.bench_export import export_round
from signage.fleet import bulk_plays
from signage.fleet.tables import plays


def test_bulk_plays_fill_each_day_alike_and_withhold_some(store):
    first = datetime(2026, 3, 1)
    bulk_plays.fill(store.engine, 2000, 10, 10, first)
    day = sa.func.count().label("n")
    with store.engine.begin() as conn:
        days = [conn.execute(sa.select(day).where(plays.c.start >= first + timedelta(days=d),
                                                  plays.c.start < first + timedelta(days=d + 1))).scalar()
                for d in range(11)]
        withheld = conn.execute(sa.select(sa.func.count()).where(plays.c.ots.is_(None))).scalar()
        screens = conn.execute(sa.select(sa.func.count(sa.distinct(plays.c.device)))).scalar()
    assert days == [200] * 10 + [0] and withheld == 400 and screens == 10


def test_the_export_round_counts_every_row_and_says_whether_memory_stayed_bounded(store):
    lines, bounded = export_round(store, plays=2000, repeats=3)
    assert bounded and lines[-1].endswith("bounded met")
    assert lines[1].split()[:2] == ["200", "plays"] and lines[2].split()[:2] == ["2,000", "plays"]
    assert "rows/s" in lines[1] and "MiB" in lines[2]
