"""`signage bench fleet`: ingest rate, database size per screen-day and page latency, on
SQLite and PostgreSQL, for N simulated screens.

- Ingest: N screens replay a compressed stretch of a day (a metrics message per minute,
  a play every ~10 s each) through a local Mosquitto, queued for the dashboard's
  persistent session; messages/s from the ingest connecting to the last row committed.
- Size: database growth per ingested message, scaled to a screen-day (1,440 metrics +
  8,640 plays).
- Latency: 30 days of rollups for N screens (seeded directly into the rollup tables) and
  one screen-day of raw plays; p50/p95 of the fleet page, a screen's day page and the
  30-day creatives report, through the real app (in process, logged in).
"""

from __future__ import annotations

import json
import math
import random
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import date, datetime, timedelta
from pathlib import Path

from signage.cli.bench_broker import start_mosquitto
from signage.cli.measure import Spread, verdict

TARGETS = {"ingest": 5000.0, "fleet_p95": 0.300, "creatives_p95": 1.0}
CREATIVES = [f"creative-{i:02d}" for i in range(10)]
EXPRESSIONS = ["happy", "neutral", "surprise", "sad"]


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def replay(screens: int, minutes: int, start: datetime, seed: int = 0) -> list[tuple[str, bytes]]:
    """N screens, `minutes` of a day, in time order across screens."""
    rng = random.Random(seed)
    out = []
    for minute in range(minutes):
        t = start + timedelta(minutes=minute)
        for n in range(screens):
            site, device = f"site{n % 10}", f"screen{n:03d}"
            root = f"signage/{site}/{device}"
            passers = rng.randint(0, 12)
            viewers = rng.randint(0, passers)
            mix = ({e: rng.randint(0, viewers) for e in EXPRESSIONS} if viewers >= 3 else {"suppressed": True})
            metrics = {"site": site, "device": device, "id": str(uuid.uuid4()), "start": _iso(t),
                       "end": _iso(t + timedelta(minutes=1)),
                       "passers": passers if passers >= 3 else None, "viewers": viewers if viewers >= 3 else None,
                       "conversion": viewers / passers if passers >= 3 else None,
                       "attraction": 0.3 if passers >= 3 else None,
                       "peak_faces": min(passers, 5) if passers >= 3 else None, "distance": {"near": passers // 3, "mid": passers // 3,
                                                                   "far": passers - 2 * (passers // 3)},
                       "dwell": {"buckets": ["0-1", "1-3", "3+"], "counts": [1, 1, 1]},
                       "attention": {"buckets": ["0-1", "1-3", "3+"], "counts": [1, 1, 1]},
                       "expressions": mix, "impressions": {}, "frames": 600, "dropped_frames": 0,
                       "inference_ms": {"p50": 12.0, "p95": 20.0}}
            out.append((f"{root}/metrics", json.dumps(metrics).encode()))
            for k in range(6):
                begin = t + timedelta(seconds=10 * k)
                viewers_at_once = rng.randint(0, 4)
                looking = round(rng.uniform(0, 8), 2) if viewers_at_once else 0.0  # consistent, as a kiosk sends
                play = {"site": site, "device": device, "id": str(uuid.uuid4()), "creative": rng.choice(CREATIVES),
                        "rule": "default", "start": _iso(begin), "end": _iso(begin + timedelta(seconds=10)),
                        "seconds": 10.0, "ended": "duration", "peak_faces": 2, "mean_faces": 1.0,
                        "peak_viewers": viewers_at_once, "looking_seconds": looking,
                        "expressions": ({"happy": looking / 2, "neutral": looking / 2} if rng.random() < 0.5
                                        else {"suppressed": True})}
                out.append((f"{root}/play", json.dumps(play).encode()))
    return out


def publish_file(url: str, path: str) -> None:
    """Child process: publish every `topic\\tpayload` line with QoS 1, wait for all PUBACKs."""
    from signage.telemetry.client import new_client
    from signage.telemetry.mqtt import broker_address

    host, port, _ = broker_address(url)
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
        minutes = max(1, math.ceil(messages / (screens * 7)))
        # Days that ended: the fleet accepts messages within a window of time around its clock.
        days_back = rounds + math.ceil(minutes / 1440) + 1
        first_day = datetime.combine(date.today() - timedelta(days=days_back), datetime.min.time())
        for round_ in range(rounds):
            batch = replay(screens, minutes, first_day + timedelta(days=round_), seed=round_)
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


def seed_rollups(store, screens: int, days: int, last: date, seed: int = 1) -> None:
    """`days` of rollups for N screens, straight into the rollup tables."""
    import sqlalchemy as sa

    from signage.fleet.tables import (creative_day_expressions, creative_days, creative_site_day_expressions,
                                      creative_site_days, screen_hours, screens as screen_table)

    rng = random.Random(seed)
    first = last - timedelta(days=days - 1)
    with store.engine.begin() as conn:
        conn.execute(sa.insert(screen_table), [
            {"site": f"site{n % 10}", "device": f"screen{n:03d}", "availability": "online" if n % 17 else "offline",
             "availability_since": datetime(2026, 1, 1), "last_seen": datetime(2026, 1, 1), "camera": "ok",
             "display": "ok", "broker": "connected", "playlist": "ok", "privacy": False, "spool_depth": 0,
             "version": "0.1.0", "updated_at": datetime(2026, 1, 1)} for n in range(screens)])
    for n in range(screens):
        site, device = f"site{n % 10}", f"screen{n:03d}"
        hours, days_rows, expressions = [], [], []
        for d in range(days):
            day = first + timedelta(days=d)
            for h in range(24):
                hours.append({"site": site, "device": device, "hour": datetime.combine(day, datetime.min.time())
                              + timedelta(hours=h), "intervals": 60, "passers": rng.randint(0, 300),
                              "viewers": rng.randint(0, 100), "viewers_unbroken": 5, "peak_faces": 4,
                              "frames": 36000, "dropped_frames": 0, "plays": 360, "play_seconds": 3600.0,
                              "looking_seconds": rng.uniform(0, 900)})
            for creative in CREATIVES:
                days_rows.append({"site": site, "device": device, "day": day, "creative": creative, "plays": 864,
                                  "seconds": 8640.0, "viewed_plays": 300, "peak_viewers": 500,
                                  "looking_seconds": 1800.0, "looking_squares": 9000.0, "suppressed_plays": 400,
                                  "expressed_seconds": 1000.0})
                for expression in EXPRESSIONS:
                    expressions.append({"site": site, "device": device, "day": day, "creative": creative,
                                        "expression": expression, "seconds": rng.uniform(0, 250)})
        with store.engine.begin() as conn:
            conn.execute(sa.insert(screen_hours), hours)
            conn.execute(sa.insert(creative_days), days_rows)
            conn.execute(sa.insert(creative_day_expressions), expressions)
    # The per-site rollups, summed from the per-screen ones (as migration 0002 does).
    with store.engine.begin() as conn:
        for screen_table_, site_table in ((creative_days, creative_site_days),
                                          (creative_day_expressions, creative_site_day_expressions)):
            keys = [c for c in screen_table_.primary_key.columns if c.name != "device"]
            values = [c for c in screen_table_.columns if not c.primary_key]
            conn.execute(site_table.insert().from_select(
                [c.name for c in keys + values],
                sa.select(*keys, *[sa.func.sum(c) for c in values]).group_by(*keys)))


def latencies(store, last: date, requests: int = 20) -> dict[str, list[float]]:
    import re

    from fastapi.testclient import TestClient

    from signage.fleet.parse import parse
    from signage.fleet.passwords import hash_password
    from signage.fleet.web import WebSettings, create_app

    # One screen-day of raw plays for the screen page.
    start = datetime.combine(last, datetime.min.time())
    day = [parse("signage", t, p) for t, p in replay(1, 24 * 60, start, seed=9) if t.endswith("/play")]
    for offset in range(0, len(day), 1000):
        store.write(day[offset:offset + 1000], now=start + timedelta(days=1))
    app = create_app(WebSettings(store=store, login_hash=hash_password("bench-password")))
    timings: dict[str, list[float]] = {"fleet page": [], "screen day": [], "30-day creatives": []}
    with TestClient(app) as client:
        token = re.search(r'name="login_token" value="([^"]+)"', client.get("/login").text).group(1)
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
    return timings


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def run(screens: list[int], backends: list[str], messages: int = 20000, rounds: int = 3) -> str:
    from signage.fleet.database import database_url
    from signage.fleet.store import Store
    from signage.fleet.tempdb import TempPostgres

    lines = [f"bench fleet: ingest {rounds} rounds of ~{messages} messages (compressed day replay, "
             "metrics every 60 s and a play every 10 s per screen) through Mosquitto; page latency over "
             "30 days of rollups, 20 requests each", ""]
    header = (f"{'store':11}{'screens':>8}  {'ingest msg/s min/median/max':>30}  {'bytes/screen-day':>17}  "
              f"{'fleet p50/p95':>15}  {'screen day p50/p95':>19}  {'30-day creatives p50/p95':>25}")
    lines += [header, "-" * len(header)]
    verdicts = []
    postgres = TempPostgres().start() if "postgresql" in backends else None
    try:
        for backend in backends:
            for n in screens:
                with tempfile.TemporaryDirectory(prefix="signage-bench-fleet-") as folder:
                    folder = Path(folder)
                    url = (str(folder / "fleet.sqlite3") if backend == "sqlite"
                           else postgres.create_database(f"bench_{n}_{int(time.time())}"))
                    store = Store(database_url(url), retention_days=36500)
                    store.migrate()
                    size0 = _db_size(store)
                    rates, total = ingest_rounds(store, n, messages, rounds, folder)
                    per_message = (_db_size(store) - size0) / total
                    per_screen_day = per_message * (1440 + 8640)
                    last = date.today() - timedelta(days=1)
                    _clear(store)
                    seed_rollups(store, n, 30, last)
                    timings = latencies(store, last)
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
    finally:
        if postgres:
            postgres.stop()
    lines.append("")
    lines.append(f"targets: ingest >= {TARGETS['ingest']:.0f} msg/s; with 500 screens x 30 days: fleet page p95 < "
                 f"{TARGETS['fleet_p95'] * 1000:.0f} ms, 30-day creatives p95 < {TARGETS['creatives_p95']:.0f} s")
    for backend, n, rate, fleet_p95, report_p95 in verdicts:
        ok_ingest = rate >= TARGETS["ingest"]
        ok_pages = n < 500 or (fleet_p95 < TARGETS["fleet_p95"] and report_p95 < TARGETS["creatives_p95"])
        lines.append(f"{backend:11}{n:>5} screens: ingest (median) {verdict(ok_ingest)}"
                     f"{'' if n < 500 else ', pages ' + verdict(ok_pages)}")
    return "\n".join(lines)


def _clear(store) -> None:
    """Empty the tables the latency seeding fills (the ingest rounds wrote into them)."""
    import sqlalchemy as sa

    from signage.fleet.tables import metadata

    with store.engine.begin() as conn:
        for table in reversed(metadata.sorted_tables):
            conn.execute(sa.delete(table))
