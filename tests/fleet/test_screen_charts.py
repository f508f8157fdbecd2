"""A screen's day page never draws a withheld hour as 0 people: an hour whose every
interval withheld its count, or that reported none, is a grey stub titled so; an hour
with a published count is a bar of that count."""

from __future__ import annotations

import re
from datetime import timedelta

from signage.fleet.parse import parse
from tests.fleet import factory as f
from tests.fleet.dashboard import logged_in

WITHHELD = {"passers": None, "viewers": None, "peak_faces": None, "conversion": None, "attraction": None,
            "distance": {"suppressed": True}, "dwell": {"suppressed": True}, "attention": {"suppressed": True},
            "expressions": {"suppressed": True}}


def titles(page: str, chart: str) -> list[str]:
    svg = page[page.index(f'aria-label="{chart}"'):]
    svg = svg[:svg.index("</svg>")]
    return re.findall(r"<title>(\d\d: [^<]*)</title>", svg)


def test_withheld_and_silent_hours_are_unknown_stubs_not_zeros(store):
    day = f.T0.replace(hour=0, minute=0, second=0, microsecond=0, tzinfo=None)
    nine, ten = day + timedelta(hours=9), day + timedelta(hours=10)
    items = [f.metrics(start=nine, passers=4, viewers=3),  # 09: published
             f.metrics(start=ten) | WITHHELD, f.metrics(start=ten + timedelta(minutes=1)) | WITHHELD]  # 10: withheld
    store.write([parse("signage", f.topic(body, "metrics"), f.encode(body)) for body in items])
    page = logged_in(store).get(f"/screen/lab/a?day={day.date().isoformat()}").text
    passers = titles(page, "Passers per hour")
    assert passers[9] == "09: 4" and passers[10] == "10: withheld or not reported", passers
    assert passers[11] == "11: withheld or not reported"  # nothing reported: unknown too
    assert "10: 0" not in passers and titles(page, "Viewers per hour")[10] == "10: withheld or not reported"
