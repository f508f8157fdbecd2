"""Fixtures for the fleet dashboard: a real PostgreSQL, stores on both databases,
message factories."""

from __future__ import annotations

import itertools

import pytest

from tests.fleet.postgres import Postgres

_names = itertools.count()


@pytest.fixture(scope="session")
def postgres():
    server = Postgres().start()
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
