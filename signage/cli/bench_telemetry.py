"""`signage bench telemetry`: messages per second through the spool to Mosquitto,
against paho publishing the same messages without a spool, in the same run.

Each round sends a burst of `count` QoS 1 messages and stops the clock when the broker
has acknowledged all of them (and, through the spool, when they have been deleted from
it again: every message is written durably, fsync'd, before it is sent). Rounds
alternate the order of the two so drift cancels out; the report gives min/median/max
over the rounds of both rates and of their ratio (per round), and a verdict against
the targets: ratio >= 0.5 and >= 2,000 msg/s through the spool."""

from __future__ import annotations

import datetime as dt
import json
import tempfile
import threading
import time
from pathlib import Path

from signage.cli.bench_broker import start_mosquitto
from signage.cli.measure import Spread, verdict
from signage.config import MqttConfig, parse_broker_url
from signage.contributors import Contributions
from signage.telemetry.link import WINDOW
from signage.telemetry.metrics import Aggregator
from signage.telemetry.mqtt import Telemetry
from signage.telemetry.spool import Spool
from signage.wire.client import new_client
from signage.wire.messages import Metrics


def _message() -> dict:
    """A real metrics payload: an interval with plays of eight creatives."""
    start = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
    aggregator = Aggregator("bench", "d", now=start, t=0.0)
    crowd = Contributions(present={track: 5.0 for track in range(3)}, looking={track: 5.0 for track in range(3)})
    for i in range(8):
        for _ in range(3):
            aggregator.add_play(f"creative-{i}", crowd)
    message: Metrics = aggregator.flush(start + dt.timedelta(seconds=60), 60.0)
    return message.payload()


CONNECT_S = 10.0  # for the broker to accept the connection
DRAIN_S = 120.0  # for one round's messages to be acknowledged


def _raw_paho(url: str, count: int, payload: bytes) -> float:
    host, port, _ = parse_broker_url(url)
    connected, done, acked = threading.Event(), threading.Event(), [0]
    client = new_client(protocol="5")
    client.max_inflight_messages_set(WINDOW)

    def on_connect(c, u, flags, reason_code, p):
        if not reason_code.is_failure:
            connected.set()

    def on_publish(c, u, mid, rc, p):
        acked[0] += 1
        if acked[0] == count:
            done.set()

    client.on_connect = on_connect
    client.on_publish = on_publish
    try:
        client.connect(host, port)
    except OSError as exc:
        raise SystemExit(f"bench telemetry: cannot reach the broker {url}: {exc}") from exc
    client.loop_start()
    try:
        if not connected.wait(CONNECT_S):
            raise SystemExit(f"bench telemetry: the broker {url} did not accept a connection within {CONNECT_S:.0f} s")
        started = time.perf_counter()
        for _ in range(count):
            client.publish("bench/raw/metrics", payload, qos=1)
        if not done.wait(DRAIN_S):
            raise SystemExit(f"bench telemetry: the broker {url} acknowledged {acked[0]} of {count} messages "
                             f"within {DRAIN_S:.0f} s (paho without spool)")
        spent = time.perf_counter() - started
    finally:
        client.disconnect()
        client.loop_stop()
    return count / spent


def _spooled(url: str, count: int, message: dict, folder: Path) -> float:
    telemetry = Telemetry(MqttConfig(url=url), "bench", "d", Spool(folder / f"spool-{time.monotonic_ns()}.sqlite3"),
                          client_id=f"bench-{time.monotonic_ns()}")
    telemetry.start()
    try:
        deadline = time.monotonic() + CONNECT_S
        while not telemetry.connected:
            if time.monotonic() > deadline:
                raise SystemExit(f"bench telemetry: the broker {url} did not accept a connection within "
                                 f"{CONNECT_S:.0f} s ({telemetry.last_error or 'no answer'})")
            time.sleep(0.01)
        started = time.perf_counter()
        for _ in range(count):
            telemetry.send("metrics", message)
        deadline = time.monotonic() + DRAIN_S
        while True:
            health = telemetry.health()
            if not health.held and not health.spool_depth:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"bench telemetry: {health.held + health.spool_depth} of {count} messages not "
                                 f"acknowledged within {DRAIN_S:.0f} s (through the spool; broker {health.broker})")
            time.sleep(0.002)
        spent = time.perf_counter() - started
    finally:
        telemetry.stop(timeout=1)
    return count / spent


RATIO_TARGET, RATE_TARGET = 0.5, 2000.0


def run(count: int = 5000, rounds: int = 5, broker: str | None = None) -> str:
    message = _message()
    payload = json.dumps(message, separators=(",", ":")).encode()
    with tempfile.TemporaryDirectory(prefix="signage-bench-") as name:
        folder = Path(name)
        process, url = (None, broker) if broker else start_mosquitto(folder)
        try:
            raw, spooled = [], []
            for round_ in range(rounds):  # alternate the order so drift cancels out
                if round_ % 2:
                    spooled.append(_spooled(url, count, message, folder))
                    raw.append(_raw_paho(url, count, payload))
                else:
                    raw.append(_raw_paho(url, count, payload))
                    spooled.append(_spooled(url, count, message, folder))
        finally:
            if process:
                process.terminate()
                process.wait(timeout=10)
    ratios = Spread.of([s / r for s, r in zip(spooled, raw)])
    rates = Spread.of(spooled)
    return "\n".join([
        f"telemetry: {count} QoS 1 metrics messages of {len(payload)} bytes to Mosquitto on loopback, {rounds} rounds; "
        "spool: synchronous=FULL, group commit",
        "                       min / median / max",
        f"paho without spool     {Spread.of(raw).format('.0f')} msg/s",
        f"through the spool      {rates.format('.0f')} msg/s",
        f"ratio spool/paho       {ratios.format()}",
        f"target: ratio >= {RATIO_TARGET} (median): {verdict(ratios.median >= RATIO_TARGET)}",
        f"target: >= {RATE_TARGET:.0f} msg/s through the spool (median): {verdict(rates.median >= RATE_TARGET)}",
    ])
