"""Proof of play released in aggregate (signage/fleet/proof.py) is read and shown: per
creative in the creatives report (plays and seconds include it), a quiet day's seconds as
"audience (released per day)", and the rows on a screen's page."""

from __future__ import annotations

from datetime import timedelta

from signage.fleet import proof, queries
from signage.fleet.parse import parse
from tests.fleet import factory as f
from tests.fleet.dashboard import logged_in

DAY = f.T0.date()
NOW = f.T0.replace(tzinfo=None) + timedelta(days=1, hours=2)
MIDNIGHT = f.T0.replace(hour=0)


def message(body: dict, kind: str):
    return parse("signage", f.topic(body, kind), f.encode(body), now=NOW)


def scenario() -> list:
    """Counted by hand, on lab/a the day of T0: spring is published one by one 3 times
    (10 s each: 30 s), released for the 10:00 hour (5 plays, 50 s) and for the day (40
    plays, 400 s): 48 plays, 480 s. lab/b has a quiet day: 7200 s under "audience", and
    2 plays of spring (20 s) released for its 09:00 hour; mall/c releases 1 play of autumn."""
    one_by_one = [message(f.play(creative="spring", start=f.T0 + timedelta(minutes=i), looking=2.0), "play")
                  for i in range(3)]
    return one_by_one + [
        message(f.totals(period="hour", start=f.T0 + timedelta(hours=1), spring={"plays": 5, "seconds": 50.0}),
                "totals"),
        message(f.totals(spring={"plays": 40, "seconds": 400.0}), "totals"),
        message(f.totals(device="b", audience={"plays": None, "seconds": 7200.0}), "totals"),
        message(f.totals(device="b", period="hour", start=f.T0, spring={"plays": 2, "seconds": 20.0}), "totals"),
        message(f.totals(site="mall", device="c", autumn={"plays": 1, "seconds": 15.0}), "totals"),
        message(f.status(), "status")]


def test_released_rows_say_period_creative_plays_and_seconds_with_filters(store):
    store.write(scenario(), now=NOW)
    rows = proof.released(store.reader, DAY, DAY)
    assert [(r.site, r.device, r.creative, r.period, r.plays, r.seconds) for r in rows] == [
        ("lab", "a", "spring", "day", 40, 400.0), ("lab", "b", "audience", "day", None, 7200.0),
        ("mall", "c", "autumn", "day", 1, 15.0), ("lab", "b", "spring", "hour", 2, 20.0),
        ("lab", "a", "spring", "hour", 5, 50.0)]
    assert rows[-1].start == (f.T0 + timedelta(hours=1)).replace(tzinfo=None)
    assert rows[-1].end - rows[-1].start == timedelta(hours=1)
    assert [(r.device, r.period) for r in proof.released(store.reader, DAY, DAY, site="lab", creative="spring")] \
        == [("a", "day"), ("b", "hour"), ("a", "hour")]
    assert [r.creative for r in proof.released(store.reader, DAY, DAY, device="b")] == ["audience", "spring"]
    assert proof.released(store.reader, DAY + timedelta(days=1), DAY + timedelta(days=2)) == []
    assert len(proof.released(store.reader, DAY, DAY, limit=2)) == 2
    assert proof.quiet_days(store.reader, DAY, DAY) == proof.QuietDays(1, 7200.0)
    assert proof.quiet_days(store.reader, DAY, DAY, device="a") == proof.QuietDays(0, 0.0)
    assert proof.quiet_days(store.reader, DAY, DAY, site="mall") == proof.QuietDays(0, 0.0)


def test_the_creatives_report_counts_released_plays_and_their_seconds(store):
    store.write(scenario(), now=NOW)
    fleet = {r.creative: r for r in queries.creatives(store.reader, DAY, DAY)}
    assert (fleet["spring"].plays, fleet["spring"].seconds, fleet["spring"].released_plays) == (50, 500.0, 47)
    assert (fleet["autumn"].plays, fleet["autumn"].seconds) == (1, 15.0)
    assert "audience" not in fleet, "a quiet day's plays are unknown: no creative played 0 times"
    screen = {r.creative: r for r in queries.creatives(store.reader, DAY, DAY, device="a")}
    assert (screen["spring"].plays, screen["spring"].seconds, screen["spring"].measured_plays) == (48, 480.0, 3)


def test_the_pages_show_a_quiet_days_seconds_and_the_released_rows(store):
    store.write(scenario(), now=NOW)
    client = logged_in(store)
    page = client.get("/creatives", params={"end": DAY.isoformat(), "span": "day", "site": "lab"}).text
    quiet = page[page.index('id="quiet-days"'):]
    quiet = quiet[:quiet.index("</tr>")]
    assert "audience (released per day)" in quiet and "7200 s" in quiet and ">unknown</span>" in quiet
    spring = page[page.index('data-creative="spring"'):]
    assert '<td class="num plays" data-label="Plays">50</td>' in spring[:spring.index("</tr>")]
    assert 'id="quiet-days"' not in client.get("/creatives", params={"end": DAY.isoformat(), "span": "day",
                                                                       "site": "mall"}).text
    api = client.get("/api/creatives", params={"end": DAY.isoformat(), "span": "day"}).json()
    assert api["audience_released_per_day"] == {"periods": 1, "seconds": 7200.0}
    screen = client.get("/screen/lab/a", params={"day": DAY.isoformat()}).text
    released = screen[screen.index('id="released"'):]
    released = released[:released.index("</section>")]
    assert released.count("<tr><td") == 2 and ">40</td>" in released and ">5</td>" in released


def test_a_quiet_screens_page_shows_its_seconds_as_audience_released_per_day(store):
    store.write(scenario() + [message(f.status(device="b"), "status")], now=NOW)
    screen = logged_in(store).get("/screen/lab/b", params={"day": DAY.isoformat()}).text
    released = screen[screen.index('id="released"'):]
    released = released[:released.index("</section>")]
    assert "audience (released per day)" in released and ">unknown</td>" in released and "7200.0" in released
