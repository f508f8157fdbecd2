"""The simulated fleet (fleet/demo.py) that `signage fleet demo` stores and `signage bench
fleet` measures: every message is one the ingest accepts and a kiosk could send, with
nothing published about fewer than the privacy minimum, and its screens land on the
fleet page with the troubles the demo gives them."""

from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta

from signage.fleet import queries
from signage.fleet.demo import MIN_GROUP, SimulatedFleet, encode
from signage.fleet.parse import parse
from signage.fleet.times import now_utc
from signage.wire.messages import Histogram, Suppressed

# A fixed late morning, so what the crowd (demo.traffic) brings does not hang on the hour the
# suite runs: at night no play has a group large enough to report.
MORNING = datetime(2026, 6, 3, 10, 0)


def parsed(fleet: SimulatedFleet, hours: float, start: datetime = MORNING):
    """Its messages from `start`, parsed with the fleet's clock at their end."""
    until = start + timedelta(hours=hours)
    return [parse(fleet.root, topic, encode(body), now=until)
            for topic, body in fleet.messages(start, until)]


def at_least_the_minimum(value) -> bool:
    return value is None or value >= MIN_GROUP


def test_its_messages_are_valid_in_time_order_and_withhold_small_groups():
    items = parsed(SimulatedFleet.numbered(20, seed=3), hours=2)  # any parse error fails here
    kinds = Counter(item.kind for item in items)
    assert kinds["metrics"] == 20 * 120 and kinds["play"] > 4 * kinds["metrics"]
    starts = [item.start for item in items if item.kind == "metrics"]
    assert starts == sorted(starts), "minute by minute across the screens"
    for item in items:
        data = item.data
        if item.kind == "metrics":
            assert at_least_the_minimum(data.passers) and at_least_the_minimum(data.viewers)
            assert (data.viewers is None) == (data.conversion is None)
            assert data.passers is not None or data.viewers is None
            for key in ("distance", "dwell", "attention", "expressions"):  # a cell of one is that person's
                breakdown = getattr(data, key)
                if isinstance(breakdown, Suppressed):
                    continue
                cells = breakdown.counts if isinstance(breakdown, Histogram) else list(breakdown.values())
                assert all(n == 0 or n >= MIN_GROUP for n in cells), (key, breakdown)
        else:
            assert at_least_the_minimum(data.peak_viewers) and at_least_the_minimum(data.peak_faces)
            assert (data.peak_viewers is None) == (data.looking_seconds is None)
            assert isinstance(data.expressions, dict) == (data.peak_viewers is not None)
    plays = [item for item in items if item.kind == "play"]
    assert any(p.data.peak_viewers is None for p in plays) and any(p.data.peak_viewers for p in plays)


def test_plays_run_back_to_back_on_each_screen():
    items = [item for item in parsed(SimulatedFleet.numbered(3, seed=4), hours=1) if item.kind == "play"]
    for device in ("screen000", "screen001", "screen002"):
        mine = [item for item in items if item.device == device]
        assert all(a.end == b.start for a, b in zip(mine, mine[1:])), device


def test_the_demo_fleet_lands_on_the_fleet_page_with_its_troubles(store):
    fleet = SimulatedFleet.demo()
    recent = now_utc().replace(minute=0, second=0, microsecond=0) - timedelta(hours=3)  # the page's clock is now
    items = parsed(fleet, hours=0.5, start=recent) + [parse(fleet.root, t, encode(b)) for t, b in fleet.states()]
    written = store.write(items)
    assert written.stored == sum(1 for item in items if item.kind in ("metrics", "play"))
    page = queries.fleet(store.reader)
    assert page.total == 12
    assert page.summary == {"offline": 1, "problem": 1, "stopped": 1, "unknown": 0, "ok": 9}
    problems = {(r.site, r.device): r.problems for r in page.rows if r.health == "problem"}
    assert "camera gone" in problems[("station", "gate-b")]
