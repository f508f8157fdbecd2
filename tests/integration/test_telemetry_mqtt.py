"""Telemetry against a real Mosquitto on loopback, with a separate subscriber."""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import time

import pytest

from signage.config import MqttConfig, TlsConfig
from signage.modelfiles import PROJECT_ROOT
from signage.telemetry.link import WINDOW
from signage.telemetry.mqtt import Telemetry
from signage.telemetry.spool import Spool
from signage.wire.commands import Command, CommandRejected
from signage.wire.homeassistant import COMMON, REQUIRED
from signage.wire.messages import Metrics
from tests.subscriber import Subscriber
from tests.support.telemetry import metrics_payload, received_in_order
from tests.support.waiting import wait_for

ROOT = "signage/lab/kiosk-1"


def telemetry(url, tmp_path, name="spool.sqlite3", **config):
    made = Telemetry(MqttConfig(url=url, keepalive=5, **config), "lab", "kiosk-1", Spool(tmp_path / name))
    made.start()
    return made


def test_round_trip_schema_qos_and_retained_status(broker, tmp_path):
    subscriber = Subscriber(broker.url, "signage/#")
    device = telemetry(broker.url, tmp_path)
    try:
        wait_for(lambda: device.connected, "the link up")
        device.set_status({"device": "kiosk-1", "playing": "welcome"})
        device.send("metrics", metrics_payload(1))
        metrics = subscriber.wait_for(lambda m: m.topic == f"{ROOT}/metrics")
        assert metrics.qos == 1
        Metrics.model_validate(metrics.json())
        online = subscriber.wait_for(lambda m: m.topic == f"{ROOT}/available")
        assert online.payload == b"online"
        wait_for(lambda: device.spool.depth == 0, "the spool drained")
        # A client that connects later still gets the retained status and availability.
        late = Subscriber(broker.url, f"{ROOT}/#")
        status = late.wait_for(lambda m: m.topic == f"{ROOT}/status")
        assert status.retain and status.json()["playing"] == "welcome"
        assert late.wait_for(lambda m: m.topic == f"{ROOT}/available").retain
        late.close()
    finally:
        device.stop()
        subscriber.close()
    stopped = Subscriber(broker.url, f"{ROOT}/available")
    assert stopped.wait_for(lambda m: True).payload == b"stopped"
    stopped.close()


def test_last_will_says_offline_when_the_process_is_killed(broker, tmp_path):
    subscriber = Subscriber(broker.url, f"{ROOT}/available")
    process = subprocess.Popen([sys.executable, "-m", "tests.telemetry_process", broker.url,
                                str(tmp_path / "spool.sqlite3")], cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "connected"
        subscriber.wait_for(lambda m: m.payload == b"online")
        os.kill(process.pid, signal.SIGKILL)
        process.wait()
        subscriber.wait_for(lambda m: m.payload == b"offline", timeout=15)
        retained = Subscriber(broker.url, f"{ROOT}/available")
        assert retained.wait_for(lambda m: True).payload == b"offline"
        retained.close()
    finally:
        if process.poll() is None:
            process.kill()
        subscriber.close()


def test_outage_loses_nothing_and_keeps_order(broker, tmp_path):
    subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id="fleet", persistent=True)  # SUBACK'd
    device = telemetry(broker.url, tmp_path)
    try:
        wait_for(lambda: device.connected, "the link up")
        broker.stop()
        wait_for(lambda: not device.connected, "the link down")
        for i in range(1000):
            device.send("metrics", metrics_payload(i))
        assert device.flush() and device.spool.depth == 1000
        broker.start()
        ids = received_in_order(subscriber, 1000)
        assert ids == [f"msg-{i:04d}" for i in range(1000)]
        wait_for(lambda: device.spool.depth == 0, "the spool drained")
        duplicates = len(subscriber.on("/metrics")) - 1000
        assert duplicates <= WINDOW, "only what was in flight at the reconnect may come twice"
    finally:
        device.stop()
        subscriber.close()


def test_outage_and_a_controller_restart_lose_nothing(broker, tmp_path):
    subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id="fleet-2", persistent=True)
    broker.stop()
    first = telemetry(broker.url, tmp_path)  # never connects
    for i in range(1000):
        first.send("metrics", metrics_payload(i))
    first.stop(timeout=0.1)  # the controller restarts with a full spool
    first.spool.close()
    broker.start()
    second = telemetry(broker.url, tmp_path)
    try:
        ids = received_in_order(subscriber, 1000)
        assert ids == [f"msg-{i:04d}" for i in range(1000)]
        wait_for(lambda: second.spool.depth == 0, "the second kiosk's spool drained")
    finally:
        second.stop()
        subscriber.close()


def test_tls_with_a_password(tls_broker, tmp_path):
    broker, ca = tls_broker(password=("kiosk", "s3cret"))
    device = telemetry(broker.url, tmp_path, username="kiosk", password="s3cret", tls=TlsConfig(ca=str(ca)))
    try:
        wait_for(lambda: device.connected, "the link up")
        device.send("metrics", metrics_payload(7))
        wait_for(lambda: device.spool.depth == 0, "the spool drained")
        assert device.last_error is None
    finally:
        device.stop()


def test_wrong_password_is_a_clear_error_and_retries(tls_broker, tmp_path, caplog):
    broker, ca = tls_broker(password=("kiosk", "s3cret"))
    device = telemetry(broker.url, tmp_path, username="kiosk", password="wrong", tls=TlsConfig(ca=str(ca)))
    try:
        wait_for(lambda: device.last_error is not None, "a link error")
        assert "refused the connection" in device.last_error
        assert "password" in device.last_error.lower() or "authori" in device.last_error.lower()
        device.send("metrics", metrics_payload(1))
        time.sleep(2.5)  # paho keeps retrying with backoff; nothing crashes, the message waits
        assert device.flush() and not device.connected and device.spool.depth == 1
        assert device.client.is_connected() is False
        assert "s3cret" not in caplog.text and "wrong" not in caplog.text, "no secret in the logs"
    finally:
        device.stop(timeout=0.1)


def test_home_assistant_discovery(broker, tmp_path):
    from signage.wire.homeassistant import discovery

    subscriber = Subscriber(broker.url, "homeassistant/#")
    device = telemetry(broker.url, tmp_path)
    try:
        for topic, payload in discovery(device.root, "lab", "kiosk-1", "0.1.0").items():
            device.publish_retained(topic, payload)
        wait_for(lambda: len(subscriber.messages) >= 6, "six messages")
        late = Subscriber(broker.url, "homeassistant/#")  # sees what is retained
        wait_for(lambda: len(late.messages) >= 6, "six messages for the late subscriber")
        assert all(m.retain for m in late.messages)
        late.close()
        unique = set()
        for message in subscriber.messages:
            component = message.topic.split("/")[1]
            config = message.json()
            assert REQUIRED[component] | COMMON <= set(config), f"{message.topic} lacks required fields"
            assert config["device"]["identifiers"] == ["signage_lab_kiosk-1"]
            unique.add(config["unique_id"])
        assert len(unique) == 6
        kinds = {m.topic.split("/")[1] for m in subscriber.messages}
        assert kinds == {"sensor", "binary_sensor", "switch"}
    finally:
        device.stop()
        subscriber.close()


def hostile_payloads(count: int, seed: int = 1):
    rng = random.Random(seed)
    samples = [b"", b"on", b"off", b"ON ", b"Off", b"1", b"true", b"null", b"{", b'{"value": 1}',
               b'{"value":"ON","x":1}', b"[]", b'["ON"]', b"\xff\xfe\xfd", b"RELOAD\x00", b"A" * 5000,
               b'"../../etc/passwd"', b"welcome; rm -rf /",
               "ÖN".encode(), b'{"value": {"$ne": null}}']
    features = ["privacy", "playlist", "creative", "bogus", "", "privacy/extra", "..", "PRIVACY", "creative "]
    for i in range(count):
        if i < len(samples) * 3:
            payload = samples[i % len(samples)]
        else:
            payload = bytes(rng.randrange(256) for _ in range(rng.randrange(0, 64)))
        feature = features[i % len(features)]
        if feature == "creative" and payload.strip() and payload.decode("utf-8", "ignore").isalnum():
            payload = b"../" + payload  # keep it invalid: a path is never a creative id
        yield feature, payload


def test_hostile_commands_change_nothing(broker, tmp_path):
    """Every one refused with a reason, and the refusals told at a bounded cost: a few one
    by one, the rest as one count (sent at the latest when the link stops)."""
    from signage.config import CommandsConfig
    from signage.telemetry.refusals import BURST

    accepted: list[Command] = []

    def on_command(command: Command) -> str:
        if command.feature == "creative" and command.value != "welcome":
            raise CommandRejected(f"unknown creative {command.value!r}")
        accepted.append(command)
        return command.value

    config = MqttConfig(url=broker.url, keepalive=5, commands=CommandsConfig(accept_unsigned=True))
    device = Telemetry(config, "lab", "kiosk-1", Spool(tmp_path / "s.sqlite3"), on_command=on_command)
    device.start()
    errors = Subscriber(broker.url, f"{ROOT}/error")
    states = Subscriber(broker.url, f"{ROOT}/+/state")
    sender = Subscriber(broker.url, "nothing/here")
    try:
        wait_for(lambda: device.connected, "the link up")
        time.sleep(0.3)
        sent = 0
        for feature, payload in hostile_payloads(240):
            sender.client.publish(f"{ROOT}/{feature}/set", payload, qos=1)
            sent += "/" not in feature  # deeper topics are not command topics: never delivered
        assert sent >= 200
        # ... and a valid command still works afterwards
        sender.client.publish(f"{ROOT}/privacy/set", b"ON", qos=1)
        state = states.wait_for(lambda m: m.topic == f"{ROOT}/privacy/state", timeout=30)
        assert state.payload == b"ON" and accepted == [Command("privacy", "ON")]
        assert [m.topic for m in states.messages] == [f"{ROOT}/privacy/state"], "nothing else changed"
        assert len(errors.messages) == BURST, "a few refusals told one by one, the rest held back"
        reasons = [json.loads(m.payload)["error"] for m in errors.messages]
        assert all(reasons), "each refusal says why"
        assert device.client.is_connected() and device.alive()
        late = Subscriber(broker.url, f"{ROOT}/privacy/state")
        assert late.wait_for(lambda m: True).retain, "the state echo is retained"
        late.close()
    finally:
        device.stop()
    try:
        summary = errors.wait_for(lambda m: b"more commands" in m.payload)
        held = int(re.search(r"refused ([\d,]+) more commands", summary.json()["error"]).group(1).replace(",", ""))
        assert BURST + held == sent, "every refusal is counted"
        assert len(errors.messages) == BURST + 1
    finally:
        for client in (errors, states, sender):
            client.close()


def test_bench_telemetry_reports_the_spread_and_a_verdict(broker):
    """The report's shape, not its figures: timing claims live in the bench, not in tests."""
    from signage.cli.bench_telemetry import run

    report = run(count=100, rounds=5, broker=broker.url).splitlines()
    assert "5 rounds" in report[0] and "synchronous=FULL" in report[0]
    assert "min / median / max" in report[1]
    for line in report[2:5]:
        (spread,) = re.findall(r"([\d.]+) / ([\d.]+) / ([\d.]+)", line)
        low, median, high = map(float, spread)
        assert 0 < low <= median <= high
    assert report[5].endswith(("met", "MISSED")) and "ratio >= 0.5" in report[5]  # cli/measure.py's verdict
    assert report[6].endswith(("met", "MISSED")) and "2000 msg/s" in report[6]


@pytest.mark.parametrize("broker_kind", ["refuses the connection", "accepts TCP and never answers"])
def test_bench_telemetry_fails_clearly_when_the_broker_never_connects(broker_kind, monkeypatch):
    import socket

    from signage.cli import bench_telemetry

    monkeypatch.setattr(bench_telemetry, "CONNECT_S", 0.5)
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        port = silent.getsockname()[1]
        if broker_kind == "accepts TCP and never answers":
            silent.listen(8)  # the kernel completes the handshake; nobody ever sends a CONNACK
        with pytest.raises(SystemExit) as raised:
            bench_telemetry.run(count=10, rounds=1, broker=f"mqtt://127.0.0.1:{port}")
    message = str(raised.value)
    assert message.startswith("bench telemetry:") and f"127.0.0.1:{port}" in message
    assert "cannot reach" in message or "did not accept a connection" in message
