"""Proof of play released in aggregate (the kiosk's `totals` message): parsed with its
bounds, stored one row per creative, idempotent by message id, purged with the raw rows."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
import sqlalchemy as sa

from signage.fleet.parse import Invalid, parse
from signage.fleet.tables import creative_days, creative_site_days, play_totals, plays, screen_hours
from tests.fleet import factory as f

NOW = f.T0.replace(tzinfo=None) + timedelta(days=1, hours=2)


DAY_START = f.T0.replace(hour=0)


def totals(period="day", start=DAY_START, length=timedelta(days=1), **creatives) -> dict:
    made = creatives or {"spring": {"plays": 40, "seconds": 400.0}, "look": {"plays": 8, "seconds": 48.0}}
    return {"site": "lab", "device": "a", "id": str(uuid.uuid4()), "period": period, "start": f.iso(start),
            "end": f.iso(start + length), "creatives": made}


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


def test_per_creative_proof_of_play_adds_the_totals_to_the_day_never_as_an_audience(store):
    """The day's rollup per creative: the plays published one by one and those released
    in aggregate, so proof of play is complete per creative at day level; the totals'
    plays carry no audience figure (counted as suppressed, never summed)."""
    one = f.play(creative="spring", start=f.T0, seconds=10.0) | {"ots": 4, "viewers": 3}
    store.write([parse("signage", f.topic(one, "play"), f.encode(one)), incoming(totals())], now=NOW)
    with store.engine.begin() as conn:
        day = {row.creative: row for row in conn.execute(sa.select(creative_days))}
        site = {row.creative: row.plays for row in conn.execute(sa.select(creative_site_days))}
    assert (day["spring"].plays, day["spring"].seconds, day["spring"].suppressed_plays) == (41, 410.0, 40)
    assert (day["look"].plays, day["look"].seconds, day["look"].looking_seconds) == (8, 48.0, 0.0)
    assert site == {"spring": 41, "look": 8}


def test_a_quiet_day_stores_only_its_seconds_under_audience(store):
    store.write([incoming(totals(audience={"plays": None, "seconds": 86400.0}))], now=NOW)
    assert rows(store) == [("audience", "day", None, 86400.0)]
    assert count_days(store) == 0, "not a creative played 0 times: its plays are unknown"


def hour_rows(store) -> list[tuple]:
    with store.engine.begin() as conn:
        h = screen_hours.c
        return [tuple(r) for r in conn.execute(
            sa.select(h.hour, h.plays, h.play_seconds, h.looking_seconds, h.intervals, h.passers)
            .order_by(h.hour))]


def test_an_hours_totals_count_in_that_hour_of_the_screen_and_a_days_in_none(store):
    """By hand: 09:00 has one play published alone (10 s) and an hour's totals (5 + 2 plays,
    50 + 12 s); 10:00 has only an hour's totals (3 plays, 30 s) that began late (the kiosk
    started then); the day's totals (40 + 8 plays) belong to no hour. Totals carry no
    audience: the hours' looking seconds are the one play's. Sent twice, stored once."""
    nine, ten = f.T0.replace(tzinfo=None), f.T0.replace(tzinfo=None) + timedelta(hours=1)
    one = f.play(creative="spring", start=f.T0, seconds=10.0, looking=6.0)
    batch = [parse("signage", f.topic(one, "play"), f.encode(one)),
             incoming(totals("hour", f.T0, timedelta(hours=1), spring={"plays": 5, "seconds": 50.0},
                             look={"plays": 2, "seconds": 12.0})),
             incoming(totals("hour", f.T0 + timedelta(minutes=70), timedelta(minutes=50),
                             spring={"plays": 3, "seconds": 30.0})),
             incoming(totals())]
    first = store.write(batch, now=NOW)
    again = store.write(batch, now=NOW)
    assert (first.stored, again.stored, again.duplicates) == (4, 0, 4)
    assert hour_rows(store) == [(nine, 8, 72.0, 6.0, 0, 0), (ten, 3, 30.0, 0.0, 0, 0)]
    with store.engine.begin() as conn:
        day = {r.creative: (r.plays, r.seconds) for r in conn.execute(sa.select(creative_days))}
    assert day == {"spring": (1 + 5 + 3 + 40, 10.0 + 50.0 + 30.0 + 400.0), "look": (2 + 8, 12.0 + 48.0)}


def test_an_hour_with_only_a_quiet_creative_adds_no_hour(store):
    """Totals whose plays are all unknown add nothing to the hours, not a row of zeros."""
    store.write([incoming(totals("hour", f.T0, timedelta(hours=1), audience={"plays": None, "seconds": 60.0}))],
                now=NOW)
    assert hour_rows(store) == []


def test_the_fleet_page_counts_todays_plays_released_for_an_hour(web):
    """lab/a published 3 plays one by one this hour; the hour's totals add 4 more."""
    from signage.fleet.times import now_utc
    from tests.fleet.dashboard import login

    client, store, _ = web
    now = now_utc()
    hour = now.replace(minute=0, second=0, microsecond=0)
    body = totals("hour", hour, now - hour, spring={"plays": 4, "seconds": 0.0})
    store.write([parse("signage", "signage/lab/a/totals", f.encode(body))])
    login(client)
    screens = {s["device"]: s for s in client.get("/api/screens").json()}
    assert screens["a"]["plays_today"] == 3 + 4
    page = client.get("/").text
    row = page[page.index('data-screen="lab/a"'):]
    assert '<td class="num plays" data-label="Plays">7</td>' in row[:row.index("</tr>")]


def count_days(store) -> int:
    with store.engine.begin() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(creative_days)).scalar()


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


def scripted(creative, ots, viewers, minute):
    withheld = [g for g, v in (("people", ots), ("looking", viewers)) if v is None]
    body = f.play(creative=creative, start=f.T0 + timedelta(minutes=minute)) | {"ots": ots, "viewers": viewers}
    if viewers is None:
        body |= {"peak_viewers": None, "looking_seconds": None, "expressions": {"suppressed": True}}
        withheld.append("expressions")
    if ots is None:
        body |= {"peak_faces": None, "mean_faces": None}
    return parse("signage", f.topic(body, "play"), f.encode(body | {"withheld": withheld}), now=NOW)


SCRIPT = [("promo", 4, 3, 0), ("promo", 3, None, 1), ("promo", None, None, 2), ("quiet", None, None, 3)]


def test_impressions_and_viewed_impressions_match_hand_counts(store):
    """Impressions add up each play's OTS (distinct people in view), viewed impressions
    each play's viewers, over the plays that published them; a creative none of whose
    plays did shows them withheld (None), never 0. Peaks are no count of people."""
    from signage.fleet import queries

    store.write([scripted(*play) for play in SCRIPT], now=NOW)
    day = f.T0.date()
    report = {r.creative: r for r in queries.creatives(store.engine, day, day)}
    promo, quiet = report["promo"], report["quiet"]
    assert (promo.plays, promo.impressions, promo.ots_plays, promo.viewed_impressions, promo.viewer_plays) == \
        (3, 7, 2, 3, 1)
    assert (quiet.plays, quiet.impressions, quiet.viewed_impressions) == (1, None, None)


def test_the_creatives_page_says_withheld_not_zero(web):
    from tests.fleet.dashboard import login

    client, store, _ = web
    store.write([scripted(*play) for play in SCRIPT])
    login(client)
    page = client.get(f"/creatives?end={f.T0.date().isoformat()}&span=day").text
    promo = page[page.index('data-creative="promo"'):]
    promo = promo[:promo.index("</tr>")]
    assert '<td class="num impressions" data-label="Impressions">7<br><small class="muted">of 2 plays</small>' in promo
    assert ('<td class="num viewed-impressions" data-label="Viewed impressions">3<br>'
            '<small class="muted">of 1 plays</small>') in promo
    quiet = page[page.index('data-creative="quiet"'):]
    quiet = quiet[:quiet.index("</tr>")]
    for cell in ("impressions", "viewed-impressions"):  # unknown, not 0
        shown = quiet[quiet.index(f'class="num {cell}"'):]
        assert shown[:shown.index("</td>")].endswith(">withheld</span>")


def test_the_fleet_page_says_withheld_when_todays_people_all_were(web):
    """Today's passers and viewers of a screen: the sum of the intervals that published
    them, saying how many withheld theirs; 'withheld' when every one did, never 0."""
    from signage.fleet.times import now_utc
    from tests.fleet.dashboard import login

    client, store, _ = web
    quiet = f.metrics(device="c", start=now_utc().replace(minute=0, second=0, microsecond=0)) | {
        "passers": None, "viewers": None, "peak_faces": None, "conversion": None, "attraction": None,
        "distance": {"suppressed": True}, "dwell": {"suppressed": True}, "attention": {"suppressed": True},
        "expressions": {"suppressed": True}, "inference_ms": None}
    store.write([parse("signage", f.topic(quiet, "metrics"), f.encode(quiet))])
    login(client)
    page = client.get("/").text

    def cells(device):
        row = page[page.index(f'data-screen="lab/{device}"'):]
        row = row[:row.index("</tr>")]
        return row[row.index('class="num passers"'):row.index('class="num viewers"') + 400]

    assert cells("c").count(">withheld</span>") == 2
    assert ">4<br><small" in cells("a") and "1 interval withheld" in cells("a")
    screens = {s["device"]: s for s in client.get("/api/screens").json()}
    assert (screens["c"]["passers_today"], screens["c"]["viewers_today"]) == (None, None)
    assert (screens["a"]["passers_today"], screens["a"]["passers_withheld_today"]) == (4, 1)


def test_the_exports_carry_the_definitions_and_leave_withheld_empty(web):
    """The proof-of-play export has each play's OTS and viewers (empty when withheld); the
    daily export the impressions and viewed impressions, empty for a creative none of
    whose plays published them: unknown, never 0."""
    from tests.fleet.dashboard import csv_rows, login

    client, store, _ = web
    store.write([scripted(*play) for play in SCRIPT])
    login(client)
    period = {"start": f.T0.date().isoformat(), "end": f.T0.date().isoformat()}
    plays = csv_rows(client.get("/export/plays.csv", params=period).text)
    assert sorted((p["creative"], p["ots"], p["viewers"]) for p in plays) == [
        ("promo", "", ""), ("promo", "3", ""), ("promo", "4", "3"), ("quiet", "", "")]
    daily = {row["creative"]: row for row in csv_rows(client.get("/export/daily.csv", params=period).text)}
    assert (daily["promo"]["impressions"], daily["promo"]["ots_plays"], daily["promo"]["viewed_impressions"]) == \
        ("7", "2", "3")
    assert (daily["quiet"]["impressions"], daily["quiet"]["viewed_impressions"]) == ("", "")
