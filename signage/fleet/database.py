"""Engines for the fleet database: a SQLite file by default (WAL), PostgreSQL by URL
(psycopg 3); migrations with Alembic, shipped in this package."""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from pathlib import Path

import sqlalchemy as sa
import sqlalchemy.exc
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql, sqlite

logger = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).resolve().parent / "migrations"
CONNECT_SECONDS = 10
# What a database that is down, restarting or locked raises: not a bug but a wait (the
# pages answer 503 and work again by themselves once it is back).
UNAVAILABLE = (sqlalchemy.exc.OperationalError, sqlalchemy.exc.InterfaceError, sqlalchemy.exc.TimeoutError)


def default_db_path() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or Path.home() / ".local" / "share"
    return Path(base) / "signage" / "fleet.sqlite3"


def database_url(db: str | None) -> str:
    """An SQLAlchemy URL from what a person types: nothing (the default SQLite file),
    a file path, sqlite:///..., or postgresql://... (driven by psycopg 3)."""
    if not db:
        db = str(default_db_path())
    if db.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + db.split("://", 1)[1]
    if "://" in db:
        return db
    return f"sqlite:///{Path(db).expanduser().resolve()}"


def describe(url: str) -> str:
    """The URL without its password, for logs and pages."""
    return sa.make_url(url).render_as_string(hide_password=True)


def _sqlite_pragmas(busy_seconds: float):
    def set_pragmas(dbapi_connection, _record) -> None:
        # pysqlite's own transaction handling breaks savepoints and upgrades read locks late;
        # we issue BEGIN ourselves (see create) and keep the connection in autocommit.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes, WAL-safe
        cursor.execute(f"PRAGMA busy_timeout={int(busy_seconds * 1000)}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.close()

    return set_pragmas


def create(url: str, writer: bool = True, busy_seconds: float | None = None) -> sa.Engine:
    """An engine. SQLite writers take the write lock at BEGIN (BEGIN IMMEDIATE) so two
    ingest processes queue instead of failing on a lock upgrade; readers do not.
    `busy_seconds`: how long a statement waits for a lock before it fails (default:
    30 s for SQLite's write lock, for ever for PostgreSQL's row locks)."""
    parsed = sa.make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        busy_seconds = 30.0 if busy_seconds is None else busy_seconds
        engine = sa.create_engine(url, connect_args={"timeout": busy_seconds, "check_same_thread": False})
        sa.event.listen(engine, "connect", _sqlite_pragmas(busy_seconds))
        begin = "BEGIN IMMEDIATE" if writer else "BEGIN"
        sa.event.listen(engine, "begin", lambda conn: conn.exec_driver_sql(begin))
        return engine
    # A server that does not answer (not one that refuses) would hold a page for the
    # kernel's TCP timeout: give up after CONNECT_SECONDS.
    connect_args: dict = {"connect_timeout": CONNECT_SECONDS}
    if busy_seconds is not None:
        connect_args["options"] = f"-c lock_timeout={int(busy_seconds * 1000)}"
    return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)


# The dialect's INSERT, which has ON CONFLICT (both SQLite and PostgreSQL spell it alike).
InsertFor = Callable[[sa.Table], sqlite.Insert | postgresql.Insert]


def insert_for(engine: sa.Engine) -> InsertFor:
    """The dialect's INSERT, which has ON CONFLICT (both SQLite and PostgreSQL spell it alike)."""
    return sqlite.insert if engine.dialect.name == "sqlite" else postgresql.insert


def _alembic_config(connection: sa.Connection) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.attributes["connection"] = connection
    return config


def current_revision(engine: sa.Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def revisions() -> list[str]:
    """Every schema revision, oldest first, after "base" (the empty database)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    return ["base"] + [r.revision for r in reversed(list(ScriptDirectory.from_config(config).walk_revisions()))]


def head_revision() -> str:
    return revisions()[-1]


def migrate(engine: sa.Engine, revision: str = "head") -> tuple[str | None, str | None]:
    """Upgrade (or downgrade) the schema; returns (before, after)."""
    logging.getLogger("alembic").setLevel(logging.WARNING)  # we log the outcome in one line
    before = current_revision(engine)
    order = revisions()
    if revision not in order and revision != "head":
        raise ValueError(f"unknown schema revision {revision!r}; known: {', '.join(order)}, head")
    target = order[-1] if revision == "head" else revision
    with engine.begin() as connection:
        if order.index(target) < order.index(before or "base"):
            command.downgrade(_alembic_config(connection), target)
        else:
            command.upgrade(_alembic_config(connection), target)
    after = current_revision(engine)
    if before != after:
        logger.info("database %s migrated from %s to %s", describe(str(engine.url)), before or "empty", after)
    return before, after
