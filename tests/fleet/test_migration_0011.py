"""Revision 0011 on a database that already holds plays and rollups: the old rows keep
their meaning. Their kiosks counted no distinct people, so impressions and viewers are
withheld (None on the pages), never 0; their plays, seconds and peaks are unchanged."""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa

from signage.fleet import queries

DAY = datetime(2026, 11, 2).date()


def _old(conn: sa.Connection, name: str) -> sa.Table:
    """A table as revision 0010 has it (the current metadata names columns it lacks)."""
    return sa.Table(name, sa.MetaData(), autoload_with=conn)


def test_rows_stored_before_0011_keep_their_meaning(store):
    store.migrate("0010")
    with store.engine.begin() as conn:
        rollup = {"site": "lab", "day": DAY, "creative": "spring", "plays": 4, "seconds": 40.0, "viewed_plays": 3,
                  "peak_viewers": 7, "looking_seconds": 21.0, "looking_squares": 150.0, "suppressed_plays": 1,
                  "expressed_seconds": 21.0}
        conn.execute(sa.insert(_old(conn, "creative_days")), [{**rollup, "device": "a"}])
        conn.execute(sa.insert(_old(conn, "creative_site_days")), [rollup])
        conn.execute(sa.insert(_old(conn, "plays")), [{
            "id": "p1", "site": "lab", "device": "a", "creative": "spring", "rule": "default",
            "start": datetime(2026, 11, 2, 10), "end": datetime(2026, 11, 2, 10, 0, 10), "seconds": 10.0,
            "ended": "duration", "peak_viewers": 3, "looking_seconds": 6.0,
            "received_at": datetime(2026, 11, 2, 10, 1)}])
    store.migrate()
    with store.engine.begin() as conn:
        play = conn.execute(sa.text("SELECT ots, viewers, peak_viewers FROM plays WHERE id = 'p1'")).one()
    assert tuple(play) == (None, None, 3)  # not counted then: withheld, not zero people
    for device in (None, "a"):  # the per-site rollups and the per-screen ones
        [report] = queries.creatives(store.reader, DAY, DAY, device=device)
        assert (report.plays, report.seconds, report.viewed_plays, report.viewers) == (4, 40.0, 3, 7)
        assert report.impressions is None and report.viewed_impressions is None, report
        assert report.ots_plays == 0 and report.viewer_plays == 0
