"""An interval's breakdowns of people (dwell, attention, distance, expressions) as a
property over generated audiences: none published has a non-empty cell of fewer than
min_group people, and each is published whole whenever every cell it has passes
(docs/privacy.md). Passers go through the real aggregator, a snapshot at a time."""

from __future__ import annotations

import datetime as dt

from hypothesis import given, settings
from hypothesis import strategies as st

from signage.audience import EXPRESSIONS, ZONES, AudienceSnapshot, TrackSummary
from signage.telemetry.metrics import Aggregator
from signage.wire.messages import Metrics

T0 = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
SUPPRESSED = {"suppressed": True}
# Dwell and looking seconds drawn near the bucket edges as well as between them.
SECONDS = st.sampled_from([0.0, 0.4, 0.99, 1.0, 2.0, 2.99, 3.0, 9.5, 10.0, 29.0, 30.0, 59.9, 60.0, 200.0])


@st.composite
def passer(draw) -> TrackSummary:
    dwell = draw(SECONDS)
    looking = min(dwell, draw(SECONDS))
    expression = draw(st.sampled_from(EXPRESSIONS)) if looking >= 1.0 else None
    return TrackSummary(dwell_s=dwell, looking_s=looking, expression=expression, zone=draw(st.sampled_from(ZONES)))


def cells(breakdown: dict) -> list[int]:
    return breakdown["counts"] if "counts" in breakdown else list(breakdown.values())


@settings(max_examples=300, derandomize=True, deadline=None)
@given(min_group=st.integers(1, 5), snapshots=st.lists(st.lists(passer(), max_size=8), min_size=1, max_size=4))
def test_no_published_breakdown_has_a_cell_below_min_group(min_group, snapshots):
    aggregator = Aggregator("lab", "kiosk-1", min_group=min_group, now=T0, t=0.0)
    for t, ended in enumerate(snapshots, start=1):
        aggregator.add_snapshot(AudienceSnapshot(t=float(t), ended=tuple(ended)))
    message = aggregator.flush(T0 + dt.timedelta(seconds=60), 60.0).payload()
    Metrics.model_validate(message)
    passers = [p for ended in snapshots for p in ended]
    viewers = [p for p in passers if p.viewer]
    for key, people in (("dwell", passers), ("distance", passers), ("attention", viewers), ("expressions", viewers)):
        breakdown = message[key]
        if breakdown == SUPPRESSED:
            # withheld only when fewer than min_group people are in it, or a cell of it is below
            expected = _cells(key, people)
            assert len(people) < min_group or any(0 < n < min_group for n in expected), (key, expected)
            continue
        assert all(n == 0 or n >= min_group for n in cells(breakdown)), (key, breakdown)
        assert sum(cells(breakdown)) == len(people), f"{key} counts each of its people once"


def _cells(key: str, people: list[TrackSummary]) -> list[int]:
    """What the breakdown would hold, counted here independently of the aggregator."""
    if key == "distance":
        return [sum(1 for p in people if p.zone == zone) for zone in ZONES]
    if key == "expressions":
        return [sum(1 for p in people if p.expression == name) for name in EXPRESSIONS]
    edges = (0, 1, 3, 10, 30, 60) if key == "dwell" else (1, 3, 10, 30, 60)
    values = [p.dwell_s if key == "dwell" else p.looking_s for p in people]
    bounds = list(zip(edges, [*edges[1:], float("inf")]))
    return [sum(1 for v in values if low <= v < high) for low, high in bounds]
