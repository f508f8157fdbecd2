"""MQTT ingest against a real Mosquitto: nothing lost, nothing counted twice."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from signage.fleet.database import database_url
from signage.fleet.ingest import Ingest, RateLimitedLog, subscriptions
from signage.fleet.store import Store
from signage.modelfiles import PROJECT_ROOT
from tests.fleet import factory as f
from tests.fleet.publisher import Publisher, messages, stored
from tests.support.waiting import wait_for


@pytest.fixture
def sqlite_store(tmp_path):
    store = Store(database_url(str(tmp_path / "fleet.sqlite3")))
    store.migrate()
    yield store
    store.close()


def test_the_same_thousand_messages_delivered_twice_store_a_thousand(broker, sqlite_store):
    ingest = Ingest(sqlite_store, broker.url, client_id="fleet-idem").start()
    assert ingest.subscribed.wait(10)
    batch = messages(1000)
    sender = Publisher(broker.url)
    sender.send(batch)
    wait_for(lambda: ingest.stats.stored == 1000, what="1000 stored")
    sender.send(batch)
    wait_for(lambda: ingest.stats.duplicates == 1000, what="1000 duplicates seen")
    sender.close()
    ingest.stop()
    assert stored(sqlite_store) == 1000 and ingest.stats.invalid == 0


def test_invalid_messages_are_counted_never_stored_half_and_never_stop_the_ingest(broker, sqlite_store, caplog):
    ingest = Ingest(sqlite_store, broker.url, client_id="fleet-invalid").start()
    assert ingest.subscribed.wait(10)
    good = f.play()
    bad = [("signage/lab/a/play", b"{not json"),
           ("signage/lab/a/play", b"\xff\xfe\x00"),
           ("signage/lab/a/play", f.encode({k: v for k, v in good.items() if k != "creative"})),
           ("signage/lab/a/play", f.encode(good | {"seconds": "long"})),
           ("signage/lab/a/play", f.encode(good | {"site": "other"})),  # envelope and topic disagree
           ("signage/lab/a/play", f.encode(good | {"start": "yesterday"})),
           ("signage/lab/a/metrics", b"[]"),
           ("signage/lab/a/metrics", b"x" * 70_000),
           ("signage/lab/a/available", b"sleepy"),
           ("signage/lab/a/whatever", b"{}"),
           ("signage/lab/a b/play", f.encode(good)),
           ("signage/lab/a/status", f.encode(f.status() | {"privacy": "perhaps"}))]
    sender = Publisher(broker.url)
    sender.send(bad + [("signage/lab/a/privacy/set", b"ON")])  # our own commands: ignored, not invalid
    sender.send([(f.topic(good, "play"), f.encode(good))])
    wait_for(lambda: ingest.stats.stored == 1, what="the good message stored")
    wait_for(lambda: ingest.stats.invalid == len(bad), what="every bad one counted")
    sender.close()
    ingest.stop()
    assert ingest.alive() is False and stored(sqlite_store) == 1
    warnings = [r for r in caplog.records if "invalid message" in r.getMessage()]
    assert 1 <= len(warnings) <= 2  # rate-limited, not one line per message


def test_messages_published_while_the_dashboard_is_down_arrive_when_it_comes_back(broker, sqlite_store):
    first = Ingest(sqlite_store, broker.url, client_id="fleet-persistent").start()
    assert first.subscribed.wait(10)
    first.stop()
    sender = Publisher(broker.url)
    sender.send(messages(200))
    sender.close()
    assert stored(sqlite_store) == 0
    again = Ingest(sqlite_store, broker.url, client_id="fleet-persistent").start()
    wait_for(lambda: stored(sqlite_store) == 200, what="the queued messages")
    again.stop()


def test_a_crash_before_storing_loses_nothing(broker, sqlite_store, monkeypatch):
    """Acknowledgements wait for the commit: messages held by a dashboard that dies are re-delivered."""
    held = threading.Event()
    original = sqlite_store.write

    def stuck(batch, now=None):
        held.set()
        threading.Event().wait(3600)

    monkeypatch.setattr(sqlite_store, "write", stuck)
    first = Ingest(sqlite_store, broker.url, client_id="fleet-crash").start()
    assert first.subscribed.wait(10)
    sender = Publisher(broker.url)
    sender.send(messages(20))
    assert held.wait(10)
    first.client._sock_close()  # the process dies: no DISCONNECT, no acknowledgements
    first.client.loop_stop()
    monkeypatch.setattr(sqlite_store, "write", original)
    again = Ingest(sqlite_store, broker.url, client_id="fleet-crash").start()
    wait_for(lambda: stored(sqlite_store) == 20, what="re-delivered messages")
    again.stop()
    sender.close()


def test_an_unreachable_broker_is_said_once_and_the_ingest_connects_when_it_appears(broker, sqlite_store, caplog):
    broker.stop()
    ingest = Ingest(sqlite_store, broker.url, client_id="fleet-late").start()
    wait_for(lambda: ingest.broker_error, what="the broker reported unreachable")
    broker.start()
    assert ingest.subscribed.wait(30)
    ingest.stop()
    said = [r for r in caplog.records if "unreachable" in r.getMessage()]
    assert len(said) == 1 and ingest.broker_error is None


def test_rate_limited_log_reports_what_it_skipped(caplog):
    log = RateLimitedLog(every=3600)
    for i in range(5):
        log.warning("thing %s", i)
    assert len(caplog.records) == 1 and log.skipped == 4


def test_subscriptions_with_a_group_share_facts_and_keep_retained_state():
    assert subscriptions("signage", None) == ["signage/+/+/#"]
    shared = subscriptions("signage", "g")
    assert "$share/g/signage/+/+/play" in shared and "signage/+/+/status" in shared


class Process:
    """A `signage ...` child whose output lines are collected as they come."""

    def __init__(self, args: list[str], env: dict):
        self.lines: list[str] = []
        self.process = subprocess.Popen([sys.executable, "-m", "signage.cli", *args], env=env, cwd=PROJECT_ROOT,
                                        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.append(line.rstrip("\n"))

    def said(self, text: str) -> bool:
        return any(text in line for line in list(self.lines))

    def running(self) -> None:
        """Raises, with what it said, once the child has exited."""
        if self.process.poll() is not None:
            raise AssertionError(f"signage exited ({self.process.returncode}):\n" + "\n".join(self.lines[-30:]))

    def cpu_ticks(self) -> int:
        """The CPU time the child has used so far, in clock ticks (utime + stime)."""
        try:
            fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone: running() says so
            return -1
        return int(fields[11]) + int(fields[12])

    def stop(self) -> str:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        self.reader.join(timeout=5)
        return "\n".join(self.lines)


def _numbers(line: str) -> dict[str, int]:
    return {name: int(value) for name, value in
            re.findall(r"(received|stored|duplicates|invalid|dead letters) (\d+)", line)}


def test_two_ingest_processes_with_a_shared_subscription_split_the_load_without_duplicates(broker, postgres,
                                                                                          tmp_path):
    url = postgres.create_database("fleet_shared")
    store = Store(database_url(url))
    store.migrate()
    env = dict(os.environ, PYTHONPATH=str(PROJECT_ROOT), XDG_CONFIG_HOME=str(tmp_path))
    processes = [Process(["fleet", "ingest", "--db", url, "--broker", broker.url, "--share-group", "dash",
                          "--client-id", f"ingest-{i}"], env) for i in range(2)]
    # Each child first imports and migrates (CPU-bound: as slow as the machine is busy), then
    # subscribes. The waits allow for that: they fail on a standstill (no fifth of a second
    # of CPU used, no line said, no row stored for 30 s), not after a fixed wall-clock time.
    def moving():
        return [(p.cpu_ticks() // 20, len(p.lines)) for p in processes], stored(store)

    def running():
        for p in processes:
            p.running()

    try:
        wait_for(lambda: all(p.said("subscribed") for p in processes), "both ingests subscribed",
                 watch=running, progress=moving)
        sender = Publisher(broker.url)
        sender.send(messages(600, device="a") + messages(600, device="b"))
        sender.close()
        wait_for(lambda: stored(store) == 1200, "1200 stored", every=0.25, watch=running, progress=moving)
    finally:
        outputs = [p.stop() for p in processes]
    counts = [_numbers(next(line for line in output.splitlines() if "ingest stopped" in line)) for output in outputs]
    assert all(c["stored"] > 0 for c in counts), outputs  # both did part of the work
    assert sum(c["stored"] for c in counts) == 1200 and sum(c["duplicates"] for c in counts) == 0
    assert stored(store) == 1200
    store.close()
