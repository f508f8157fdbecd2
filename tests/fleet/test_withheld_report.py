"""The creatives report never shows a withheld audience as 0: when no play of a creative
was measured (its audience withheld by the kiosk, or its plays released in aggregate),
viewed plays, looking person-seconds and attention are unknown (None, "withheld" on the
page, with why), and the attention order ranks such a creative last, marked withheld."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
import sqlalchemy as sa

from signage.fleet import queries
from signage.fleet.parse import parse
from signage.fleet.tables import creative_days, creative_site_days, play_totals
from tests.fleet import factory as f
from tests.fleet.dashboard import logged_in

DAY = f.T0.date()
NOW = f.T0.replace(tzinfo=None) + timedelta(days=1, hours=2)


def released(**creatives):
    """A day's `totals` message, parsed: plays released in aggregate."""
    body = f.totals(**creatives)
    return parse("signage", f.topic(body, "totals"), f.encode(body), now=NOW)


def play(creative, minute, looking=None, expressions=None, withheld=False, ots=None):
    """A play message; `withheld`: the kiosk withheld its audience (fewer than min_group)."""
    body = f.play(creative=creative, start=f.T0 + timedelta(minutes=minute), looking=looking or 0.0,
                  expressions=expressions) | ({"ots": ots} if ots is not None else {})
    if withheld:
        body |= {"peak_faces": None, "mean_faces": None, "peak_viewers": None, "looking_seconds": None,
                 "expressions": {"suppressed": True}, "withheld": ["people", "looking", "expressions"]}
    return parse("signage", f.topic(body, "play"), f.encode(body), now=NOW)


def report(store, order="attention"):
    return {r.creative: r for r in queries.creatives(store.reader, DAY, DAY, order=order)}


def row(page: str, creative: str) -> str:
    found = page[page.index(f'data-creative="{creative}"'):]
    return found[:found.index("</tr>")]


def cell(html: str, label: str) -> str:
    found = html[html.index(f'data-label="{label}"'):]
    return re.sub(r"<svg.*?</svg>", "", found[:found.index("</td>")], flags=re.S)


def test_plays_released_in_aggregate_have_no_audience_not_a_zero_one(store):
    """The reviewer's case: 40 plays of spring released in aggregate, none published one by one."""
    store.write([released(spring={"plays": 40, "seconds": 400.0})], now=NOW)
    spring = report(store)["spring"]
    assert (spring.plays, spring.seconds, spring.released_plays, spring.measured_plays) == (40, 400.0, 40, 0)
    assert (spring.viewed_plays, spring.looking_seconds, spring.attention_mean, spring.attention_ci,
            spring.viewers) == (None, None, None, None, None)
    assert spring.withheld == "40 plays " + queries.RELEASED  # and nothing about people looking
    assert spring.mix_withheld == spring.withheld  # not "fewer people looking than the privacy minimum"


def test_attention_is_a_mean_over_the_plays_whose_audience_was_published(store):
    """Counted by hand: summer has 2 plays measured (4 s and 6 s looking: mean 5.0), one
    whose audience was withheld and 3 released in aggregate: 6 plays, 5.0 s per play
    measured. A play whose audience was published but whose expression mix was withheld
    counts in the mean (it was left out before: 10 s over 1 play read 10.0 s)."""
    store.write([play("summer", 0, looking=4.0), play("summer", 1, looking=6.0, expressions={"suppressed": True}),
                 play("summer", 2, withheld=True), released(summer={"plays": 3, "seconds": 30.0})], now=NOW)
    summer = report(store)["summer"]
    assert (summer.plays, summer.measured_plays, summer.withheld_plays, summer.released_plays) == (6, 2, 1, 3)
    assert (summer.looking_seconds, summer.attention_mean, summer.viewed_plays) == (10.0, 5.0, 2)
    assert summer.attention_ci is not None and summer.attention_ci[0] < 5.0 < summer.attention_ci[1]
    assert summer.withheld == ("1 plays with fewer than min_group people, or one above half; "
                               "3 plays " + queries.RELEASED)
    assert summer.mix_withheld.startswith("2 plays with fewer than min_group")  # the withheld one and the mix


def test_the_attention_order_puts_unknown_last_and_a_measured_zero_before_it(store):
    """A creative nobody looked at (measured: 0.0 s) is known and ranks before one whose
    audience is unknown, whatever their names; so does every other order's unknown."""
    store.write([play("autumn", 0, looking=3.0, ots=3), play("zzz-nobody", 1, looking=0.0, ots=4),
                 play("aaa-withheld", 2, withheld=True), released(abc={"plays": 5, "seconds": 50.0})],
                now=NOW)
    order = [r.creative for r in queries.creatives(store.reader, DAY, DAY, order="attention")]
    assert order == ["autumn", "zzz-nobody", "aaa-withheld", "abc"]
    assert [queries.ranked(r, "attention") for r in queries.creatives(store.reader, DAY, DAY)] == \
        [True, True, False, False]
    assert [r.creative for r in queries.creatives(store.reader, DAY, DAY, order="impressions")][-2:] == \
        ["aaa-withheld", "abc"]


def test_the_page_and_the_api_say_withheld_and_why(store):
    store.write([released(spring={"plays": 40, "seconds": 400.0}), play("autumn", 0, looking=3.0),
                 play("winter", 1, withheld=True)], now=NOW)
    client = logged_in(store)
    page = client.get(f"/creatives?end={DAY.isoformat()}&span=day").text
    spring, winter, autumn = row(page, "spring"), row(page, "winter"), row(page, "autumn")
    assert cell(spring, "Plays").endswith(">40") and "400 s" in cell(spring, "On screen")
    for label in ("Viewed plays", "Looking person-s", "Attention per play (95 % CI)"):
        for shown in (spring, winter):
            assert ">withheld</span>" in cell(shown, label) and " 0" not in cell(shown, label), (label, shown)
    assert "40 plays released in aggregate" in cell(spring, "Attention per play (95 % CI)")
    assert "fewer than min_group people" in cell(winter, "Attention per play (95 % CI)")
    for label in ("Impressions", "Viewed impressions"):  # no OTS was counted for them: nothing about few
        assert 'title="40 plays released in aggregate">withheld' in cell(spring, label)
        assert 'title="fewer than the privacy minimum' in cell(winter, label)
    mix = cell(spring, "Expression mix")
    assert "released in aggregate" in mix and "fewer" not in mix.split("released")[0]
    assert ">withheld</span>" in cell(spring, "#") and cell(autumn, "#").endswith(">1")
    assert page.index('data-creative="autumn"') < page.index('data-creative="spring"')
    assert "3.0 s" in cell(autumn, "Attention per play (95 % CI)")
    api = {r["creative"]: r for r in client.get("/api/creatives", params={"end": DAY.isoformat(),
                                                                          "span": "day"}).json()["creatives"]}
    assert (api["spring"]["viewed_plays"], api["spring"]["looking_seconds"], api["spring"]["attention_mean"]) == \
        (None, None, None)
    assert api["spring"]["released_plays"] == 40 and "released in aggregate" in api["spring"]["withheld"]
    assert (api["autumn"]["attention_mean"], api["autumn"]["withheld"]) == (3.0, "")


def test_migrations_0013_and_0014_count_measured_and_released_plays_of_old_rows(store):
    """Old rows keep the meaning the report gave them: measured = plays - suppressed (0013);
    the released plays come from the totals still stored (0014)."""
    store.migrate("0011")
    day = {"site": "lab", "day": DAY, "creative": "spring", "plays": 10, "seconds": 100.0, "viewed_plays": 4,
           "peak_viewers": 4, "looking_seconds": 8.0, "looking_squares": 16.0, "suppressed_plays": 7,
           "expressed_seconds": 0.0, "impressions": 0, "ots_plays": 0, "viewed_impressions": 0, "viewer_plays": 0}
    with store.engine.begin() as conn:
        conn.execute(sa.insert(creative_days).values(device="a", **day))
        conn.execute(sa.insert(creative_site_days).values(**day))
        conn.execute(sa.insert(play_totals), [
            {"id": f"t{i}", "creative": "spring", "site": "lab", "device": "a", "period": "hour",
             "start": f.T0.replace(tzinfo=None) + timedelta(hours=i), "end": f.T0.replace(tzinfo=None)
             + timedelta(hours=i + 1), "plays": 2, "seconds": 20.0, "received_at": NOW} for i in range(2)])
    store.migrate()
    with store.engine.begin() as conn:
        for table in (creative_days, creative_site_days):
            assert conn.execute(sa.select(table.c.measured_plays, table.c.released_plays)).one() == (3, 4)
    spring = report(store)["spring"]
    assert (spring.attention_mean, spring.withheld_plays) == (pytest.approx(8.0 / 3), 3)
