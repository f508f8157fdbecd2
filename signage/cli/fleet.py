"""`signage fleet ...`: the command line of the dashboard. Imports the web and database
stack only when a command runs, so `signage` on a kiosk never needs the `fleet` extra."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import importlib.util
import logging
import secrets
import signal
import sys
import threading
from pathlib import Path

from signage.cli.options import matching, validated
from signage.errors import ConfigError, SignageError
from signage.patterns import TOPIC_PATTERN

logger = logging.getLogger(__name__)


def add(commands) -> None:
    fleet = commands.add_parser("fleet", help="the fleet dashboard: ingest MQTT into a database, serve the pages")
    fleet.add_argument("action", nargs="?", default="run",
                       choices=["run", "ingest", "migrate", "passwd", "demo", "provision"],
                       help="run (default): ingest and web pages; ingest: only store MQTT (scale out with "
                            "--share-group); migrate: upgrade the database schema; passwd: set the login password; "
                            "demo: fill the database with a day of 12 simulated screens; provision NAME: broker "
                            "credentials and ACL for a kiosk (NAME is SITE/DEVICE) or for the fleet itself (NAME "
                            "is fleet), and the kiosk's config lines")
    fleet.add_argument("name", nargs="?", help="provision: SITE/DEVICE, or fleet")
    fleet.add_argument("--mosquitto", metavar="DIR", help="provision: write the password file (DIR/passwd) and "
                                                        "the ACL (DIR/acl) there instead of printing their lines")
    fleet.add_argument("--kiosk-ca", metavar="PATH", help="provision: where the kiosk keeps the broker's CA "
                                                         "certificate (default /etc/signage/broker-ca.crt with mqtts)")
    fleet.add_argument("--homeassistant", action="store_true",
                       help="provision: the kiosk may also publish Home Assistant discovery")
    fleet.add_argument("--config", help="settings file (default: ~/.config/signage/fleet.yaml)")
    fleet.add_argument("--db", help="SQLite file or postgresql://user:pass@host/db "
                                    "(default: ~/.local/share/signage/fleet.sqlite3)")
    fleet.add_argument("--broker", help="mqtt://host:port (default: mqtt://localhost:1883)")
    fleet.add_argument("--root", type=matching(TOPIC_PATTERN),
                       help="topic root (mqtt.topic_root of the kiosks, default signage)")
    fleet.add_argument("--share-group", help="MQTT 5 shared subscription group: ingests with one group split the load")
    fleet.add_argument("--client-id", help="MQTT client id, stable across restarts (default: signage-fleet-<host>)")
    fleet.add_argument("--retention-days", type=int, help="days of raw rows kept (rollups are kept for good)")
    fleet.add_argument("--listen", help="address to serve on (default 127.0.0.1)")
    fleet.add_argument("--port", type=int, help="port to serve on (default 8080)")
    fleet.add_argument("--retire-after-days", type=int,
                       help="retire screens not seen for this many days (default 30; what they reported stays)")
    fleet.add_argument("--trusted-proxy", action="append", dest="trusted_proxies", metavar="ADDRESS",
                       help="a reverse proxy whose X-Forwarded-For is believed (address or network; repeat for "
                            "more; default: none)")
    fleet.add_argument("--revision", default="head", help="migrate: target revision (default head)")
    fleet.add_argument("--password-stdin", action="store_true", help="passwd: read the password from stdin")
    fleet.set_defaults(handler=main)


OPTIONS = {"db": "--db", "broker": "--broker", "topic_root": "--root", "share_group": "--share-group",
           "client_id": "--client-id", "retention_days": "--retention-days", "listen": "--listen", "port": "--port",
           "retire_after_days": "--retire-after-days", "trusted_proxies": "--trusted-proxy"}


def _settings(args: argparse.Namespace):
    from signage.fleet.config import FleetConfig, default_config_path, load

    path = Path(args.config).expanduser() if args.config else default_config_path()
    if path.exists() and not path.is_file():  # a device never ends, a FIFO blocks: refused before it is read
        raise ConfigError(f"--config {path}: it is not a regular file (a folder or a device); give the settings"
                          " file (YAML, made if missing)")
    config = load(path)
    overrides = {"db": args.db, "broker": args.broker, "topic_root": args.root, "share_group": args.share_group,
                 "client_id": args.client_id, "retention_days": args.retention_days, "listen": args.listen,
                 "port": args.port, "retire_after_days": args.retire_after_days,
                 "trusted_proxies": args.trusted_proxies}
    merged = validated(FleetConfig, config.model_dump() | {k: v for k, v in overrides.items() if v is not None},
                       OPTIONS)
    return path, merged


def main(args: argparse.Namespace) -> int:
    if args.action == "provision":  # needs neither the web stack nor the database
        path, config = _settings(args)
        return _provision(path, config, args)
    if args.name:
        raise SignageError(f"{args.name!r}: only `signage fleet provision` takes a name")
    missing = [name for name in ("fastapi", "sqlalchemy") if importlib.util.find_spec(name) is None]
    if missing:  # looked up, not imported: the database library's one home is fleet/
        raise SignageError(f"the dashboard needs the fleet extra ({missing[0]} is missing): "
                           "pip install 'signage[fleet]'")
    path, config = _settings(args)
    if args.action == "passwd":
        return _passwd(path, args.password_stdin)
    from signage.fleet.database import database_url, describe
    from signage.fleet.store import Store

    url = database_url(config.db)
    try:
        store = Store(url, retention_days=config.retention_days, raw_budget_mb=config.raw_payload_mb,
                      retire_after_days=config.retire_after_days)
    except Exception as exc:  # noqa: BLE001 - not a URL, an unknown scheme, a driver missing: say so
        reason = str(exc).splitlines()[0] if str(exc).strip() else type(exc).__name__
        if password := _password(config.db):
            reason = reason.replace(password, "***")
        raise SignageError(f"--db: the database cannot be opened ({reason}); give a SQLite file path or"
                           " postgresql://user:pass@host/db") from None
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
            return _ingest_only(store, config, path)
        return _run(store, config, path)
    finally:
        store.close()


def _password(db: str | None) -> str | None:
    """The password in a database URL, to keep it out of messages."""
    from urllib.parse import urlsplit

    try:
        return urlsplit(db or "").password or None
    except ValueError:
        return None


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
    if not password.isprintable():  # bytes that are not UTF-8 text, or control characters: not typeable at login
        print("use printable characters only (UTF-8 text); nothing changed", file=sys.stderr)
        return 1
    config = load(path)
    config.login_hash = hash_password(password)
    save(path, config)
    print(f"password set in {path}")
    return 0


def _provision(path: Path, config, args: argparse.Namespace) -> int:
    import datetime as dt

    from pydantic import ValidationError

    from signage.fleet import provision
    from signage.fleet.config import load, save
    from signage.fleet.identities import Provisioned, load_devices, save_devices
    from signage.wire.envelope import Signer

    if not args.name:
        raise SignageError("provision what? `signage fleet provision SITE/DEVICE` for a kiosk, "
                           "`signage fleet provision fleet` for the dashboard's own broker identity")
    try:
        signer = Signer.load_or_create(config.command_key_path(path))
    except ValueError as exc:
        raise SignageError(str(exc)) from None
    devices_path = config.devices_path(path)
    devices = load_devices(devices_path)
    password = provision.new_password()
    if args.name == "fleet":
        user, fleet_user = config.username or "signage-fleet", config.username or "signage-fleet"
        on_disk = load(path)
        on_disk.username, on_disk.password = user, password
        save(path, on_disk)
        print(f"# The fleet's broker identity {user!r}: its password is in {path} (mode 0600).")
    else:
        site, _, device = args.name.partition("/")
        try:
            entry = Provisioned(site=site, device=device, provisioned=dt.datetime.now(dt.timezone.utc),
                                homeassistant=args.homeassistant)
        except ValidationError as exc:
            reserved = [e["msg"].removeprefix("Value error, ") for e in exc.errors() if "reserved" in e["msg"]]
            raise SignageError(f"{args.name!r}: " + (reserved[0] if reserved else "write SITE/DEVICE, each 1-64 "
                               "letters, digits, '_' or '-' (the kiosk's site and device settings)")) from None
        devices = [d for d in devices if (d.site, d.device) != (site, device)] + [entry]
        save_devices(devices_path, devices)
        user, fleet_user = entry.username, config.username
        ca = args.kiosk_ca or ("/etc/signage/broker-ca.crt" if config.broker.startswith(("mqtts:", "ssl:")) else None)
        print(f"# config.yaml of the kiosk {site}/{device} (the password is shown only now):")
        print(provision.kiosk_config(site, device, config.broker, config.topic_root, password, signer.public_text,
                                     ca, args.homeassistant))
        if ca:
            print(f"# copy the CA certificate that signed the broker's certificate to {ca} on the kiosk")
        if not fleet_user:
            print("# the fleet has no broker identity yet: `signage fleet provision fleet` (its ACL block)")
    line = provision.password_line(user, password)
    acl = provision.acl_text(config.topic_root, fleet_user, devices)
    if args.mosquitto:
        folder = Path(args.mosquitto).expanduser()
        provision.set_password(folder / "passwd", line)
        provision.write_private(folder / "acl", acl)
        print(f"# wrote {folder / 'passwd'} and {folder / 'acl'}; make them readable by Mosquitto's user and "
              "reload it (systemctl reload mosquitto)")
    else:
        print("# Mosquitto password file (password_file), in place of any line of this user:")
        print(line)
        print("\n# Mosquitto ACL (acl_file), the whole file:")
        print(acl, end="")
    return 0


def _make_ingest(store, config, identities):
    from signage.fleet.ingest import Ingest

    return Ingest(store, config.broker, root=config.topic_root, group=config.share_group,
                  client_id=config.client_id, session_expiry=config.session_expiry,
                  username=config.username, password=config.password, tls_files=config.tls, identities=identities)


def _identities(config, path: Path):
    from signage.fleet.identities import Identities

    return Identities(config.devices_path(path))


def _stop_on_signals() -> threading.Event:
    stop = threading.Event()
    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, lambda *_: stop.set())
    return stop


def _ingest_only(store, config, path: Path) -> int:
    stop = _stop_on_signals()
    ingest = _make_ingest(store, config, _identities(config, path)).start()
    logger.info("ingesting %s/+/+/# from %s%s", config.topic_root, config.broker,
                f" (shared group {config.share_group})" if config.share_group else "")
    stop.wait()
    ingest.stop()
    s = ingest.stats
    logger.info("ingest stopped: received %d, stored %d, duplicates %d, invalid %d, dead letters %d, quarantined %d",
                s.received, s.stored, s.duplicates, s.invalid, s.dead_letters, s.quarantined)
    return 0


def server_config(app, config):
    """uvicorn's settings from ours. X-Forwarded-For and -Proto are believed only from the
    configured proxies: uvicorn's own default believes 127.0.0.1, so any local client (or a
    proxy that passes the header through) could choose the address the login back-off
    counts, one per guess."""
    import uvicorn

    return uvicorn.Config(app, host=config.listen, port=config.port, log_level="warning",
                          timeout_graceful_shutdown=2, access_log=False,
                          proxy_headers=bool(config.trusted_proxies), forwarded_allow_ips=config.trusted_proxies)


def _run(store, config, path: Path) -> int:
    import uvicorn

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self):
            # uvicorn re-raises SIGTERM after its shutdown, which would skip storing what
            # the ingest holds; our handlers below ask it to exit instead.
            yield

        async def startup(self, sockets=None) -> None:
            await super().startup(sockets)
            if self.started:  # listening: a browser sent here now gets the page
                logger.info("dashboard on http://%s:%d/ (ingesting %s from %s)", config.listen, config.port,
                            config.topic_root, config.broker)

    from signage.fleet.outbox import Publisher
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
    from signage.wire.envelope import Signer

    try:
        signer = Signer.load_or_create(config.command_key_path(path))
    except ValueError as exc:
        raise SignageError(str(exc)) from None
    identities = _identities(config, path)
    ingest = _make_ingest(store, config, identities).start()
    from signage.fleet.alert_service import AlertService

    alerts = AlertService(store.engine, store.reader, config.alerts).start()  # one evaluates per database: the lease
    publisher = Publisher(config.broker, signer, username=config.username, password=config.password,
                          tls_files=config.tls)
    settings = WebSettings(store=store, login_hash=config.login_hash, root=config.topic_root, publisher=publisher,
                           secure_cookies=config.secure_cookies, identities=identities,
                           retire_after_days=config.retire_after_days, releases=config.releases)
    app = create_app(settings)
    announcer = None
    if config.releases:
        from signage.fleet.announcer import Announcer

        announcer = Announcer(Path(config.releases), config.topic_root, publisher.publish_retained).start()
    server = _Server(server_config(app, config))
    def stop(*_):
        settings.stopping.set()  # live pages end their streams, so the server can close them
        server.should_exit = True

    for number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(number, stop)
    try:
        server.run()
    finally:
        if announcer is not None:
            announcer.stop()
        publisher.close()
        app.state.writes.close()
        alerts.stop()
        ingest.stop()
        s = ingest.stats
        logger.info("stopped: received %d, stored %d, duplicates %d, invalid %d, dead letters %d", s.received,
                    s.stored, s.duplicates, s.invalid, s.dead_letters)
    return 0
