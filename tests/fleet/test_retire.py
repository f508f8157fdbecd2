"""Screens that left, or never existed (forged statuses), do not cost for ever: retired
after N days unseen (their reports stay), or deleted with everything they reported
(their share of the site's figures taken out); on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from signage.fleet import queries
from signage.fleet.parse import parse
from signage.fleet.passwords import hash_password
from signage.fleet.tables import (commands, creative_day_expressions, creative_days, creative_site_day_expressions,
                                  creative_site_days, metrics, plays, screen_hours, screen_states, screens,
                                  status_history)
from signage.fleet.times import now_utc
from signage.fleet.web import WebSettings, create_app
from tests.fleet import factory as f
from tests.fleet.dashboard import PASSWORD, csrf_of, login


def status(site: str, device: str, **extra):
    return parse("signage", f"signage/{site}/{device}/status", f.encode(f.status(site=site, device=device, **extra)))


def incoming(body: dict, kind: str):
    return parse("signage", f.topic(body, kind), f.encode(body))


def rows(store, table, **where) -> int:
    with store.engine.begin() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(table).where(
            *[table.c[k] == v for k, v in where.items()])).scalar()


@pytest.fixture
def pages(store):
    app = create_app(WebSettings(store=store, login_hash=hash_password(PASSWORD)))
    client = TestClient(app, base_url="http://testserver")
    login(client)
    yield client
    client.close()
    app.state.writes.close()


def test_screens_not_seen_for_n_days_are_retired_and_their_reports_stay(store):
    now = now_utc()
    long_ago = now - timedelta(days=40)
    play = f.play(site="lab", device="gone", start=long_ago)
    forged = [status("forged", f"x{i:04d}", last_error=None) for i in range(300)]
    store.write([*forged, status("lab", "gone"), incoming(play, "play"),
                 parse("signage", "signage/lab/gone/privacy/state", b"ON"),
                 parse("signage", "signage/lab/online/available", b"online"), status("lab", "online")], now=long_ago)
    store.write([parse("signage", "signage/lab/recent/available", b"offline")], now=now - timedelta(days=3))
    store.retire_after_days = 30
    assert store.purge(now=now)["screens (retired)"] == 301
    assert {(r.site, r.device) for r in queries.fleet(store.reader).rows} == {("lab", "online"), ("lab", "recent")}
    assert rows(store, screen_states, device="gone") == rows(store, status_history, device="gone") == 0
    # What the retired screen reported stays in the reports.
    assert rows(store, creative_days, device="gone") == 1
    report = queries.creatives(store.reader, long_ago.date(), long_ago.date(), site="lab")
    assert [(r.creative, r.plays) for r in report] == [("spring", 1)]
    # It comes back as a new screen when it reports again.
    store.write([status("lab", "gone")], now=now)
    assert queries.screen(store.reader, "lab", "gone") is not None


def test_the_fleet_page_retires_screens_on_request_after_a_confirmation(store, pages):
    now = now_utc()
    store.write([status("forged", f"x{i}") for i in range(25)], now=now - timedelta(days=2))
    store.write([parse("signage", "signage/lab/a/available", b"online"), status("lab", "a")],
                now=now - timedelta(days=2))
    confirm = pages.get("/retire?days=1").text
    assert "25 screens have not been seen for 1 days" in confirm
    assert pages.post("/retire", data={"days": "1"}).status_code == 403  # no CSRF token: nothing retired
    assert queries.fleet(store.reader).total == 26
    done = pages.post("/retire", data={"days": "1", "csrf": csrf_of(pages, "/retire?days=1")})
    assert "Retired 25 screens not seen for 1 days" in done.text
    assert [(r.site, r.device) for r in queries.fleet(store.reader).rows] == [("lab", "a")], "online: never retired"
    assert pages.get("/retire?days=-1").status_code == 400


def test_a_deleted_screen_takes_everything_it_reported_with_it(store, pages):
    start = now_utc().replace(minute=0, second=0, microsecond=0) - timedelta(hours=2)
    batch = [status("lab", "fake"), status("lab", "real")]
    for device, looking in (("fake", 500.0), ("real", 4.0)):
        for i in range(3):
            batch.append(incoming(f.play(device=device, start=start + timedelta(minutes=i), looking=looking,
                                         seconds=looking + 10), "play"))
        batch.append(incoming(f.metrics(device=device, start=start), "metrics"))
    store.write(batch)
    alone = queries.creatives(store.reader, start.date(), start.date(), site="lab", device="real")
    confirm = pages.get("/screen/lab/fake/delete").text
    assert "3 plays and\n1 metrics" in confirm and "1 days in the reports" in confirm
    csrf = csrf_of(pages, "/screen/lab/fake/delete")
    wrong = pages.post("/screen/lab/fake/delete", data={"csrf": csrf, "confirm": "fake"})
    assert "Not deleted: type lab/fake to confirm" in wrong.text and queries.screen(store.reader, "lab", "fake")
    assert pages.post("/screen/lab/fake/delete", data={"confirm": "lab/fake"}).status_code == 403
    done = pages.post("/screen/lab/fake/delete", data={"csrf": csrf, "confirm": "lab/fake"})
    assert "Deleted lab/fake and everything it reported" in done.text
    for table in (screens, screen_states, status_history, commands, metrics, plays, screen_hours, creative_days,
                  creative_day_expressions):
        assert rows(store, table, device="fake") == 0, table.name
    assert rows(store, plays, device="real") == 3
    # The site's figures are the remaining screen's alone, as if the fake one never reported.
    site = queries.creatives(store.reader, start.date(), start.date(), site="lab")
    assert [(r.creative, r.plays, r.looking_seconds, r.attention_mean, r.expressions) for r in site] == \
        [(r.creative, r.plays, r.looking_seconds, r.attention_mean, r.expressions) for r in alone]
    # With nothing left on a site, nothing is left of it in the site rollups.
    pages.post("/screen/lab/real/delete", data={"csrf": csrf_of(pages, "/screen/lab/real/delete"),
                                                "confirm": "lab/real"})
    assert rows(store, creative_site_days) == rows(store, creative_site_day_expressions) == 0
    assert pages.get("/screen/lab/real").status_code == 404
