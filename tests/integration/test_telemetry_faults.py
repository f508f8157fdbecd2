"""Telemetry under faults, against a real Mosquitto and a real full disk (a tmpfs of its
own): disk full with acknowledgements in flight, stop and SIGTERM while the disk is
full, damaged spool files (the gallery in tests/hostile/spools.py) at open and while
running, a pump that meets an unexpected exception, retained commands, the final status."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import signal
import subprocess
import sys
import threading

import pytest

from signage.config import MqttConfig
from signage.modelfiles import PROJECT_ROOT
from signage.telemetry.mqtt import Telemetry
from signage.telemetry.spool import Spool
from signage.wire.messages import Error, Status
from tests.disks import fill
from tests.hostile import spools
from tests.subscriber import Subscriber
from tests.support.telemetry import metrics_payload, received_in_order, subscribed
from tests.support.waiting import wait_for

ROOT = "signage/lab/kiosk-1"


def device_on(url: str, spool, **kwargs) -> Telemetry:
    made = Telemetry(MqttConfig(url=url, keepalive=5), "lab", "kiosk-1", spool, **kwargs)
    made.start()
    return made


def ids_of(count: int, start: int = 0) -> list[str]:
    return [f"msg-{i:04d}" for i in range(start, start + count)]


def test_disk_full_with_acks_in_flight_loses_nothing_and_recovers(broker, small_disk, caplog):
    caplog.set_level(logging.INFO)
    subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id="fleet-full", persistent=True)
    subscribed(subscriber, broker.url)
    broker.stop()
    device = device_on(broker.url, small_disk / "spool.sqlite3")
    try:
        for i in range(40):  # spooled while the broker is away
            device.send("metrics", metrics_payload(i))
        assert device.flush() and device.spool.depth == 40
        filler = fill(small_disk)
        for i in range(40, 80):  # the disk cannot take these: held in memory
            device.send("metrics", metrics_payload(i))
        wait_for(lambda: device.health().spool == "disk full", "spool: disk full")
        assert device.health().held == 40
        broker.start()
        # The broker acknowledges the 40 spooled rows; deleting them needs the disk:
        # the acks wait, the held messages go out straight from memory meanwhile.
        ids = received_in_order(subscriber, 80)
        assert [i for i in ids if i != "probe"] == ids_of(80)
        health = device.health()
        assert device.alive() and health.spool == "disk full"
        assert device.spool.depth == 40, "all 80 received, the 40 spooled rows not yet deleted: nothing lost"
        assert health.problem.startswith("spool: disk full") and health.spool_dropped == 0
        filler.unlink()  # space again
        wait_for(lambda: device.health().spool == "ok" and device.health().held == 0 and device.spool.depth == 0,
                 "the spool writable and drained", timeout=30)
        assert device.health().problem is None
        device.send("metrics", metrics_payload(80))
        assert [i for i in received_in_order(subscriber, 82) if i != "probe"] == ids_of(81)
    finally:
        device.stop()
        subscriber.close()
    assert "the spool accepts messages again" in caplog.text
    assert sum("cannot be written" in r.message for r in caplog.records) == 1, "one line per state change"
    assert not [r for r in caplog.records if r.exc_info], "no traceback"


def test_stop_while_the_disk_is_full_publishes_what_is_held(broker, small_disk, caplog):
    subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id="fleet-stop", persistent=True)
    subscribed(subscriber, broker.url)
    device = device_on(broker.url, small_disk / "spool.sqlite3")
    wait_for(lambda: device.connected, "the link up")
    fill(small_disk)
    for i in range(60):
        device.send("metrics", metrics_payload(i))
    device.stop(timeout=10)  # the disk is still full
    assert [i for i in received_in_order(subscriber, 61) if i != "probe"] == ids_of(60)
    assert "lost" not in caplog.text
    subscriber.close()


def test_stop_while_the_disk_is_full_and_no_broker_keeps_trying_the_spool(broker, small_disk, caplog):
    broker.stop()
    path = small_disk / "spool.sqlite3"
    device = device_on(broker.url, path)
    device.send("metrics", metrics_payload(0))
    assert device.flush()
    filler = fill(small_disk)
    for i in range(1, 30):
        device.send("metrics", metrics_payload(i))
    wait_for(lambda: device.health().spool == "disk full", "spool: disk full")

    def free_space_once_stopping():
        wait_for(lambda: device._pump.stopping, "the pump stopping")  # noqa: SLF001 - acts during stop()
        filler.unlink()

    helper = threading.Thread(target=free_space_once_stopping)
    helper.start()
    device.stop(timeout=20)
    helper.join()
    spool = Spool(path)
    assert [json.loads(m.payload)["id"] for m in spool.oldest(100)] == ids_of(30), "all saved, in order"
    spool.close()
    assert "lost" not in caplog.text


def test_stop_that_cannot_save_says_how_many_are_lost(broker, small_disk, caplog):
    broker.stop()
    device = device_on(broker.url, small_disk / "spool.sqlite3")
    device.send("metrics", metrics_payload(0))
    assert device.flush()
    fill(small_disk)
    for i in range(1, 13):
        device.send("metrics", metrics_payload(i))
    device.stop(timeout=1.0)
    assert "12 telemetry messages could not be saved (disk full) and are lost" in caplog.text


def test_sigterm_with_a_full_disk_from_the_start(broker, small_disk):
    """No room even to create the spool: messages are held and sent from memory; SIGTERM
    is a clean exit that loses none of them."""
    subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id="fleet-sigterm", persistent=True)
    subscribed(subscriber, broker.url)
    fill(small_disk)
    process = subprocess.Popen([sys.executable, "-m", "tests.telemetry_process", broker.url,
                                str(small_disk / "spool.sqlite3"), "25"], cwd=PROJECT_ROOT,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)})
    try:
        assert process.stdout.readline().strip() == "connected"
        ids = received_in_order(subscriber, 26)
        assert [i for i in ids if i != "probe"] == [f"m-{i}" for i in range(25)]
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        stderr = process.stderr.read()
        assert "Traceback" not in stderr and "holding messages in memory" in stderr and "lost" not in stderr, stderr
    finally:
        if process.poll() is None:
            process.kill()
        subscriber.close()
    available = Subscriber(broker.url, f"{ROOT}/available")
    assert available.wait_for(lambda m: True).payload == b"stopped"
    available.close()


MINIMUM_RECOVERED = {"truncated": 0.45, "garbage_header": 1.0, "garbage_middle": 0.99}


@pytest.mark.parametrize("kind", spools.KINDS)
def test_a_damaged_spool_is_moved_aside_and_its_readable_rows_delivered(kind, broker, tmp_path, caplog):
    folder = tmp_path / "spool"
    folder.mkdir()
    path = folder / "spool.sqlite3"
    written = spools.make(kind, path)
    damaged = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id=f"fleet-{kind}", persistent=True)
    subscribed(subscriber, broker.url)
    device = device_on(broker.url, path)
    try:
        health = device.health()
        aside = [p for p in folder.iterdir() if ".corrupt-" in p.name and not p.name.endswith(("-wal", "-shm"))]
        if kind == "zero_length":  # an empty file is a valid, empty database
            assert health.spool == "ok" and not aside
        else:
            assert health.spool.startswith("recovered:") and len(aside) == 1
            if damaged:
                assert hashlib.sha256(aside[0].read_bytes()).hexdigest() == damaged, "kept as it was, for forensics"
            else:
                assert aside[0].is_dir()
        expected = round(len(written) * MINIMUM_RECOVERED.get(kind, 0))
        recovered = device.spool.depth
        assert recovered >= expected
        device.send("metrics", {"id": "after-recovery"})
        ids = [i for i in received_in_order(subscriber, recovered + 2) if i != "probe"]
        assert ids[-1] == "after-recovery", "new messages come after the recovered ones"
        assert ids[:-1] == [i for i in written if i in set(ids)], "recovered rows in their order, nothing invented"
        wait_for(lambda: device.spool.depth == 0, "the spool drained")
    finally:
        device.stop()
        subscriber.close()
    assert sum("was damaged" in r.message for r in caplog.records) == (0 if kind == "zero_length" else 1)


def test_a_spool_damaged_while_running_is_rebuilt_and_drained(broker, tmp_path):
    path = tmp_path / "spool.sqlite3"
    written = spools.good_spool(path, count=12000)  # more than SQLite's page cache holds
    broker.stop()
    device = device_on(broker.url, path)
    subscriber = None
    try:
        assert device.health().spool == "ok"
        data = bytearray(path.read_bytes())
        start = (len(data) // spools.PAGE // 10) * spools.PAGE  # a page early in the file
        with open(path, "r+b") as handle:
            handle.seek(start)
            handle.write(os.urandom(spools.PAGE))
        broker.start()
        subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id="fleet-running", persistent=True)
        wait_for(lambda: device.health().spool.startswith("recovered:"), "spool: recovered", timeout=30)
        recovered = device.health()
        assert device.alive() and recovered.pump_errors == 0
        wait_for(lambda: device.spool.depth == 0, "the spool drained", timeout=120)
        ids = [i for i in received_in_order(subscriber, 11900, timeout=120)]
        assert ids == [i for i in written if i in set(ids)], "in order"
        assert len(ids) >= 12000 - 60, "only the rows of the damaged page are lost"
    finally:
        device.stop()
        if subscriber:
            subscriber.close()


def test_the_pump_survives_an_unexpected_exception(broker, tmp_path, caplog):
    subscriber = Subscriber(broker.url, f"{ROOT}/metrics", client_id="fleet-bug", persistent=True)
    subscribed(subscriber, broker.url)
    spool = Spool(tmp_path / "spool.sqlite3")
    real_oldest, failures = spool.oldest, []

    def oldest(limit, after=0):
        if len(failures) < 3:
            failures.append(1)
            raise RuntimeError("injected bug in the pump")
        return real_oldest(limit, after)

    spool.oldest = oldest  # the hook: the spool's reader fails three times
    device = device_on(broker.url, spool)
    try:
        for i in range(50):
            device.send("metrics", metrics_payload(i))
        ids = [i for i in received_in_order(subscriber, 51) if i != "probe"]
        assert ids == ids_of(50)
        assert device.alive(stale=60) and device.health().pump_errors == 3
        wait_for(lambda: device.health().problem is None, "no problem in health")
    finally:
        device.stop()
        subscriber.close()
    tracebacks = [r for r in caplog.records if r.exc_info]
    assert len(tracebacks) == 1 and "injected bug" in str(tracebacks[0].exc_info[1]), "logged once, with traceback"


def test_a_retained_command_is_refused_and_never_applied(broker, tmp_path):
    from tests.commands import fleet_key, trusting

    key = fleet_key(tmp_path)
    sender = Subscriber(broker.url, "nothing/here")
    sender.client.publish(f"{ROOT}/privacy/set", key.seal(f"{ROOT}/privacy/set", "ON"), qos=1,
                          retain=True).wait_for_publish(5)
    errors = Subscriber(broker.url, f"{ROOT}/error")
    applied = []
    device = Telemetry(MqttConfig(url=broker.url, keepalive=5, commands=trusting(key)), "lab", "kiosk-1",
                       tmp_path / "spool.sqlite3", on_command=lambda c: applied.append(c) or c.value)
    device.start()
    try:
        refusal = errors.wait_for(lambda m: True)
        error = Error.model_validate(refusal.json())
        assert (error.site, error.device, error.topic) == ("lab", "kiosk-1", f"{ROOT}/privacy/set")
        assert "retained" in error.error and "act once" in error.error
        assert applied == []
        sender.client.publish(f"{ROOT}/privacy/set", key.seal(f"{ROOT}/privacy/set", "OFF"),
                              qos=1).wait_for_publish(5)  # not retained, sealed: applied
        wait_for(lambda: len(applied) == 1, "the command applied once")
        assert applied[0].value == "OFF"
    finally:
        device.stop()
        sender.client.publish(f"{ROOT}/privacy/set", b"", qos=1, retain=True).wait_for_publish(5)
        for client in (sender, errors):
            client.close()


def status_of(device: Telemetry) -> dict:
    return {"schema": 1, "site": "lab", "device": "kiosk-1", "version": "test", "uptime_s": 1, "playing": None,
            "camera": "ok", "playlist": "ok", "privacy": False, "display": "ok", "last_error": None,
            **device.health().status_fields()}


@pytest.mark.parametrize("clean", [True, False])
def test_the_final_status_tells_the_truth(clean, broker, tmp_path):
    device = device_on(broker.url, tmp_path / "spool.sqlite3")
    wait_for(lambda: device.connected, "the link up")
    device.set_status(status_of(device))
    for i in range(200):
        device.send("metrics", metrics_payload(i))
    device.stop(timeout=10, clean=clean, final_status=lambda: status_of(device))
    retained = Subscriber(broker.url, f"{ROOT}/#")
    status = Status.model_validate(retained.wait_for(lambda m: m.topic.endswith("/status")).json())
    assert status.broker == ("stopped" if clean else "disconnected")
    assert (status.spool_depth, status.spool_held) == (0, 0), "after draining"
    available = retained.wait_for(lambda m: m.topic.endswith("/available"))
    assert available.payload == (b"stopped" if clean else b"offline")
    retained.close()
