"""No fleet URL answers with a traceback: every parameter of every page, API and export is
checked in one place (400: what is wrong and what is allowed), and a database that is
down is a 503 page that goes away by itself once the database is back (a real
PostgreSQL, stopped and started)."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from signage.fleet.database import database_url
from signage.fleet.parse import parse
from signage.fleet.passwords import hash_password
from signage.fleet.store import Store
from signage.fleet.web import WebSettings, create_app
from tests.fleet import factory as f
from tests.fleet.dashboard import PASSWORD, answer, csrf_of, get_routes, login
from tests.support.postgres import TempPostgres

HOSTILE = ["9999-12-31", "0001-01-01", "2000-01-01", "2026-02-30", "not-a-date", "", "-1", "0", "7", "month",
           "99999999999999999999", "1e308", "NaN", "\x00", "é" * 300, "../../etc/passwd", "<script>x</script>"]
EXAMPLES = {"site": "lab", "device": "a"}


def test_every_parameter_of_every_url_is_checked_with_a_message_not_a_traceback(web):
    client, _, _ = web
    login(client)
    routes = get_routes(client.app)
    assert {"/", "/creatives", "/screen/lab/a", "/export/plays.csv", "/events", "/retire"} <= {p for p, _ in routes}
    refused = 0
    for path, names in routes:
        for name in names:
            for value in HOSTILE:
                status, text = answer(client, path, {name: value} | ({"view": "screen"} | EXAMPLES
                                                                     if path == "/events" and name != "view" else {}))
                assert status in (200, 400, 404), (path, name, value, status, text[-500:])
                assert "Traceback" not in text
                if status == 400:
                    refused += 1
                    assert name in text or "start" in text, (path, name, value, text[-500:])
    assert refused > 50
    # The two reported, and their messages: what is wrong, what is allowed.
    status, text = answer(client, "/creatives", {"end": "9999-12-31"})
    assert status == 400 and "end: 9999-12-31 is out of range; use a day from 2000-01-01 to" in text
    status, text = answer(client, "/screen/lab/a", {"day": "0001-01-01"})
    assert status == 400 and "day: 0001-01-01 is out of range" in text
    assert answer(client, "/export/plays.json", {"start": "2026-03-01", "end": "2026-02-01"})[0] == 400
    assert answer(client, "/export/daily.csv", {"start": "2000-01-01", "end": "2026-01-01"})[0] == 400
    # The earliest day's page links to no earlier one; it renders.
    status, text = answer(client, "/screen/lab/a", {"day": "2000-01-01", "span": "week"})
    assert status == 200 and "← earlier" not in text
    # Forms, too.
    csrf = csrf_of(client)
    for days in ("x", "-3", "99999999999"):
        assert client.post("/retire", data={"days": days, "csrf": csrf}).status_code == 400


@pytest.fixture
def halting_postgres():
    server = TempPostgres().start()
    yield server
    server.stop()


def test_a_database_that_is_down_is_a_503_page_and_the_pages_come_back_by_themselves(halting_postgres, broker,
                                                                                    tmp_path):
    from signage.fleet.outbox import Publisher
    from tests.commands import fleet_key
    from tests.subscriber import Subscriber

    store = Store(database_url(halting_postgres.create_database("fleet")))
    store.migrate()
    store.write([parse("signage", "signage/lab/a/available", b"online"),
                 parse("signage", "signage/lab/a/status", f.encode(f.status()))])
    publisher = Publisher(broker.url, fleet_key(tmp_path))
    app = create_app(WebSettings(store=store, login_hash=hash_password(PASSWORD), publisher=publisher,
                                 live_seconds=0.05))
    client = TestClient(app, base_url="http://testserver")
    wire = Subscriber(broker.url, "signage/+/+/+/set")
    try:
        login(client)
        csrf = csrf_of(client)
        with client.stream("GET", "/events?view=fleet") as stream:
            lines = stream.iter_lines()
            assert next(line for line in lines if line.startswith("event: ")) == "event: live"
            halting_postgres.pause()
            assert next(line for line in lines if line.startswith("event: ")) == "event: stale"
        for path in ("/", "/screen/lab/a", "/creatives", "/export/plays.csv", "/api/screens"):
            response = client.get(path, headers={"accept": "text/html"})
            assert response.status_code == 503 and response.headers["Retry-After"], path
            assert "The fleet database is unavailable or busy" in response.text, path
            assert "Traceback" not in response.text
        command = client.post("/screen/lab/a/command", data={"feature": "privacy", "value": "ON", "csrf": csrf})
        assert command.status_code == 503 and "Nothing was changed or sent" in command.text
        assert client.get("/api/screens").text.startswith("The fleet database is unavailable")  # plain for scripts
        halting_postgres.resume()
        assert client.get("/").status_code == 200 and 'data-screen="lab/a"' in client.get("/").text
        sent = client.post("/screen/lab/a/command", data={"feature": "privacy", "value": "OFF", "csrf": csrf})
        assert "Sent privacy OFF" in sent.text
        assert wire.wait_for(lambda m: m.topic.endswith("/set")).json()["value"] == "OFF"
        assert [m.json()["value"] for m in wire.messages] == ["OFF"], \
            "nothing was published while the database was down"
    finally:
        wire.close()
        client.close()
        publisher.close()
        app.state.writes.close()
        store.close()
