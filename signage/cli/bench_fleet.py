"""`signage bench fleet`: ingest rate, database size per screen-day and page latency, on
SQLite (files of its own) and on a PostgreSQL you name (`--db`), for N simulated screens.
The traffic is the simulated fleet's (fleet/demo.py), as kiosks publish it.

- Ingest: N screens replay a compressed stretch of a day through a local Mosquitto,
  queued for the dashboard's persistent session; messages/s from the ingest connecting
  to the last row committed.
- Size: database growth per ingested message, scaled to a screen-day (1,440 metrics
  messages and the plays of a day).
- Latency: 30 days of history for N screens and one screen-day of raw plays; p50/p95 of
  the fleet page, a screen's day page and the 30-day creatives report, through the real
  app (in process, logged in). The history is a few screen-days of simulated traffic
  summed by the store's own rollups, then repeated over the screens and days (storing
  30 days of every screen's messages is beyond a bench's run).
- Export: the proof-of-play CSV of 100,000 and 1,000,000 plays, streamed: rows/s and
  the peak memory growth of each (bench_export.py; `--only export` runs it alone).
"""

from __future__ import annotations

import itertools
import math
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timedelta
from pathlib import Path

from signage.cli.bench_broker import start_mosquitto
from signage.cli.measure import Spread, verdict
from signage.errors import ConfigError

TARGETS = {"ingest": 5000.0, "fleet_p95": 0.300, "creatives_p95": 1.0}
HISTORY_DAYS = 30
SAMPLE_DAYS = 4  # distinct simulated screen-days the history repeats


def replay(screens: int, messages: int, start: datetime, seed: int = 0) -> list[tuple[str, bytes]]:
    """The first `messages` messages of N simulated screens from `start`, in time order."""
    from signage.fleet.demo import SimulatedFleet, encode

    fleet = SimulatedFleet.numbered(screens, seed=seed)
    flow = fleet.messages(start, start + timedelta(minutes=_minutes(screens, messages)))
    return [(topic, encode(body)) for topic, body in itertools.islice(flow, messages)]


def _minutes(screens: int, messages: int) -> int:
    """Minutes of traffic that hold `messages` at least (every screen sends a message a minute)."""
    return max(1, math.ceil(messages / screens))


def publish_file(url: str, path: str) -> None:
    """Child process: publish every `topic\\tpayload` line with QoS 1, wait for all PUBACKs."""
    from signage.config import parse_broker_url
    from signage.wire.client import new_client

    host, port, _ = parse_broker_url(url)
    client = new_client(protocol="5")
    client.max_inflight_messages_set(1000)
    client.max_queued_messages_set(0)
    client.connect(host, port)
    client.loop_start()
    infos = []
    with open(path, "rb") as handle:
        for line in handle:
            topic, payload = line.rstrip(b"\n").split(b"\t", 1)
            infos.append(client.publish(topic.decode(), payload, qos=1))
    for info in infos:
        info.wait_for_publish(timeout=120)
    client.disconnect()
    client.loop_stop()


def _db_size(store) -> int:
    import sqlalchemy as sa

    if store.dialect == "sqlite":
        raw = store.engine.raw_connection()  # outside any transaction, or SQLite refuses
        try:
            raw.cursor().execute("PRAGMA wal_checkpoint(TRUNCATE)")
        finally:
            raw.close()
        path = Path(store.engine.url.database)
        wal = path.with_name(path.name + "-wal")
        return path.stat().st_size + (wal.stat().st_size if wal.exists() else 0)
    with store.engine.begin() as conn:
        return int(conn.execute(sa.text("SELECT pg_database_size(current_database())")).scalar())


def ingest_rounds(store, screens: int, messages: int, rounds: int, folder: Path) -> tuple[list[float], int]:
    """Catch-up rate: the replay is queued by the broker for the dashboard's persistent
    session while it is away (as after a restart, or a fleet back from an outage), then
    the ingest connects and stores it all; timed from connect to the last commit, so the
    publisher's own speed does not count."""
    from signage.fleet.ingest import Ingest
    from signage.fleet.queries import counter_values

    # The dashboard's broker: a long queue for its session while it is away.
    broker, url = start_mosquitto(folder, "max_queued_messages 1000000\n")
    try:
        first = Ingest(store, url, client_id="bench-fleet").start()
        if not first.subscribed.wait(10):
            raise RuntimeError("the ingest did not subscribe")
        first.stop()
        rates, total = [], 0
        # Days that ended: the fleet accepts messages within a window of time around its clock.
        round_days = math.ceil(_minutes(screens, messages) / 1440)
        first_day = datetime.combine(date.today() - timedelta(days=rounds * round_days + 1), datetime.min.time())
        for round_ in range(rounds):
            batch = replay(screens, messages, first_day + timedelta(days=round_ * round_days), seed=round_)
            path = folder / "messages.tsv"
            path.write_bytes(b"".join(t.encode() + b"\t" + p + b"\n" for t, p in batch))
            target = counter_values(store.engine).get("stored", 0) + len(batch)
            subprocess.run([sys.executable, "-c", "import sys; from signage.cli.bench_fleet import "
                            "publish_file; publish_file(sys.argv[1], sys.argv[2])", url, str(path)], check=True)
            started = time.perf_counter()
            ingest = Ingest(store, url, client_id="bench-fleet").start()
            while counter_values(store.engine).get("stored", 0) < target:
                if not ingest.alive():
                    raise RuntimeError("the ingest stopped")
                time.sleep(0.01)
            rates.append(len(batch) / (time.perf_counter() - started))
            ingest.stop()
            total += len(batch)
        return rates, total
    finally:
        broker.terminate()
        broker.wait()


def seed_history(store, screens: int, days: int, last: date) -> None:
    """`days` of history up to `last` for N screens: their state, and rollups made by the
    store from SAMPLE_DAYS simulated screen-days, each repeated over screens and days."""
    from signage.fleet.demo import SimulatedFleet, encode
    from signage.fleet.parse import parse
    from signage.fleet.store.rollups import Sums, summed

    fleet = SimulatedFleet.numbered(screens, seed=1)
    store.write([parse(fleet.root, topic, encode(body)) for topic, body in fleet.states()])
    sample_day = datetime.combine(last, datetime.min.time())
    samples = SimulatedFleet.numbered(SAMPLE_DAYS, seed=2)
    items = [parse(samples.root, t, encode(b)) for t, b in samples.messages(sample_day, sample_day +
                                                                             timedelta(days=1))]
    sums = summed([i for i in items if i.kind == "metrics"], [i for i in items if i.kind == "play"])
    for n, screen in enumerate(fleet.screens):
        history = Sums()
        for back in range(days):
            sample = samples.screens[(n + back) % SAMPLE_DAYS]
            _copy(sums, (sample.site, sample.device), history, (screen.site, screen.device), timedelta(days=-back))
        with store.engine.begin() as conn:
            store.rollups.add(conn, history)


def _copy(sums, source: tuple[str, str], into, target: tuple[str, str], shift: timedelta) -> None:
    """Add the `source` screen's sums to `into`, as the `target` screen's, `shift` later."""
    for key, values in sums.hours.items():
        if key[:2] == source:
            for name, value in values.items():
                into.hours[target + (key[2] + shift,)][name] += value
    for key, value in sums.hour_expressions.items():
        if key[:2] == source:
            into.hour_expressions[target + (key[2] + shift, key[3])] += value
    for key, values in sums.days.items():
        if key[:2] == source:
            for name, value in values.items():
                into.days[target + (key[2] + shift, key[3])][name] += value
    for key, value in sums.day_expressions.items():
        if key[:2] == source:
            into.day_expressions[target + (key[2] + shift, *key[3:])] += value


def latencies(store, last: date, requests: int = 20) -> dict[str, list[float]]:
    import re

    from fastapi.testclient import TestClient

    from signage.fleet.demo import SimulatedFleet, encode
    from signage.fleet.parse import parse
    from signage.fleet.passwords import hash_password
    from signage.fleet.web import WebSettings, create_app

    # One screen-day of raw plays for the screen page.
    fleet = SimulatedFleet.numbered(1, seed=9)
    start = datetime.combine(last, datetime.min.time())
    day = [parse(fleet.root, t, encode(b)) for t, b in fleet.messages(start, start + timedelta(days=1))
           if t.endswith("/play")]
    for offset in range(0, len(day), 1000):
        store.write(day[offset:offset + 1000], now=start + timedelta(days=1))
    app = create_app(WebSettings(store=store, login_hash=hash_password("bench-password")))
    timings: dict[str, list[float]] = {"fleet page": [], "screen day": [], "30-day creatives": []}
    with TestClient(app) as client:
        found = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text)
        if found is None:
            raise RuntimeError("the login page has no login_token")
        token = found.group(1)
        client.post("/login", data={"password": "bench-password", "login_token": token})
        paths = {"fleet page": "/", "screen day": f"/screen/site0/screen000?day={last.isoformat()}",
                 "30-day creatives": f"/creatives?span=month&end={last.isoformat()}"}
        for _ in range(requests):
            for name, path in paths.items():
                began = time.perf_counter()
                response = client.get(path)
                timings[name].append(time.perf_counter() - began)
                if response.status_code != 200:
                    raise RuntimeError(f"{path}: HTTP {response.status_code}")
    app.state.writes.close()
    return timings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def postgresql(db: str | None) -> str:
    """The SQLAlchemy URL of the PostgreSQL database to measure, which must hold no fleet:
    the bench fills and empties it."""
    import sqlalchemy as sa

    from signage.fleet.database import database_url, describe

    if not db or not db.startswith(("postgresql://", "postgres://")):
        raise ConfigError("bench fleet on postgresql: give --db postgresql://user:pass@host/db, an empty database "
                          "the bench may fill and empty (SQLite it measures in files of its own)")
    url = database_url(db)
    engine = sa.create_engine(url)
    try:
        with engine.connect() as conn:
            tables = sa.inspect(conn).get_table_names()
            screens = conn.execute(sa.text("SELECT count(*) FROM screens")).scalar() if "screens" in tables else 0
    except sa.exc.SQLAlchemyError as exc:
        raise ConfigError(f"--db {describe(url)}: {str(exc).splitlines()[0]}") from None
    finally:
        engine.dispose()
    if screens or set(tables) - {"alembic_version"} - _fleet_tables():
        raise ConfigError(f"--db {describe(url)}: it is not empty ({len(tables)} tables, {screens} screens); give "
                          "an empty database: the bench fills and empties it")
    return url


def _fleet_tables() -> set[str]:
    from signage.fleet.tables import metadata

    return set(metadata.tables)


def _screen_day_messages() -> float:
    """A metrics message a minute, and the day's back-to-back plays of the simulated creatives."""
    from signage.fleet.demo import CREATIVES

    mean_seconds = sum(seconds for _, _, seconds in CREATIVES.values()) / len(CREATIVES)
    return 1440 + 24 * 3600 / mean_seconds


def _reset(store) -> None:
    """An empty fleet schema: every table dropped and made again."""
    store.migrate("base")
    store.migrate()


def exports(backends: list[str], postgres: str | None, plays: int) -> list[str]:
    """The export round (bench_export.py) on each backend, in a database of its own."""
    from signage.cli.bench_export import export_round
    from signage.fleet.database import database_url
    from signage.fleet.store import Store

    lines = [f"export: /export/plays.csv of {plays // 10:,} and {plays:,} plays through the app, 3 repeats"]
    for backend in backends:
        with tempfile.TemporaryDirectory(prefix="signage-bench-export-") as name:
            store = Store(postgres if backend == "postgresql" and postgres else
                          database_url(str(Path(name) / "fleet.sqlite3")), retention_days=36500)
            try:
                _reset(store)
                found, _ = export_round(store, plays)
            finally:
                if backend == "postgresql":
                    store.migrate("base")  # left as it was given: empty
                store.close()
        lines += [backend] + found
        print("\n".join(lines[-len(found) - 1:]), flush=True)
    return lines


def run(screens: list[int], backends: list[str], messages: int = 20000, rounds: int = 3,
        db: str | None = None, only: str | None = None, plays: int = 1_000_000) -> str:
    from signage.fleet.database import database_url
    from signage.fleet.store import Store

    postgres = postgresql(db) if "postgresql" in backends else None
    if only == "export":
        return "\n".join(["bench fleet, the export round only", ""] + exports(backends, postgres, plays))
    lines = [f"bench fleet: ingest {rounds} rounds of ~{messages} messages (compressed day replay of the simulated "
             "fleet: a metrics message every 60 s and back-to-back plays per screen) through Mosquitto; page "
             f"latency over {HISTORY_DAYS} days of history, 20 requests each", ""]
    header = (f"{'store':11}{'screens':>8}  {'ingest msg/s min/median/max':>30}  {'bytes/screen-day':>17}  "
              f"{'fleet p50/p95':>15}  {'screen day p50/p95':>19}  {'30-day creatives p50/p95':>25}")
    lines += [header, "-" * len(header)]
    verdicts = []
    for backend in backends:
        for n in screens:
            with tempfile.TemporaryDirectory(prefix="signage-bench-fleet-") as name:
                folder = Path(name)
                if backend == "sqlite":
                    url = database_url(str(folder / "fleet.sqlite3"))
                else:
                    assert postgres is not None  # made above for the backend postgresql
                    url = postgres
                store = Store(url, retention_days=36500)
                try:
                    _reset(store)
                    size0 = _db_size(store)
                    rates, total = ingest_rounds(store, n, messages, rounds, folder)
                    per_screen_day = (_db_size(store) - size0) / total * _screen_day_messages()
                    last = date.today() - timedelta(days=1)
                    _reset(store)
                    seed_history(store, n, HISTORY_DAYS, last)
                    timings = latencies(store, last)
                finally:
                    if backend == "postgresql":
                        store.migrate("base")  # left as it was given: empty
                    store.close()
                fleet, day, report = (timings[k] for k in ("fleet page", "screen day", "30-day creatives"))
                lines.append(
                    f"{backend:11}{n:>8}  {Spread.of(rates).format('6.0f'):>26}    "
                    f"{per_screen_day / 1e6:12.1f} MB  "
                    f"{_pct(fleet, .5) * 1000:5.0f} / {_pct(fleet, .95) * 1000:4.0f} ms  "
                    f"{_pct(day, .5) * 1000:8.0f} / {_pct(day, .95) * 1000:4.0f} ms  "
                    f"{_pct(report, .5) * 1000:13.0f} / {_pct(report, .95) * 1000:5.0f} ms")
                verdicts.append((backend, n, Spread.of(rates).median, _pct(fleet, .95), _pct(report, .95)))
                print(lines[-1], flush=True)
    lines.append("")
    lines.append(f"targets: ingest >= {TARGETS['ingest']:.0f} msg/s; with 500 screens x 30 days: fleet page p95 < "
                 f"{TARGETS['fleet_p95'] * 1000:.0f} ms, 30-day creatives p95 < {TARGETS['creatives_p95']:.0f} s")
    for backend, n, rate, fleet_p95, report_p95 in verdicts:
        ok_ingest = rate >= TARGETS["ingest"]
        ok_pages = n < 500 or (fleet_p95 < TARGETS["fleet_p95"] and report_p95 < TARGETS["creatives_p95"])
        lines.append(f"{backend:11}{n:>5} screens: ingest (median) {verdict(ok_ingest)}"
                     f"{'' if n < 500 else ', pages ' + verdict(ok_pages)}")
    return "\n".join(lines + [""] + exports(backends, postgres, plays))
