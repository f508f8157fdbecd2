"""Finding 3 against the reports, on SQLite and PostgreSQL, through a real Mosquitto and
ingest: one hostile play (infinite seconds, negative counts from a fake device) must cost
nothing: the exports and reports answer 200 with the valid figures, for good. And the
dashboard says what was refused."""

from __future__ import annotations

import itertools
import math
from datetime import timedelta

import pytest

from signage.fleet.ingest import Ingest, IngestStats
from signage.fleet.parse import parse
from signage.fleet.times import now_utc
from tests.fleet import factory as f
from tests.fleet.dashboard import logged_in
from tests.fleet.publisher import Publisher
from tests.support.waiting import wait_for

TODAY = now_utc().replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
_clients = itertools.count()


@pytest.fixture
def deliver(store, broker):
    """Publish device messages through Mosquitto to a real ingest, and wait until it has
    handled them all (stored, refused or counted invalid)."""

    def publish(*bodies: dict, kind: str = "play") -> IngestStats:
        ingest = Ingest(store, broker.url, client_id=f"fleet-report-{next(_clients)}").start()
        assert ingest.subscribed.wait(15)
        sender = Publisher(broker.url)
        sender.send([(f.topic(body, kind), f.encode(body)) for body in bodies])
        sender.close()
        wait_for(lambda: ingest.stats.received == len(bodies), what="every message received")
        ingest.stop()  # stores what it holds first
        return ingest.stats

    return publish


@pytest.fixture
def client(store):
    with logged_in(store) as opened:
        yield opened


@pytest.mark.parametrize("hostile", [{"seconds": math.inf}, {"seconds": math.nan}, {"looking_seconds": math.inf},
                                     {"mean_faces": math.nan}, {"expressions": {"happy": math.inf}}],
                         ids=["seconds-inf", "seconds-nan", "looking-inf", "mean-faces-nan", "expression-inf"])
def test_one_non_finite_play_never_breaks_the_exports_or_the_reports(store, client, deliver, hostile):
    stats = deliver(f.play(start=TODAY), f.play(start=TODAY + timedelta(minutes=1)) | hostile)
    day = TODAY.date().isoformat()
    for path in (f"/export/plays.json?start={day}&end={day}", f"/export/plays.csv?start={day}&end={day}",
                 f"/api/creatives?end={day}", f"/creatives?end={day}", f"/export/daily.csv?start={day}&end={day}"):
        response = client.get(path)
        assert response.status_code == 200, (path, response.text[:200])
    exported = client.get(f"/export/plays.json?start={day}&end={day}").json()["plays"]
    assert [p["seconds"] for p in exported] == [10.0]
    report = client.get(f"/api/creatives?end={day}").json()["creatives"]
    assert [(r["creative"], r["plays"], r["seconds"]) for r in report] == [("spring", 1, 10.0)]
    assert (stats.stored, stats.invalid) == (1, 1)


def test_a_fake_device_cannot_turn_a_sites_report_negative(store, client, deliver):
    """The red team's play from a fake device: viewers -985, attention -808 s, share
    happy 100 % in the site's creative report."""
    fake = f.play(device="fake", start=TODAY + timedelta(minutes=1)) | {
        "peak_viewers": -1000, "looking_seconds": -5000.0, "expressions": {"happy": 9000.0, "neutral": -150.0}}
    inflated = f.play(device="fake", start=TODAY + timedelta(minutes=2)) | {
        "expressions": {"happy": 9000.0, "neutral": 0.0}}  # each value allowed, together impossible
    stats = deliver(f.play(start=TODAY, looking=6.0, peak_viewers=3), fake, inflated)
    assert (stats.stored, stats.invalid) == (1, 2)
    report = client.get(f"/api/creatives?end={TODAY.date().isoformat()}&site=lab").json()["creatives"]
    assert len(report) == 1
    spring = report[0]
    assert (spring["plays"], spring["viewers"], spring["looking_seconds"]) == (1, 3, 6.0)
    assert spring["expressions"] == {"happy": 0.5, "neutral": 0.5}


def test_the_dashboard_counts_invalid_messages_by_reason_and_dead_letters(store, client, deliver):
    deliver(f.play(start=TODAY) | {"seconds": -1.0}, f.play(start=TODAY) | {"start": "9999-01-01T00:00:00Z"},
            f.play(start=TODAY) | {"start": "9999-01-01T00:00:00Z"})
    body = f.play(start=TODAY)
    store.dead_letter(parse("signage", f.topic(body, "play"), f.encode(body)), "OverflowError: too large")
    page = client.get("/", headers={"accept": "text/html"}).text
    assert "3 invalid (bounds: 1, time: 2)" in page and "1 dead letter<" in page
