"""Revision 0013 on a database that already holds day rollups: old rows count as measured
the plays their attention was divided by before (plays - suppressed_plays), so their
attention and its confidence interval stay as they were computed; and it goes down."""

from __future__ import annotations

from datetime import datetime

import pytest
import sqlalchemy as sa

from signage.fleet import queries
from signage.fleet.web import export_rows

DAY = datetime(2026, 11, 2).date()
# 4 plays, 1 suppressed: at 0012 attention was 21 s over 3 plays, CI from n=3, sum 21, squares 150
COUNTED = {"creative": "spring", "plays": 4, "seconds": 40.0, "viewed_plays": 3, "peak_viewers": 7,
           "looking_seconds": 21.0, "looking_squares": 150.0, "suppressed_plays": 1, "expressed_seconds": 21.0}
# every play suppressed (its looking published, its mix withheld): no attention at 0012
UNMEASURED = {"creative": "autumn", "plays": 2, "seconds": 20.0, "viewed_plays": 2, "peak_viewers": 6,
              "looking_seconds": 5.0, "looking_squares": 13.0, "suppressed_plays": 2, "expressed_seconds": 0.0}
HALF = 1.96 * (((150.0 - 3 * 7.0 ** 2) / 2) / 3) ** 0.5  # the 0012 interval's half width, by hand


def _old(conn: sa.Connection, name: str) -> sa.Table:
    """A table as revision 0012 has it (the current metadata names a column it lacks)."""
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def _columns(store, table: str) -> set[str]:
    with store.engine.begin() as conn:
        return {c["name"] for c in sa.inspect(conn).get_columns(table)}


@pytest.fixture
def at_0012(store):
    store.migrate("0012")
    with store.engine.begin() as conn:
        for rollup in (COUNTED, UNMEASURED):
            conn.execute(sa.insert(_old(conn, "creative_days")), [{**rollup, "site": "lab", "device": "a", "day": DAY}])
            conn.execute(sa.insert(_old(conn, "creative_site_days")), [{**rollup, "site": "lab", "day": DAY}])
    return store


def test_rows_stored_before_0013_keep_their_attention(at_0012):
    at_0012.migrate()
    for device in (None, "a"):  # the per-site rollups and the per-screen ones
        report = {r.creative: r for r in queries.creatives(at_0012.reader, DAY, DAY, device=device)}
        spring, autumn = report["spring"], report["autumn"]
        assert (spring.plays, spring.suppressed_plays, spring.measured_plays) == (4, 1, 3)
        assert spring.attention_mean == pytest.approx(7.0)
        assert spring.attention_ci == pytest.approx((7.0 - HALF, 7.0 + HALF))
        assert (autumn.measured_plays, autumn.attention_ci) == (0, None)
    with at_0012.reader.begin() as conn:
        daily = {r["creative"]: dict(zip(export_rows.DAILY_COLUMNS, export_rows.daily(r, {})))
                 for r in conn.execute(queries.daily_select(DAY, DAY)).mappings()}
    assert (daily["spring"]["measured_plays"], daily["spring"]["attention_per_play"]) == (3, 7.0)
    assert (daily["spring"]["attention_ci_low"], daily["spring"]["attention_ci_high"]) == (
        round(7.0 - HALF, 2), round(7.0 + HALF, 2))
    assert daily["autumn"]["attention_per_play"] is None and daily["autumn"]["looking_seconds"] == 5.0


def test_0013_goes_down_and_up(at_0012):
    at_0012.migrate()
    at_0012.migrate("0012")
    assert "measured_plays" not in _columns(at_0012, "creative_days") | _columns(at_0012, "creative_site_days")
    with at_0012.engine.begin() as conn:
        assert conn.execute(sa.select(_old(conn, "creative_site_days").c.plays)
                            .order_by(sa.text("creative"))).scalars().all() == [2, 4]
    at_0012.migrate()
    [spring] = [r for r in queries.creatives(at_0012.reader, DAY, DAY) if r.creative == "spring"]
    assert spring.measured_plays == 3
