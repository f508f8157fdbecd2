"""Per-creative impressions, viewers and OTS match hand counts end to end: a scripted
audience goes through the kiosk's real counting path (tests/audience_run.py: handoff,
aggregator, ledger, player, rules engine), its messages are written into a fleet Store,
and the creatives page, the API, the screen page and the daily CSV are compared with
numbers counted by hand from the script (docs/glossary.md defines them)."""

from __future__ import annotations

import csv
import io
import json
from datetime import timedelta

import pytest

from signage.fleet.parse import parse
from tests.audience_run import LOOKERS, Visit, playlist_from, run
from tests.fleet import factory as f
from tests.fleet.dashboard import logged_in

START = f.T0  # 09:00 UTC two weeks ago: the run's second s is START + s
DAY = START.date()
SITE, DEVICE = "lab", "kiosk-1"  # what tests/audience_run.py configures

LOOP = """
creatives:
  - {id: ad-a, type: card, text: A, duration: 10}
  - {id: ad-b, type: card, text: B, duration: 10}
default: [ad-a, ad-b]
"""


def person(track, enter, leave, *looks):
    """In view from `enter` to `leave` (seconds of the run), looking during each (a, b)."""
    return Visit(track, enter, leave, tuple(looks), "happy")


# min_group 3. The loop plays ad-a [0, 10), ad-b [10, 20), ad-a [20, 30), ad-b [30, 40).
# Each person stays inside one play, so a play's people are counted by reading its line.
SCRIPT = [
    # ad-a #1: 4 people in view (OTS 4); 3 of them look 3 s each (viewers 3, 9.0 person-s,
    # none above half): all published.
    person(1, 1, 9, (2, 5)), person(2, 1, 9, (2, 5)), person(3, 1, 9, (2, 5)), person(4, 1, 9),
    # ad-b #1: 3 in view (OTS 3, published); 1 looks 2 s: fewer than 3 viewers, its
    # looking figures withheld.
    person(5, 11, 19, (12, 14)), person(6, 11, 19), person(7, 11, 19),
    # ad-a #2: 2 in view, both looking 4 s: fewer than 3 people, everything withheld.
    person(8, 21, 29, (22, 26)), person(9, 21, 29, (22, 26)),
    # ad-b #2: 5 in view (OTS 5), 4 look 2 s each (viewers 4, 8.0 person-s).
    person(10, 31, 39, (32, 34)), person(11, 31, 39, (32, 34)), person(12, 31, 39, (32, 34)),
    person(13, 31, 39, (32, 34)), person(14, 31, 39),
]
# By hand, per creative over the day:
#   ad-a: 2 plays, 20 s; impressions 4 over 1 play (the other withheld); viewed
#         impressions 3 over 1 play; 1 viewed play of 1 measured; 9.0 person-s, 9.0 s a play.
#   ad-b: 2 plays, 20 s; impressions 3 + 5 = 8 over 2 plays; viewed impressions 4 over 1
#         play; 1 viewed play of 1 measured; 8.0 person-s, 8.0 s a play.
# The screen's interval: 14 passers, 10 viewers (who looked 1 s or more: all but 4, 6, 7, 14).
HAND = {"ad-a": {"plays": 2, "seconds": 20.0, "impressions": 4, "ots_plays": 1, "viewed_impressions": 3,
                 "viewer_plays": 1, "viewed_plays": 1, "measured_plays": 1, "looking_seconds": 9.0,
                 "attention_mean": 9.0},
        "ad-b": {"plays": 2, "seconds": 20.0, "impressions": 8, "ots_plays": 2, "viewed_impressions": 4,
                 "viewer_plays": 1, "viewed_plays": 1, "measured_plays": 1, "looking_seconds": 8.0,
                 "attention_mean": 8.0}}


@pytest.fixture
def counted(store, tmp_path):
    """The script through the kiosk's counting, its messages stored by the fleet."""
    out = run(playlist_from(tmp_path / "loop", LOOP), SCRIPT, 40, start=START, min_group=3)
    now = START.replace(tzinfo=None) + timedelta(hours=1)
    items = [parse("signage", f"signage/{SITE}/{DEVICE}/{kind}", json.dumps(payload).encode(), now=now)
             for _, kind, payload in out["messages"]]
    items.append(parse("signage", f"signage/{SITE}/{DEVICE}/status", f.encode(f.status(SITE, DEVICE)), now=now))
    store.write(items, now=now)
    return store, [kind for _, kind, _ in out["messages"]]


def test_the_creatives_report_matches_the_hand_counts(counted):
    store, kinds = counted
    assert kinds.count("play") == 4 and "totals" not in kinds, "no audience rule: each play published as it ends"
    client = logged_in(store)
    api = client.get("/api/creatives", params={"end": DAY.isoformat(), "span": "day"}).json()["creatives"]
    assert {r["creative"]: {k: r[k] for k in HAND["ad-a"]} for r in api} == HAND
    page = client.get("/creatives", params={"end": DAY.isoformat(), "span": "day"}).text
    for creative, hand in HAND.items():
        row = page[page.index(f'data-creative="{creative}"'):]
        row = row[:row.index("</tr>")]
        impressions = f'data-label="Impressions">{hand["impressions"]}'
        assert impressions in row and (hand["ots_plays"] == 2 or "of 1 plays" in row)
        assert f'data-label="Viewed impressions">{hand["viewed_impressions"]}<br><small class="muted">of 1 plays' in row
        assert 'data-label="Viewed plays">1 (100 %)<br><small class="muted">of 1 plays measured' in row
        assert f'data-label="Looking person-s">{hand["looking_seconds"]:.1f}</td>' in row


def test_the_screen_page_counts_the_interval_s_viewers(counted):
    store, _ = counted
    page = logged_in(store).get(f"/screen/{SITE}/{DEVICE}", params={"day": DAY.isoformat()}).text
    assert "10 viewers; the mix covers 10 of them." in page


def test_the_daily_csv_matches_the_hand_counts(counted):
    store, _ = counted
    text = logged_in(store).get("/export/daily.csv", params={"start": DAY.isoformat(), "end": DAY.isoformat()}).text
    rows = {r["creative"]: r for r in csv.DictReader(io.StringIO(
        "".join(line for line in io.StringIO(text) if not line.startswith("#"))))}  # a definitions line, if any
    for creative, hand in HAND.items():
        assert (rows[creative]["device"], rows[creative]["plays"]) == (DEVICE, str(hand["plays"]))
        for column in ("impressions", "ots_plays", "viewed_impressions", "viewer_plays", "viewed_plays"):
            assert rows[creative][column] == str(hand[column]), (creative, column)
        assert float(rows[creative]["looking_seconds"]) == hand["looking_seconds"]


def test_plays_an_audience_rule_chose_count_released_with_their_audience_withheld(store, tmp_path):
    """Three people pass one at a time between 09:00 and 10:00, each looking 5 s: the rule
    plays `look` (6 s) for each, so by hand look has 3 plays, 18 s, released in aggregate
    for the hour; none of its audience is known (each was about one person), and the page
    says so, never 0. Every second of the two hours run is attributed to some creative."""
    begin = START - timedelta(minutes=10)  # 08:50: the run's second 600 is 09:00
    people = [Visit(n + 1, 600 + 300 + n * 600, 600 + 320 + n * 600, ((600 + 302 + n * 600, 600 + 307 + n * 600),),
                    "happy") for n in range(3)]
    out = run(playlist_from(tmp_path / "lookers", LOOKERS), people, 7200, start=begin, min_group=3, step=2.0)
    now = START.replace(tzinfo=None) + timedelta(hours=3)
    store.write([parse("signage", f"signage/{SITE}/{DEVICE}/{kind}", json.dumps(payload).encode(), now=now)
                 for _, kind, payload in out["messages"]], now=now)
    client = logged_in(store)
    api = {r["creative"]: r for r in client.get("/api/creatives", params={"end": DAY.isoformat(),
                                                                          "span": "day"}).json()["creatives"]}
    look = api["look"]
    assert (look["plays"], look["seconds"], look["released_plays"], look["measured_plays"]) == (3, 18.0, 3, 0)
    assert (look["viewed_plays"], look["looking_seconds"], look["attention_mean"], look["impressions"]) == \
        (None, None, None, None)
    assert sum(r["seconds"] for r in api.values()) == pytest.approx(7200.0), "every second attributed once"
    page = client.get("/creatives", params={"end": DAY.isoformat(), "span": "day"}).text
    row = page[page.index('data-creative="look"'):]
    row = row[:row.index("</tr>")]
    assert "3 plays released in aggregate" in row and "with fewer than min_group people" not in row
    assert 'data-label="Looking person-s"><span class="muted"' in row and ">0.0<" not in row
