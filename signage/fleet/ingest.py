"""MQTT in, database out. One paho client (MQTT 5, clean start off, a session expiry) so
the broker keeps our subscription and queues QoS 1 messages while the dashboard is down;
manual acknowledgements, sent only after the batch holding the message is committed, so
a crash between receiving and storing loses nothing (the broker re-delivers, the store
deduplicates on `id`).

Threads: paho's network thread parses and queues; our writer thread stores batches. An
invalid message is counted by reason, logged (at most one line per LOG_EVERY seconds) and
acknowledged. No message can stop the ingest: when a batch fails for any reason while the
database is reachable, its messages are stored one at a time, and each that fails again
goes to the dead-letter table with its reason and is acknowledged. Only a database that
cannot be reached holds acknowledgements (retried with back-off), since nothing can be
stored meanwhile; the broker re-delivers them if we stop.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
import time
from collections import Counter
from dataclasses import dataclass
from typing import Callable, TypeVar

from signage.config import TlsConfig, parse_broker_url
from signage.faults import Barrier
from signage.fleet.identities import Identities
from signage.fleet.parse import Ignored, Incoming, Invalid, parse
from signage.fleet.store import Store, Written
from signage.wire.client import new_client, session_properties

logger = logging.getLogger(__name__)
T = TypeVar("T")

BATCH = 2000  # messages per transaction at most: bigger batches amortise the commit and rollup upserts
RECEIVE_MAXIMUM = 2 * BATCH  # unacknowledged messages the broker may have in flight to us
LOG_EVERY = 10.0  # seconds between log lines about invalid messages
PURGE_EVERY = 3600.0
QUEUED_QOS0 = RECEIVE_MAXIMUM  # QoS 0 messages (not limited by the broker's window) queued at most


def default_client_id() -> str:
    return f"signage-fleet-{socket.gethostname()}"[:64]


def subscriptions(root: str, group: str | None) -> list[str]:
    """Everything under the root; with a group, the facts (metrics, plays) are shared
    between the group's processes while every process keeps the retained state topics
    (a shared subscription never delivers retained messages)."""
    if not group:
        return [f"{root}/+/+/#"]
    return [f"$share/{group}/{root}/+/+/metrics", f"$share/{group}/{root}/+/+/play",
            f"$share/{group}/{root}/+/+/totals",
            f"{root}/+/+/available", f"{root}/+/+/status", f"{root}/+/+/error", f"{root}/+/+/+/state"]


class RateLimitedLog:
    """One warning per `every` seconds, saying how many were not logged."""

    def __init__(self, every: float = LOG_EVERY, log: logging.Logger = logger):
        self.every, self.log, self.last, self.skipped = every, log, -float("inf"), 0

    def warning(self, text: str, *args) -> None:
        now = time.monotonic()
        if now - self.last < self.every:
            self.skipped += 1
            return
        suffix = f" (and {self.skipped} more since the last report)" if self.skipped else ""
        self.log.warning(text + "%s", *args, suffix)
        self.last, self.skipped = now, 0


@dataclass
class IngestStats:
    received: int = 0
    stored: int = 0
    duplicates: int = 0
    invalid: int = 0
    dead_letters: int = 0  # valid messages the database would not take, kept aside
    overflow: int = 0  # QoS 0 messages dropped while the queue was full (a flood)
    quarantined: int = 0  # from identities the fleet never provisioned (identities.py)


class _Stopping(Exception):
    """The ingest stops while the database is unreachable: leave the batch unacknowledged."""


class Ingest:
    def __init__(self, store: Store, broker: str, root: str = "signage", group: str | None = None,
                 client_id: str | None = None, session_expiry: int = 7 * 24 * 3600, keepalive: int = 30,
                 username: str | None = None, password: str | None = None, tls_files: TlsConfig | None = None,
                 identities: Identities | None = None):
        self.store, self.root, self.group = store, root, group
        self.identities = identities
        self.stats = IngestStats()
        self.connected = threading.Event()
        self.subscribed = threading.Event()
        self._queue: queue.Queue[tuple[Incoming, int, int]] = queue.Queue()
        self._stopping = threading.Event()
        self._invalid_log = RateLimitedLog()
        self._flood_log = RateLimitedLog()
        self._pending_invalid: Counter[str] = Counter()  # by reason, counted in the database by the writer
        self._pending_dropped = 0  # QoS 0 messages dropped, likewise
        self._lock = threading.Lock()
        self._writer: threading.Thread | None = None
        self._writer_barrier = Barrier(logger)  # the writer thread's: whatever happens, it stays alive
        self._last_purge = -float("inf")  # the writer thread's
        self._host, self._port, tls = parse_broker_url(broker)
        self._keepalive, self._expiry = keepalive, session_expiry
        self.client = new_client(client_id=client_id or default_client_id(), protocol="5",
                                 username=username, password=password, tls=tls, tls_files=tls_files)
        self.client.manual_ack_set(True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=30)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_subscribe = self._on_subscribe
        self.client.on_message = self._on_message
        self.client.on_connect_fail = self._on_connect_fail
        self.broker_error: str | None = None

    # ----- life cycle --------------------------------------------------------------------

    def start(self) -> Ingest:
        self.client.connect_async(self._host, self._port, keepalive=self._keepalive, clean_start=False,
                                  properties=session_properties(self._expiry, RECEIVE_MAXIMUM))
        self._writer = threading.Thread(target=self._write_loop, name="fleet-ingest", daemon=True)
        self._writer.start()
        self.client.loop_start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Store what was received, then disconnect (the session stays on the broker)."""
        deadline = time.monotonic() + timeout
        while not self._queue.empty() and time.monotonic() < deadline and self.alive():
            time.sleep(0.02)
        self._stopping.set()
        if self._writer:
            self._writer.join(timeout=max(0.1, deadline - time.monotonic()))
        self.client.disconnect()
        self.client.loop_stop()

    def alive(self) -> bool:
        return self._writer is not None and self._writer.is_alive()

    # ----- paho's thread -------------------------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            logger.error("broker %s:%s refused the dashboard: %s", self._host, self._port, reason_code)
            return
        logger.info("connected to %s:%s (session %s)", self._host, self._port,
                    "resumed" if flags.session_present else "new")
        self.broker_error = None
        self.connected.set()
        client.subscribe([(topic, 1) for topic in subscriptions(self.root, self.group)])

    def _on_connect_fail(self, client, userdata) -> None:
        error = f"broker {self._host}:{self._port} unreachable"
        if self.broker_error != error:  # one line per state change, not per retry
            logger.warning("%s; retrying (messages wait on the broker for our session)", error)
        self.broker_error = error

    def _on_subscribe(self, client, userdata, mid, reason_codes, properties) -> None:
        refused = [str(code) for code in reason_codes if code.is_failure]
        if refused:
            logger.error("broker refused the subscriptions: %s", ", ".join(refused))
        else:
            logger.info("subscribed to %s", ", ".join(subscriptions(self.root, self.group)))
            self.subscribed.set()

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        self.connected.clear()
        self.subscribed.clear()
        if not self._stopping.is_set():
            logger.warning("lost the broker %s:%s (%s); reconnecting", self._host, self._port, reason_code)

    def _on_message(self, client, userdata, message) -> None:
        self.stats.received += 1
        try:
            item = parse(self.root, message.topic, message.payload)
        except Ignored:
            client.ack(message.mid, message.qos)
            return
        except Invalid as exc:
            self._invalid(str(exc), exc.reason)
            client.ack(message.mid, message.qos)
            return
        except Exception as exc:  # noqa: BLE001 - a fault barrier: one message never stops the ingest
            self._invalid(f"{message.topic[:120]}: {type(exc).__name__}: {str(exc)[:200]}", "fields")
            client.ack(message.mid, message.qos)
            return
        if self.identities is not None and not self.identities.admits(item.site, item.device, item.kind):
            self.stats.quarantined += 1
            client.ack(message.mid, message.qos)
            return
        if message.qos == 0 and self._queue.qsize() >= QUEUED_QOS0:
            with self._lock:  # QoS 0 promises nothing, and a flood must not grow memory
                self.stats.overflow += 1
                self._pending_dropped += 1
            self._flood_log.warning("QoS 0 flood: message dropped, the queue holds %d", QUEUED_QOS0)
            return
        self._queue.put((item, message.mid, message.qos))

    def _invalid(self, text: str, reason: str) -> None:
        with self._lock:
            self.stats.invalid += 1
            self._pending_invalid[reason] += 1
        self._invalid_log.warning("invalid message ignored: %s", text)

    # ----- our writer thread ---------------------------------------------------------------

    def _take_batch(self) -> list[tuple[Incoming, int, int]]:
        try:
            batch = [self._queue.get(timeout=0.2)]
        except queue.Empty:
            return []
        while len(batch) < BATCH:
            try:
                batch.append(self._queue.get_nowait())
            except queue.Empty:
                break
        return batch

    def _write_loop(self) -> None:
        while not (self._stopping.is_set() and self._queue.empty()):
            self._writer_barrier.run("fleet ingest writer", self._write_round)
            if self._writer_barrier.failing("fleet ingest writer"):
                time.sleep(1.0)

    def _write_round(self) -> None:
        if time.monotonic() - self._last_purge > PURGE_EVERY:
            self._last_purge = time.monotonic()
            self._purge()
        batch = self._take_batch()
        self._flush_counts()
        if batch:
            self._store(batch)

    def _purge(self) -> None:
        try:
            self.store.purge()
        except Exception as exc:  # noqa: BLE001 - housekeeping waits for the next round
            logger.warning("retention purge failed (%s); next try in %.0f s", _first_line(exc), PURGE_EVERY)

    def _flush_counts(self) -> None:
        with self._lock:
            pending, self._pending_invalid = self._pending_invalid, Counter()
            dropped, self._pending_dropped = self._pending_dropped, 0
        if pending or dropped:
            try:
                self.store.count_unstored(pending.elements(), dropped)
            except Exception:  # noqa: BLE001 - the database is away: count them next time
                with self._lock:
                    self._pending_invalid.update(pending)
                    self._pending_dropped += dropped

    def _store(self, batch: list[tuple[Incoming, int, int]]) -> None:
        """Store a batch, or isolate what fails: every message ends stored, a duplicate or
        a dead letter, and acknowledged (unless we stop while the database is away)."""
        items = [item for item, _, _ in batch]
        try:
            written = self._reliably(lambda: self.store.write(items))
        except _Stopping:
            return  # unacknowledged: the broker re-delivers them next time
        except Exception:  # noqa: BLE001 - a message at fault: find it
            self._store_one_by_one(batch)
            return
        self._count(written)
        for _, mid, qos in batch:
            self.client.ack(mid, qos)

    def _store_one_by_one(self, batch: list[tuple[Incoming, int, int]]) -> None:
        """A batch that failed: store its messages one at a time; one that fails again is
        a dead letter, kept with its reason."""
        for item, mid, qos in batch:
            try:
                self._store_one(item)
            except _Stopping:
                return
            self.client.ack(mid, qos)

    def _store_one(self, item: Incoming) -> None:
        try:
            self._count(self._reliably(lambda: self.store.write([item])))
        except _Stopping:
            raise
        except Exception as exc:  # noqa: BLE001 - this message is at fault, whatever the error
            self._dead_letter(item, exc)

    def _dead_letter(self, item: Incoming, exc: Exception) -> None:
        reason = f"{type(exc).__name__}: {_first_line(exc)}"[:500]
        self.stats.dead_letters += 1
        self._invalid_log.warning("message refused by the database, kept as a dead letter: %s/%s %s: %s",
                                  item.site, item.device, item.kind, reason[:200])
        try:
            self._reliably(lambda: self.store.dead_letter(item, reason))
        except _Stopping:
            raise
        except Exception as again:  # noqa: BLE001 - holding it would block every message behind it
            logger.error("dead letter %s/%s %s not kept (%s); acknowledged: %s", item.site, item.device,
                         item.kind, _first_line(again), reason[:200])

    def _reliably(self, action: Callable[[], T]) -> T:
        """`action`, retried with back-off while the database cannot be reached (holding
        the acknowledgements: nothing can be stored meanwhile). A failure while it can be
        reached is the message's own, and raised."""
        delay = 0.5
        while True:
            try:
                return action()
            except Exception as exc:  # noqa: BLE001 - sorted below: the database's fault or the message's
                if self.store.reachable():
                    raise
                if self._stopping.is_set():
                    raise _Stopping() from exc
                logger.warning("database unavailable (%s); retrying in %.0f s", _first_line(exc), delay)
                self._stopping.wait(delay)
                delay = min(delay * 2, 30.0)

    def _count(self, written: Written) -> None:
        self.stats.stored += written.stored
        self.stats.duplicates += written.duplicates


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
