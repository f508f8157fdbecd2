"""Attention per play divides the looking person-seconds by the plays they came from: the
plays that published their looking, whether or not their expression mix was published too.
Hand counts on the creatives page's JSON and in the daily CSV, on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from signage.fleet.parse import parse
from signage.fleet.tables import creative_days, creative_site_days
from tests.fleet import factory as f
from tests.fleet.dashboard import csv_rows, logged_in

NOW = f.T0.replace(tzinfo=None) + timedelta(days=1, hours=2)
DAY = f.T0.date().isoformat()
MIX_WITHHELD = {"expressions": {"suppressed": True}, "withheld": ["expressions"]}


def message(body: dict, kind: str = "play"):
    return parse("signage", f"signage/{body['site']}/{body['device']}/{kind}", f.encode(body), now=NOW)


def play(minute: int, **fields) -> dict:
    return f.play(start=f.T0 + timedelta(minutes=minute), **fields)


def hand(looking: list[float]) -> tuple[float, float, float]:
    """Mean and 95 % CI (normal approximation) of `looking`, worked out from the values."""
    n = len(looking)
    mean = sum(looking) / n
    sd = math.sqrt(sum((x - mean) ** 2 for x in looking) / (n - 1))
    return mean, mean - 1.96 * sd / math.sqrt(n), mean + 1.96 * sd / math.sqrt(n)


@pytest.fixture
def plays(store):
    """On lab/a: a play with everything published (6 s of looking), two whose looking was
    published but whose mix was withheld (3 s, 9 s), one whose audience was withheld and two
    released in aggregate: 6 plays, 5 of them suppressed (no mix), 3 measured. On lab/b, one
    more with its mix withheld (4 s)."""
    bodies = [play(0, looking=6.0), play(1, looking=3.0) | MIX_WITHHELD, play(2, looking=9.0) | MIX_WITHHELD,
              play(3) | {"peak_faces": None, "mean_faces": None, "peak_viewers": None, "looking_seconds": None,
                         "expressions": {"suppressed": True}, "withheld": ["people", "looking", "expressions"]},
              play(4, device="b", looking=4.0) | MIX_WITHHELD]
    totals = {"site": "lab", "device": "a", "id": str(uuid.uuid4()), "period": "hour", "start": f.iso(f.T0),
              "end": f.iso(f.T0 + timedelta(hours=1)), "creatives": {"spring": {"plays": 2, "seconds": 20.0}}}
    result = store.write([message(b) for b in bodies] + [message(totals, "totals")], now=NOW)
    assert result.stored == 6
    return store


def test_the_rollups_count_the_plays_whose_looking_was_published(plays):
    with plays.engine.begin() as conn:
        screen = {r.device: (r.plays, r.suppressed_plays, r.measured_plays) for r in conn.execute(
            sa.select(creative_days))}
        site = conn.execute(sa.select(creative_site_days.c.plays, creative_site_days.c.suppressed_plays,
                                      creative_site_days.c.measured_plays)).one()
    assert screen == {"a": (6, 5, 3), "b": (1, 1, 1)}
    assert tuple(site) == (7, 6, 4)


@pytest.mark.parametrize(("device", "looking"), [("a", [6.0, 3.0, 9.0]), (None, [6.0, 3.0, 9.0, 4.0])])
def test_the_creatives_json_divides_by_the_measured_plays(plays, device, looking):
    """Per screen (lab/a) and fleet-wide (the per-site rollups, lab/a and lab/b summed)."""
    mean, low, high = hand(looking)
    with logged_in(plays) as client:
        chosen = {"device": device} if device else {}
        answer = client.get("/api/creatives", params={"span": "day", "end": DAY} | chosen)
    assert answer.status_code == 200
    [spring] = answer.json()["creatives"]
    assert spring["measured_plays"] == len(looking)
    assert spring["suppressed_plays"] == len(looking) + 2  # the mixes withheld, the audience withheld, the totals
    assert spring["looking_seconds"] == pytest.approx(sum(looking))
    assert spring["attention_mean"] == pytest.approx(mean)
    assert spring["attention_ci"] == pytest.approx([low, high])


def test_the_daily_csv_divides_by_the_measured_plays(plays):
    with logged_in(plays) as client:
        answer = client.get("/export/daily.csv", params={"start": DAY, "end": DAY})
    rows = {r["device"]: r for r in csv_rows(answer.text)}
    mean, low, high = hand([6.0, 3.0, 9.0])
    a = rows["a"]
    assert (a["plays"], a["suppressed_plays"], a["measured_plays"], a["looking_seconds"]) == ("6", "5", "3", "18.0")
    assert (a["attention_per_play"], a["attention_ci_low"], a["attention_ci_high"]) == (
        str(round(mean, 2)), str(round(low, 2)), str(round(high, 2)))
    assert (mean, round(low, 2), round(high, 2)) == (6.0, 2.61, 9.39)
    b = rows["b"]  # one measured play: a mean, no interval
    assert (b["measured_plays"], b["attention_per_play"], b["attention_ci_low"], b["attention_ci_high"]) == (
        "1", "4.0", "", "")
