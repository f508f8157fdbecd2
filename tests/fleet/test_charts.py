"""Server-side SVG charts: escaped, bounded in size, honest about missing breakdowns."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime, timedelta

from signage.fleet import charts

SVG = "{http://www.w3.org/2000/svg}"


def parse(markup) -> ET.Element:
    return ET.fromstring(str(markup).replace("<svg ", '<svg xmlns="http://www.w3.org/2000/svg" ', 1))


def test_bars_scale_to_the_peak_and_escape_labels():
    svg = parse(charts.bars([0, 5, 10], ["<a>", "b", "c"], "Passers & co"))
    heights = [float(r.get("height")) for r in svg.iter(f"{SVG}rect")]
    assert heights[0] == 0 and heights[2] == 2 * heights[1] > 0
    assert "Passers & co" in svg.find(f"{SVG}title").text


def test_a_busy_day_timeline_stays_small_and_covers_the_whole_day():
    start = datetime(2026, 1, 1)
    plays = [{"creative": f"c{i % 3}", "start": start + timedelta(seconds=10 * i),
              "end": start + timedelta(seconds=10 * i + 10), "looking_seconds": 1.0} for i in range(8640)]
    svg = parse(charts.timeline(plays, start, start + timedelta(days=1), "Plays"))
    rects = list(svg.iter(f"{SVG}rect"))
    assert 3 <= len(rects) <= 3 * 720
    assert max(float(r.get("x")) + float(r.get("width")) for r in rects) > 700  # reaches the evening
    assert sum(int(r.find(f"{SVG}title").text.split(": ")[1].split()[0]) for r in rects) == 8640


def test_mix_without_a_breakdown_says_so():
    assert "no breakdown" in str(charts.mix({}, "mix"))
    svg = parse(charts.mix({"happy": 3.0, "neutral": 1.0}, "mix"))
    assert "happy 75%" in "".join(t.text or "" for t in svg.iter(f"{SVG}text"))


def test_an_unknown_bar_is_a_stub_titled_so_never_a_zero_and_never_the_scale():
    svg = parse(charts.bars([None, 5, 0], ["09", "10", "11"], "Passers", unknown="withheld"))
    rects = list(svg.iter(f"{SVG}rect"))
    assert [r.find(f"{SVG}title").text for r in rects] == ["09: withheld", "10: 5", "11: 0"]
    assert rects[0].get("class") == "unknown" and float(rects[0].get("height")) > 0
    assert float(rects[2].get("height")) == 0  # a measured 0 stays 0
    only_unknown = parse(charts.bars([None, None], ["a", "b"], "Passers"))
    assert all(r.get("class") == "unknown" for r in only_unknown.iter(f"{SVG}rect"))
