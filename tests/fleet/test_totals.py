"""Proof of play released in aggregate (the kiosk's `totals` message): parsed with its
bounds, stored one row per creative, idempotent by message id, purged with the raw rows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from signage.fleet.parse import Invalid, parse
from signage.fleet.tables import play_totals, plays
from tests.fleet import factory as f

NOW = f.T0.replace(tzinfo=None) + timedelta(days=1, hours=2)


def totals(period="day", start=f.T0.replace(hour=0), length=timedelta(days=1), **creatives) -> dict:
    return {"site": "lab", "device": "a", "id": str(uuid.uuid4()), "period": period, "start": f.iso(start),
            "end": f.iso(start + length),
            "creatives": creatives or {"spring": {"plays": 40, "seconds": 400.0}, "look": {"plays": 8, "seconds": 48.0}}}


def incoming(body: dict, kind: str = "totals"):
    return parse("signage", f"signage/{body['site']}/{body['device']}/{kind}", f.encode(body), now=NOW)


def rows(store):
    with store.engine.begin() as conn:
        return sorted(conn.execute(sa.select(play_totals.c.creative, play_totals.c.period, play_totals.c.plays,
                                             play_totals.c.seconds)).all())


def test_a_day_of_held_plays_is_stored_per_creative_once(store):
    day = totals()
    first = store.write([incoming(day)], now=NOW)
    again = store.write([incoming(day)], now=NOW)
    assert (first.stored, again.stored, again.duplicates) == (1, 0, 1)
    assert rows(store) == [("look", "day", 8, 48.0), ("spring", "day", 40, 400.0)]


def test_a_quiet_day_stores_only_its_seconds_under_audience(store):
    store.write([incoming(totals(audience={"plays": None, "seconds": 86400.0}))], now=NOW)
    assert rows(store) == [("audience", "day", None, 86400.0)]


def test_plays_keep_their_distinct_people(store):
    play = f.play() | {"ots": 5, "viewers": 3, "withheld": ["expressions"], "expressions": {"suppressed": True}}
    store.write([parse("signage", f.topic(play, "play"), f.encode(play))], now=NOW)
    with store.engine.begin() as conn:
        assert conn.execute(sa.select(plays.c.ots, plays.c.viewers)).one() == (5, 3)


@pytest.mark.parametrize("body,reason", [
    (totals(spring={"plays": 1, "seconds": 5 * 86400.0}), "bounds"),  # more than two days of plays
    (totals(period="hour", length=timedelta(hours=1), spring={"plays": 10, "seconds": 86400.0 * 1.9}),
     "inconsistent"),  # a day's seconds in an hour
    (totals(period="week"), "fields"),
    (totals(spring={"plays": -1, "seconds": 5.0}), "bounds"),
    (totals() | {"creatives": {}}, "bounds"),
])
def test_totals_out_of_bounds_are_refused(body, reason):
    with pytest.raises(Invalid) as refused:
        incoming(body)
    assert refused.value.reason == reason
