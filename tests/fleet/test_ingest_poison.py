"""No message can stop the fleet's ingest, on SQLite and on PostgreSQL, against a real
Mosquitto and the ingest's persistent session: the red team's poison (oversized integers,
NaN, more of it than the broker keeps in flight) is refused at parse; and whatever the
database itself refuses is isolated, dead-lettered with its reason and acknowledged, while
every valid message around it is stored, before and after a restart."""

from __future__ import annotations

import itertools
import json
import math
import threading
from dataclasses import dataclass
from datetime import timedelta

import pytest
import sqlalchemy as sa

from signage.fleet import ingest as ingest_module
from signage.fleet import queries
from signage.fleet.database import database_url
from signage.fleet.ingest import QUEUED_QOS0, RECEIVE_MAXIMUM, Ingest
from signage.fleet.parse import Incoming, Invalid, parse, utc
from signage.fleet.tables import dead_letters, plays
from signage.fleet.store import Store
from signage.wire.messages import MESSAGES
from tests.fleet import factory as f
from tests.fleet.publisher import Publisher, stored
from tests.support.postgres import TempPostgres
from tests.support.waiting import wait_for

_clients = itertools.count()


def valid_plays(n: int, first: int = 0) -> list[tuple[str, bytes]]:
    out = []
    for i in range(first, first + n):
        body = f.play(start=f.T0 + timedelta(seconds=11 * i))
        out.append((f.topic(body, "play"), f.encode(body)))
    return out


def poison_play(**fields) -> tuple[str, bytes]:
    body = f.play(creative="poison") | fields
    return f.topic(body, "play"), f.encode(body)


def poison_status(**fields) -> tuple[str, bytes]:
    body = f.status() | fields
    return f.topic(body, "status"), f.encode(body)


@dataclass
class Fleet:
    store: Store
    broker_url: str
    client_id: str  # the ingest's persistent session, the same across restarts

    def ingest(self) -> Ingest:
        started = Ingest(self.store, self.broker_url, client_id=self.client_id).start()
        assert started.subscribed.wait(15)
        return started

    def restart(self, ingest: Ingest) -> Ingest:
        ingest.stop()
        return self.ingest()


@pytest.fixture
def fleet(store, broker) -> Fleet:
    """The store (on both databases), the broker, a client id for a persistent session."""
    return Fleet(store, broker.url, f"fleet-poison-{next(_clients)}")


@pytest.mark.parametrize("poison", [poison_play(peak_viewers=10**30), poison_status(uptime_s=10**20)],
                         ids=["play-peak-viewers-1e30", "status-uptime-1e20"])
def test_one_message_with_an_oversized_integer_costs_nothing_else(fleet, poison):
    """Finding 1: 500 valid plays with one such message in the middle stored 434; the rest
    came back after a restart with the poison, and failed again."""
    store, ingest = fleet.store, fleet.ingest()
    valid = valid_plays(500)
    sender = Publisher(fleet.broker_url)
    sender.send(valid[:250] + [poison] + valid[250:])
    wait_for(lambda: stored(store) == 500, timeout=60, what="the 500 valid plays stored")
    wait_for(lambda: ingest.stats.invalid == 1, what="the poison counted invalid")
    again = fleet.restart(ingest)
    sender.send(valid_plays(1, first=500))
    wait_for(lambda: stored(store) == 501, what="a new play after the restart")
    again.stop()
    sender.close()
    assert again.stats.received == 1, "acknowledged: nothing came back after the restart"


def test_poison_above_the_in_flight_window_never_blocks_the_valid(fleet):
    """Finding 1: 4,100 such statuses filled the 4,000-message unacknowledged window; then
    0 of 200 valid plays were stored, before and after a restart."""
    store, ingest = fleet.store, fleet.ingest()
    sender = Publisher(fleet.broker_url)
    sender.send([poison_status(uptime_s=10**20 + i) for i in range(RECEIVE_MAXIMUM + 100)] + valid_plays(200))
    wait_for(lambda: stored(store) == 200, timeout=120, what="200 valid plays after the poison")
    ingest.stop()
    sender.send(valid_plays(200, first=200))  # while the ingest is down: its session queues them
    again = fleet.ingest()
    wait_for(lambda: stored(store) == 400, timeout=60, what="the queued plays after the restart")
    again.stop()
    sender.close()
    assert again.stats.received == 200 and ingest.stats.invalid == RECEIVE_MAXIMUM + 100


# ----- what the database itself refuses ------------------------------------------------------------------

def unchecked_parse(root: str, topic: str, payload: bytes) -> Incoming:
    """The fleet's parse without the message models' bounds (what it was before them), so
    that oversized integers and NaN reach the database itself: the ingest must isolate
    whatever the database refuses, whatever the parse lets through."""
    try:
        return parse(root, topic, payload)
    except Invalid:
        pass
    _, site, device, kind = topic.split("/", 3)
    body = json.loads(payload)
    message = MESSAGES[kind].model_construct(**body)
    if kind == "status":
        return Incoming(kind, site, device, message, topic=topic, raw=payload)
    return Incoming(kind, site, device, message, utc(body["start"]), utc(body["end"]), topic=topic, raw=payload)


def poison() -> list[tuple[str, bytes]]:
    """What SQLite or PostgreSQL (or both) refuse to store; NaN seconds are stored by
    PostgreSQL (a float column takes NaN): stored or dead-lettered, never a blocked batch."""
    return [poison_play(peak_viewers=10**30), poison_status(uptime_s=10**20), poison_play(seconds=math.nan),
            poison_play(peak_faces=math.nan), poison_status(spool_depth=-(10**25))]


def valid_stored(store) -> int:
    with store.engine.begin() as conn:
        return conn.execute(sa.select(sa.func.count()).select_from(plays).where(plays.c.creative != "poison")).scalar()


def dead(store) -> list[dict]:
    with store.engine.begin() as conn:
        return [dict(r) for r in conn.execute(sa.select(dead_letters)).mappings()]


def test_whatever_the_database_refuses_is_dead_lettered_and_acknowledged(fleet, monkeypatch):
    store = fleet.store
    monkeypatch.setattr(ingest_module, "parse", unchecked_parse)
    ingest = fleet.ingest()
    valid = valid_plays(300)
    sender = Publisher(fleet.broker_url)
    hostile = poison() + poison()
    sender.send(valid[:100] + hostile[:5] + valid[100:200] + hostile[5:] + valid[200:])
    # Each one stored or dead-lettered (the statuses here are refused by both databases).
    wait_for(lambda: ingest.stats.stored + ingest.stats.dead_letters == 300 + len(hostile),
             timeout=60, what="every message stored or dead-lettered")
    assert valid_stored(store) == 300
    refused = dead(store)
    assert len(refused) == ingest.stats.dead_letters >= 2  # oversized integers on either database
    assert all(r["reason"] and r["topic"].startswith("signage/lab/a/") and r["payload"] for r in refused)
    again = fleet.restart(ingest)
    sender.send(valid_plays(1, first=300))
    wait_for(lambda: valid_stored(store) == 301, what="a new play after the restart")
    again.stop()
    sender.close()
    assert again.stats.received == 1, "every poison was acknowledged: nothing came back"
    assert queries.counter_values(store.reader)["dead_letters"] == len(refused)


def test_database_poison_above_the_in_flight_window_never_blocks_the_valid(fleet, monkeypatch):
    store = fleet.store
    monkeypatch.setattr(ingest_module, "parse", unchecked_parse)
    ingest = fleet.ingest()
    sender = Publisher(fleet.broker_url)
    hostile = [poison_play(peak_viewers=10**30 + i) for i in range(RECEIVE_MAXIMUM + 100)]
    sender.send(hostile + valid_plays(200))
    wait_for(lambda: stored(store) == 200, timeout=300, what="200 valid plays after the poison")
    ingest.stop()
    sender.send(hostile[:50] + valid_plays(200, first=200))
    again = fleet.ingest()
    wait_for(lambda: stored(store) == 400, timeout=120, what="the queued plays after the restart")
    again.stop()
    sender.close()
    assert again.stats.received == 250
    assert len(dead(store)) == RECEIVE_MAXIMUM + 150


def test_a_batch_never_holds_its_acknowledgements_for_ever(fleet, monkeypatch):
    """A message the database refuses with an operational error while it is reachable (on
    main: retried for ever as if the database were down, holding the whole batch)."""
    store = fleet.store
    original = store.write

    def refusing(batch, now=None):
        batch = list(batch)
        if any(item.kind == "play" and item.data.creative == "cursed" for item in batch):
            raise sa.exc.OperationalError("INSERT INTO plays ...", {}, Exception("too many SQL variables"))
        return original(batch, now)

    monkeypatch.setattr(store, "write", refusing)
    ingest = fleet.ingest()
    sender = Publisher(fleet.broker_url)
    sender.send(valid_plays(50) + [poison_play(creative="cursed")] + valid_plays(50, first=50))
    wait_for(lambda: stored(store) == 100, timeout=60, what="the valid plays around it")
    wait_for(lambda: ingest.stats.dead_letters == 1, what="the cursed play dead-lettered")
    ingest.stop()
    sender.close()
    assert "too many SQL variables" in dead(store)[0]["reason"]


def test_a_qos0_flood_while_the_writer_is_busy_is_bounded_in_memory(fleet, monkeypatch):
    """QoS 0 messages are not limited by the broker's in-flight window: while the writer
    is held, a flood of them is dropped (counted) beyond QUEUED_QOS0 instead of queued."""
    store = fleet.store
    held, release = threading.Event(), threading.Event()
    original = store.write

    def slow(batch, now=None):
        held.set()
        release.wait(60)
        return original(batch, now)

    monkeypatch.setattr(store, "write", slow)
    ingest = fleet.ingest()
    sender = Publisher(fleet.broker_url)
    sender.send(valid_plays(1))
    assert held.wait(10)
    flood = valid_plays(QUEUED_QOS0 + 2000, first=1)
    for topic, payload in flood:
        sender.client.publish(topic, payload, qos=0)
    wait_for(lambda: ingest.stats.received == len(flood) + 1, timeout=60, what="the flood received")
    assert ingest.stats.overflow == 2000  # the writer holds one message; the queue the next QUEUED_QOS0
    release.set()
    wait_for(lambda: stored(store) == len(flood) + 1 - ingest.stats.overflow, timeout=60, what="the rest stored")
    wait_for(lambda: queries.counter_values(store.reader).get("qos0_dropped") == 2000, what="the dropped counted")
    ingest.stop()
    sender.close()


def test_a_database_outage_holds_the_messages_and_dead_letters_none(broker):
    """Only an unreachable database holds acknowledgements: its messages are stored when
    it is back, none taken for poison."""
    server = TempPostgres().start()
    store = Store(database_url(server.create_database("outage")))
    store.migrate()
    ingest = Ingest(store, broker.url, client_id="fleet-outage").start()
    sender = Publisher(broker.url)
    try:
        assert ingest.subscribed.wait(15)
        sender.send(valid_plays(50))
        wait_for(lambda: ingest.stats.stored == 50, what="the first plays stored")
        server.pause()
        sender.send(valid_plays(100, first=50))
        wait_for(lambda: ingest.stats.received == 150, what="the plays received during the outage")
        server.resume()
        wait_for(lambda: ingest.stats.stored == 150, timeout=90, what="the held plays stored")
        assert ingest.stats.dead_letters == 0 and stored(store) == 150
    finally:
        sender.close()
        ingest.stop()
        store.close()
        server.stop()
