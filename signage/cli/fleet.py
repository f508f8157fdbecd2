"""`signage fleet ...`: the command line of the dashboard. Imports the web and database
stack only when a command runs, so `signage` on a kiosk never needs the `fleet` extra."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import logging
import secrets
import signal
import sys
import threading
from pathlib import Path

from signage.errors import SignageError

logger = logging.getLogger(__name__)


def add(commands) -> None:
    fleet = commands.add_parser("fleet", help="the fleet dashboard: ingest MQTT into a database, serve the pages")
    fleet.add_argument("action", nargs="?", default="run", choices=["run", "ingest", "migrate", "passwd", "demo"],
                       help="run (default): ingest and web pages; ingest: only store MQTT (scale out with "
                            "--share-group); migrate: upgrade the database schema; passwd: set the login password; "
                            "demo: fill the database with a day of 12 simulated screens")
    fleet.add_argument("--config", help="settings file (default: ~/.config/signage/fleet.yaml)")
    fleet.add_argument("--db", help="SQLite file or postgresql://user:pass@host/db "
                                    "(default: ~/.local/share/signage/fleet.sqlite3)")
    fleet.add_argument("--broker", help="mqtt://host:port (default: mqtt://localhost:1883)")
    fleet.add_argument("--root", help="topic root (mqtt.topic_root of the kiosks, default signage)")
    fleet.add_argument("--share-group", help="MQTT 5 shared subscription group: ingests with one group split the load")
    fleet.add_argument("--client-id", help="MQTT client id, stable across restarts (default: signage-fleet-<host>)")
    fleet.add_argument("--retention-days", type=int, help="days of raw rows kept (rollups are kept for good)")
    fleet.add_argument("--listen", help="address to serve on (default 127.0.0.1)")
    fleet.add_argument("--port", type=int, help="port to serve on (default 8080)")
    fleet.add_argument("--revision", default="head", help="migrate: target revision (default head)")
    fleet.add_argument("--password-stdin", action="store_true", help="passwd: read the password from stdin")
    fleet.set_defaults(handler=main)


def _settings(args: argparse.Namespace):
    from signage.fleet.config import FleetConfig, default_config_path, load

    path = Path(args.config).expanduser() if args.config else default_config_path()
    config = load(path)
    overrides = {"db": args.db, "broker": args.broker, "topic_root": args.root, "share_group": args.share_group,
                 "client_id": args.client_id, "retention_days": args.retention_days, "listen": args.listen,
                 "port": args.port}
    merged = FleetConfig.model_validate(config.model_dump() | {k: v for k, v in overrides.items() if v is not None})
    return path, merged


def main(args: argparse.Namespace) -> int:
    try:
        import fastapi  # noqa: F401
        import sqlalchemy  # noqa: F401
    except ImportError as exc:
        raise SignageError(f"the dashboard needs the fleet extra ({exc.name} is missing): "
                           "pip install 'signage[fleet]'") from None
    path, config = _settings(args)
    if args.action == "passwd":
        return _passwd(path, args.password_stdin)
    from signage.fleet.database import database_url, describe
    from signage.fleet.store import Store

    url = database_url(config.db)
    store = Store(url, retention_days=config.retention_days, raw_budget_mb=config.raw_payload_mb)
    try:
        try:
            before, after = store.migrate(args.revision if args.action == "migrate" else "head")
        except Exception as exc:  # noqa: BLE001 - say which database, never a traceback
            raise SignageError(f"database {describe(url)}: {str(exc).splitlines()[0]}") from None
        if args.action == "migrate":
            print(f"{describe(url)}: schema {before or 'empty'} → {after}")
            return 0
        logger.info("database %s (schema %s)", describe(url), after)
        if args.action == "demo":
            from signage.fleet.demo import seed

            print(f"{describe(url)}: {seed(store)} simulated metrics and plays stored")
            return 0
        if args.action == "ingest":
            return _ingest_only(store, config)
        return _run(store, config, path)
    finally:
        store.close()


def _passwd(path: Path, from_stdin: bool) -> int:
    from signage.fleet.config import load, save
    from signage.fleet.passwords import hash_password

    if from_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass("New dashboard password: ")
        if getpass.getpass("Again: ") != password:
            print("the passwords differ; nothing changed", file=sys.stderr)
            return 1
    if len(password) < 8:
        print("use at least 8 characters; nothing changed", file=sys.stderr)
        return 1
    config = load(path)
    config.login_hash = hash_password(password)
    save(path, config)
    print(f"password set in {path}")
    return 0


def _make_ingest(store, config):
    from signage.fleet.ingest import Ingest

    return Ingest(store, config.broker, root=config.topic_root, group=config.share_group,
                  client_id=config.client_id, session_expiry=config.session_expiry,
                  username=config.username, password=config.password)


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


def _ingest_only(store, config) -> int:
    stop = _stop_on_signals()
    ingest = _make_ingest(store, config).start()
    logger.info("ingesting %s/+/+/# from %s%s", config.topic_root, config.broker,
                f" (shared group {config.share_group})" if config.share_group else "")
    stop.wait()
    ingest.stop()
    s = ingest.stats
    logger.info("ingest stopped: received %d, stored %d, duplicates %d, invalid %d, dead letters %d",
                s.received, s.stored, s.duplicates, s.invalid, s.dead_letters)
    return 0


def _run(store, config, path: Path) -> int:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn re-raises SIGTERM after its shutdown, which would skip storing what
            # the ingest holds; our handlers below ask it to exit instead.
            yield

    from signage.fleet.commands import Publisher
    from signage.fleet.config import save
    from signage.fleet.passwords import hash_password
    from signage.fleet.web import WebSettings, create_app

    if not config.login_hash:
        password = secrets.token_urlsafe(12)
        stored = config.model_copy(update={"login_hash": hash_password(password)})
        from signage.fleet.config import load

        on_disk = load(path)
        on_disk.login_hash = stored.login_hash
        save(path, on_disk)
        config = stored
        print(f"First start: the dashboard password is {password}\n"
              f"(its hash is in {path}; change it with `signage fleet passwd`)", flush=True)
    ingest = _make_ingest(store, config).start()
    publisher = Publisher(config.broker, username=config.username, password=config.password)
    settings = WebSettings(store=store, login_hash=config.login_hash, root=config.topic_root, publisher=publisher,
                           secure_cookies=config.secure_cookies)
    app = create_app(settings)
    server = _Server(uvicorn.Config(app, host=config.listen, port=config.port, log_level="warning",
                                    timeout_graceful_shutdown=2, access_log=False))
    def stop(*_):
        settings.stopping.set()  # live pages end their streams, so the server can close them
        server.should_exit = True

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, stop)
    logger.info("dashboard on http://%s:%d/ (ingesting %s from %s)", config.listen, config.port,
                config.topic_root, config.broker)
    try:
        server.run()
    finally:
        publisher.close()
        ingest.stop()
        s = ingest.stats
        logger.info("stopped: received %d, stored %d, duplicates %d, invalid %d, dead letters %d", s.received,
                    s.stored, s.duplicates, s.invalid, s.dead_letters)
    return 0
