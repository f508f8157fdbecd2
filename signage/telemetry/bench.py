"""`signage bench telemetry`: messages per second through the spool to Mosquitto,
against paho publishing the same messages without a spool, in the same run."""

from __future__ import annotations

import json
import shutil
import socket
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from signage.config import MqttConfig
from signage.telemetry.mqtt import WINDOW, Telemetry, broker_address
from signage.telemetry.spool import Spool

PAYLOAD = {"schema": 1, "id": "0" * 36, "site": "bench", "device": "d", "passers": 12, "viewers": 5,
           "impressions": {f"creative-{i}": {"plays": 3, "viewed": 1} for i in range(8)}}


def _raw_paho(url: str, count: int, payload: bytes) -> float:
    host, port, _ = broker_address(url)
    done, acked = threading.Event(), [0]
    client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
    client.max_inflight_messages_set(WINDOW)

    def on_publish(c, u, mid, rc, p):
        acked[0] += 1
        if acked[0] == count:
            done.set()

    client.on_publish = on_publish
    client.connect(host, port)
    client.loop_start()
    started = time.perf_counter()
    for _ in range(count):
        client.publish("bench/raw/metrics", payload, qos=1)
    done.wait(120)
    spent = time.perf_counter() - started
    client.disconnect()
    client.loop_stop()
    return count / spent


def _spooled(url: str, count: int, message: dict, folder: Path) -> float:
    telemetry = Telemetry(MqttConfig(url=url), "bench", "d", Spool(folder / f"spool-{time.monotonic_ns()}.sqlite3"),
                          client_id=f"bench-{time.monotonic_ns()}")
    telemetry.start()
    while not telemetry.connected:
        time.sleep(0.01)
    started = time.perf_counter()
    for _ in range(count):
        telemetry.send("metrics", message)
    while telemetry.spool.depth:
        time.sleep(0.002)
    spent = time.perf_counter() - started
    telemetry.stop(timeout=1)
    return count / spent


def _start_mosquitto(folder: Path) -> tuple[subprocess.Popen, str]:
    if shutil.which("mosquitto") is None:
        raise SystemExit("bench telemetry needs a broker: install mosquitto or pass --broker URL")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    (folder / "m.conf").write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\nuser root\n")
    process = subprocess.Popen(["mosquitto", "-c", str(folder / "m.conf")], stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            break
        except OSError:
            time.sleep(0.05)
    return process, f"mqtt://127.0.0.1:{port}"


def run(count: int = 5000, rounds: int = 3, broker: str | None = None) -> str:
    payload = json.dumps(PAYLOAD, separators=(",", ":")).encode()
    with tempfile.TemporaryDirectory(prefix="signage-bench-") as folder:
        folder = Path(folder)
        process, url = (None, broker) if broker else _start_mosquitto(folder)
        try:
            raw, spooled = [], []
            for round_ in range(rounds):  # alternate the order so drift cancels out
                if round_ % 2:
                    spooled.append(_spooled(url, count, PAYLOAD, folder))
                    raw.append(_raw_paho(url, count, payload))
                else:
                    raw.append(_raw_paho(url, count, payload))
                    spooled.append(_spooled(url, count, PAYLOAD, folder))
        finally:
            if process:
                process.terminate()
    raw_rate, spool_rate = statistics.median(raw), statistics.median(spooled)
    return "\n".join([
        f"telemetry: {count} QoS 1 messages of {len(payload)} bytes to Mosquitto on loopback, median of {rounds}",
        f"paho without spool   {raw_rate:9.0f} msg/s",
        f"through the spool    {spool_rate:9.0f} msg/s   (ratio {spool_rate / raw_rate:.2f})",
        "targets: ratio >= 0.5 and >= 2000 msg/s through the spool",
    ])
