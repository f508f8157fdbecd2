"""Fixtures for the fleet dashboard: a real PostgreSQL, stores on both databases, the web
app with a few screens and a real Mosquitto for its commands."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest

from tests.fleet import factory as f
from tests.fleet.dashboard import PASSWORD
from tests.support.postgres import TempPostgres

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    server = TempPostgres().start()
    yield server
    server.stop()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """A fresh, empty database URL on each backend."""
    if request.param == "sqlite":
        return str(tmp_path / "fleet.sqlite3")
    return request.getfixturevalue("postgres").create_database(f"fleet_{next(_names)}")


@pytest.fixture
def store(db_url):
    from signage.fleet.database import database_url
    from signage.fleet.store import Store

    opened = Store(database_url(db_url))
    opened.migrate()
    yield opened
    opened.close()


@pytest.fixture
def web(tmp_path, broker):
    """(TestClient, store, broker): lab/a online with a status and plays, mall/b offline."""
    from fastapi.testclient import TestClient

    from signage.fleet.outbox import Publisher
    from signage.fleet.database import database_url
    from signage.fleet.parse import parse
    from signage.fleet.passwords import hash_password
    from signage.fleet.store import Store
    from signage.fleet.times import now_utc
    from signage.fleet.web import WebSettings, create_app
    from tests.commands import fleet_key

    store = Store(database_url(str(tmp_path / "fleet.sqlite3")))
    store.migrate()
    today = now_utc().replace(minute=0, second=0, microsecond=0)
    items = [parse("signage", "signage/lab/a/available", b"online"),
             parse("signage", "signage/lab/a/status", f.encode(f.status())),
             parse("signage", "signage/mall/b/available", b"offline")]
    for i in range(3):
        body = f.play(start=today + timedelta(minutes=i), creative="spring", looking=2.0 + i)
        items.append(parse("signage", f.topic(body, "play"), f.encode(body)))
    body = f.metrics(start=today)
    items.append(parse("signage", f.topic(body, "metrics"), f.encode(body)))
    quiet = f.metrics(start=today + timedelta(minutes=1)) | {
        "passers": None, "viewers": None, "peak_faces": None, "conversion": None, "attraction": None,
        "distance": {"suppressed": True}, "dwell": {"suppressed": True}, "attention": {"suppressed": True},
        "expressions": {"suppressed": True}}
    items.append(parse("signage", f.topic(quiet, "metrics"), f.encode(quiet)))
    store.write(items)
    publisher = Publisher(broker.url, fleet_key(tmp_path))
    app = create_app(WebSettings(store=store, login_hash=hash_password(PASSWORD), publisher=publisher,
                                 live_seconds=0.05))
    client = TestClient(app, base_url="http://testserver")
    yield client, store, broker
    client.close()
    publisher.close()
    app.state.writes.close()
    store.close()
