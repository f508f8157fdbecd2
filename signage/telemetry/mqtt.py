"""The kiosk's MQTT link (paho-mqtt 2.x clients come from client.py).

Conventions Home Assistant users know from Frigate: `<root>/available` is `online`
after connect, `stopped` after a clean exit and `offline` (the last will, or an unclean
stop) when the device dies; `<root>/status` is retained. Unlike Frigate we never drop a
message while disconnected: metrics and plays go into the on-disk spool first and are
deleted only when the broker acknowledges them (PUBACK). We hand paho at most `WINDOW`
messages at a time, so its own in-memory queue stays small; after a reconnect paho
re-sends those, and after a restart the spool does.

What `send` promises: it never raises and never blocks on the disk. The message joins
an in-memory hold; the pump writes everything held into the spool in one fsync'd
transaction per step (group commit, see spool.py), so a burst costs a few fsyncs, not
one per message. While the spool cannot take it (disk full, I/O error, no usable
file) the hold keeps it, bounded (`hold_max` messages, `hold_max_bytes`): past the
bound the oldest is dropped and counted. Held messages go into the spool in order when
it works again; while it does not and the broker is connected, they are published
straight from memory once the spool's own rows are out, so nothing waits on a full
disk. A message may be delivered twice (consumers deduplicate on `id`); a message is
lost only when the hold overflows or the process ends with the disk still full, and
both are counted and logged. A reload hands what the old link could not save, and the
unsent rows of its spool file when the new link uses another, to the new link
(`hand_over_to`). Spool row numbers handed to paho are never reused, also across Spool
objects (`min_row`), so a late acknowledgement deletes only the message it names.

Threads and ownership:
- paho's network thread runs the callbacks. It writes the link state (`Link`, an
  immutable snapshot replaced under `_lock`: `connected`, `last_error` read it), the
  in-flight map and the acknowledged rows (under `_lock`).
- our pump thread (a `SupervisedThread`: an unexpected exception is logged, counted
  and backed off, never fatal) owns the spool while it runs: it writes the hold into it,
  deletes acknowledged rows, hands rows to paho, and rebuilds a damaged file. It
  publishes what status needs as an immutable `Health` snapshot.
- any thread may call `send`, `set_status`, `set_state`, `publish_retained`, `refuse`
  and `health`: the hold has its own lock, the retained messages live under `_lock`,
  and paho's `publish` is thread-safe.
- `stop` runs on the caller's thread; once the pump has ended it owns the spool.
"""

from __future__ import annotations

import collections
import itertools
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from signage.config import MqttConfig, parse_broker_url
from signage.errors import ConfigError
from signage.telemetry.inbox import Inbox
from signage.telemetry.refusals import Refusals
from signage.telemetry.spool import Spool, SpoolFault, SpoolUnavailable
from signage.telemetry.spool.faults import describe
from signage.threads import SupervisedThread
from signage.wire.client import NOT_CONNECTED, PUBLISHED, new_client
from signage.wire.commands import Command, CommandRejected
from signage.wire.messages import Error

logger = logging.getLogger(__name__)

WINDOW = 100  # messages handed to paho and not yet acknowledged
BATCH = 2000  # held messages written per transaction
STEP_S = 0.2  # the pump's idle wait between steps
RETRY_S = (0.5, 5.0)  # back-off between attempts to write to a failing spool
REOPEN_S = 10.0  # between attempts to open a spool that could not be opened
# A failing SD card can damage each new spool soon after the last rebuild: rebuild at most
# once per gap, the gap doubling while damage keeps coming back (messages wait in memory).
REBUILD_GAP_S = (30.0, 3600.0)


@dataclass(frozen=True)
class Link:
    """The broker connection as paho's thread last saw it (replaced, never changed)."""

    connected: bool = False
    error: str | None = None  # why we are not connected; None while first connecting


@dataclass(frozen=True)
class Health:
    """What status needs to know about telemetry, one consistent snapshot."""

    broker: str  # "connected", "connecting", "stopped", or why not connected
    spool: str  # "ok", "recovered: ...", "disk full: ...", "error: ...", "unusable: ..."
    spool_depth: int  # messages in the spool file
    spool_dropped: int  # dropped, oldest first: spool at its size cap, or memory hold overflowing
    held: int  # accepted by send() and not yet in the spool
    held_dropped: int  # of spool_dropped, those the memory hold had to drop
    pump_errors: int  # unexpected exceptions the pump survived
    problem: str | None  # one line for status' last_error, None when all is well

    def status_fields(self) -> dict:
        """The fields of the Status message that telemetry owns."""
        return {"broker": self.broker, "spool": self.spool, "spool_depth": self.spool_depth,
                "spool_held": self.held, "spool_dropped": self.spool_dropped}


@dataclass
class _Held:
    seq: int
    topic: str
    payload: bytes
    qos: int
    retain: bool = False


@dataclass
class _Fault:
    kind: str  # full, io, unusable, corrupt (damaged again soon after a rebuild)
    text: str
    retry_at: float
    since: float  # the Telemetry's clock
    attempts: int = 1


class Telemetry:
    def __init__(self, config: MqttConfig, site: str, device: str, spool: Spool | Path | str,
                 on_command: Callable[[Command], str | None] | None = None, client_id: str | None = None,
                 spool_max_bytes: int = 64 << 20, hold_max: int = 10_000, hold_max_bytes: int = 16 << 20,
                 clock: Callable[[], float] = time.monotonic, open_spool: bool = True):
        """open_spool=False leaves the spool file to the pump, opened when started: a
        reload makes the new link while the old one still owns the same file."""
        self.config, self.site, self.device = config, site, device
        self.root = f"{config.topic_root}/{site}/{device}"
        self.on_command = on_command
        self.inbox = Inbox(self.root, config.commands)
        self._refusals = Refusals(self._publish_refusal)
        self.hold_max, self.hold_max_bytes = hold_max, hold_max_bytes
        self._clock = clock
        try:
            host, port, tls = parse_broker_url(config.url)
        except ValueError as exc:
            raise ConfigError(f"mqtt.url {exc}") from exc
        self._host, self._port = host, port
        # Shared with paho's thread, under _lock.
        self._lock = threading.Lock()
        self._link = Link()
        self._status: bytes | None = None
        self._retained: dict[str, bytes] = {}  # state echoes and discovery, republished on every connect
        self._inflight: dict[int, tuple[str, int]] = {}  # paho mid -> ("s", spool row) or ("h", held seq)
        self._early: dict[int, object] = {}  # PUBACKs that arrived before the mid was recorded
        self._acked: list[int] = []  # spool rows the broker acknowledged, to delete
        self._direct_acked: set[int] = set()  # held seqs the broker acknowledged (sent from memory)
        # The hold, under _hold_lock (send() runs on any thread).
        self._hold_lock = threading.Lock()
        self._held: collections.deque[_Held] = collections.deque()
        self._held_bytes = 0
        self._held_dropped = 0
        self._seq = itertools.count(1)
        # The pump's own state.
        self._spool_path = spool.path if isinstance(spool, Spool) else str(spool)
        self._spool_max_bytes = spool.max_bytes if isinstance(spool, Spool) else spool_max_bytes
        self._spool: Spool | None = spool if isinstance(spool, Spool) else None
        self._fault: _Fault | None = None
        self._last_rebuild: float | None = None
        self._rebuild_gap = REBUILD_GAP_S[0]
        self._sent_up_to = 0  # highest spool row handed to paho
        self._highest_row = 0  # highest spool row ever handed out, of every Spool object this link used
        self._first_damage: float | None = None  # when damage was first seen since the last rebuild
        self._rebuilt_while_stopping = False
        self._successor: Telemetry | None = None  # a reload's new link: takes what stop() could not save
        self._previous_spool: str | None = None  # a reload's old spool file, its rows to copy into ours
        self._previous_retry_at = 0.0
        self._previous_error: str | None = None
        self._direct_up_to = 0  # highest held seq handed to paho straight from memory
        self._stopping = False
        self._final_broker: str | None = None
        self._last_status_info = None
        self._pump = SupervisedThread("telemetry", self._step, STEP_S, on_error=self._pump_failed)
        self.client = new_client(client_id=client_id or f"signage-{site}-{device}", protocol=config.protocol,
                                 username=config.username, password=config.password, tls=tls, tls_files=config.tls)
        self.client.will_set(f"{self.root}/available", "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        self.client.max_inflight_messages_set(WINDOW)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_connect_fail = self._on_connect_fail
        if self._spool is None and open_spool:  # last: nothing above may fail with the file open
            self._open_spool()

    # ----- state other threads read -------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._link.connected

    @property
    def last_error(self) -> str | None:
        return self._link.error

    @property
    def spool(self) -> Spool | None:
        """The spool file (None while it cannot be opened). Owned by the pump while it runs."""
        return self._spool

    @property
    def commands_refused(self) -> int:
        """Commands refused since this link started (each told, or counted in a summary)."""
        return self._refusals.total

    def health(self) -> Health:
        """What status needs, as one snapshot (cheap: no query)."""
        return self._snapshot()

    def alive(self, stale: float | None = None) -> bool:
        """The pump runs and, given `stale`, no single step has taken longer than that."""
        return self._pump.alive(stale)

    # ----- life cycle ---------------------------------------------------------------------------

    def start(self) -> None:
        self.client.connect_async(self._host, self._port, keepalive=self.config.keepalive)
        self.client.loop_start()
        self._pump.start()

    def hand_over_to(self, successor: Telemetry) -> None:
        """A reload replaces this link with `successor` (made, not yet started): when this
        one stops, what it holds and could not save goes to the successor's hold, and when
        the successor uses another spool file, the rows left in ours are copied into it.
        Nothing is logged as lost that the new link can still send."""
        self._successor = successor

    def adopt_held(self, messages: list[_Held]) -> None:
        """Messages another link accepted and could not save, oldest first: held here as if
        sent here (same topics and payloads, so the same ids: a duplicate at worst)."""
        for message in messages:
            self._hold(message.topic, message.payload, message.qos, message.retain)
        if messages:
            self._pump.wake()

    def adopt_spool_rows(self, path: str) -> None:
        """The rows still in another spool file (a reload changed paths.spool) are copied
        into ours by the pump, then deleted there."""
        if ":memory:" not in (path, self._spool_path) and Path(path).resolve() != Path(self._spool_path).resolve():
            self._previous_spool = path
            self._pump.wake()

    def stop(self, timeout: float = 3.0, clean: bool = True,
             final_status: Callable[[], dict] | None = None) -> None:
        """Stop, losing as little as possible within `timeout` seconds.

        Held messages go into the spool (retried until the timeout while the disk is
        full); while connected the spool drains to the broker, and what the disk cannot
        take is published straight from memory. Then `final_status()` (called now, so it
        sees the drained depth and broker "stopped") is published as the retained status.
        clean=True says `stopped` on `<root>/available`; clean=False (a crash) says
        `offline`, as the last will would. Never raises.
        """
        deadline = self._clock() + timeout
        self._stopping = True  # the pump retries a failing spool at once now
        self._refusals.flush(force=True)  # the count a flood held back, sent ahead of the final status
        if self._refusals.total:
            logger.info("%d commands refused since this link started", self._refusals.total)
        while self._clock() < deadline and self._pump.alive() and self._busy():
            self._pump.wake()
            time.sleep(0.02)
        pump_ended = self._pump.stop(timeout=max(0.5, deadline - self._clock()))
        if pump_ended:
            try:
                self._finish_hold(deadline)
            except Exception:  # noqa: BLE001 - stop() never raises; what is left is counted below
                logger.exception("saving the held telemetry messages failed")
        else:  # stuck in the spool (a disk that does not answer): leave the spool to it
            logger.error("the telemetry pump did not stop within %.1f s", timeout)
        lost = len(self._held)
        successor = self._successor
        if successor is not None:
            if lost:
                with self._hold_lock:
                    held, self._held, self._held_bytes = list(self._held), collections.deque(), 0
                successor.adopt_held(held)
                logger.warning("%d telemetry messages the spool could not take (%s) go to the new link", lost,
                               self._fault.text if self._fault else "the spool could not be written")
                lost = 0
            if pump_ended and self._spool_path:  # its spool is ours again (closed below): rows left in it
                successor.adopt_spool_rows(self._spool_path)
        if lost:
            reason = self._fault.text if self._fault else "the spool could not be written"
            logger.error("%d telemetry messages could not be saved (%s) and are lost", lost, reason)
        self._final_broker = "stopped" if clean else "disconnected"
        infos = []
        if final_status is not None:
            try:
                status = final_status()
            except Exception:  # noqa: BLE001 - a broken status must not stop the shutdown
                logger.exception("the final status could not be made")
                status = None
            if status is not None:
                self.set_status(status)
                infos.append(self._last_status_info)
        if self.connected:
            infos.append(self.client.publish(f"{self.root}/available", "stopped" if clean else "offline",
                                             qos=1, retain=True))
            for info in infos:
                if info is None:
                    continue
                try:
                    info.wait_for_publish(timeout=max(0.2, deadline - self._clock()))
                except (RuntimeError, ValueError):
                    pass
        self.client.disconnect()
        self.client.loop_stop()
        if self._spool is not None and pump_ended:
            self._spool.close()

    def _busy(self) -> bool:
        """Something left to save or to send (rows acknowledged but not yet deleted do not count)."""
        with self._hold_lock:
            held = len(self._held)
        if held:
            return True
        with self._lock:
            inflight = len(self._inflight)
        spool = self._spool
        unsent = spool is not None and spool.depth > 0 and spool.highest_row > self._sent_up_to
        return self.connected and (unsent or inflight > 0)

    def _finish_hold(self, deadline: float) -> None:
        """After the pump ended (this thread owns the spool now): last tries to save the hold."""
        while self._held and self._clock() < deadline:
            self._take_direct_acks()
            if self._spool is None:
                self._open_spool()
            if self._spool is not None:
                self._copy_previous_spool()
                self._store()
            if not self._held:
                break
            time.sleep(0.05)
        self._take_direct_acks()
        self._store()  # also deletes what was acknowledged meanwhile

    # ----- what the controller sends --------------------------------------------------------------

    def send(self, kind: str, message: dict) -> None:
        """A metrics or play message (QoS 1): held, spooled, sent when the broker is there.
        Never raises."""
        try:
            payload = json.dumps(message, separators=(",", ":")).encode()
        except (TypeError, ValueError) as exc:
            logger.error("a %s message cannot be encoded as JSON (%s); not sent", kind, exc)
            return
        self._hold(f"{self.root}/{kind}", payload, qos=1)
        self._pump.wake()

    def flush(self, timeout: float = 5.0) -> bool:
        """Wait until everything sent so far is in the spool (durable) or delivered;
        False if the timeout came first (e.g. the disk is full)."""
        deadline = self._clock() + timeout
        while True:
            with self._hold_lock:
                if not self._held:
                    return True
            if self._clock() >= deadline or not self._pump.alive():
                return False
            self._pump.wake()
            time.sleep(0.005)

    def _hold(self, topic: str, payload: bytes, qos: int, retain: bool = False) -> None:
        with self._hold_lock:
            self._held.append(_Held(next(self._seq), topic, payload, qos, retain))
            self._held_bytes += len(payload)
            while len(self._held) > self.hold_max or self._held_bytes > self.hold_max_bytes:
                dropped = self._held.popleft()
                self._held_bytes -= len(dropped.payload)
                if not self._held_dropped:
                    logger.error("telemetry hold full (%d messages): dropping the oldest; the count is in status",
                                 self.hold_max)
                self._held_dropped += 1

    def set_status(self, status: dict) -> None:
        """The retained status: published now if connected, and on every connect."""
        payload = json.dumps(status, separators=(",", ":")).encode()
        with self._lock:
            self._status = payload
        self._last_status_info = self._publish_now(f"{self.root}/status", payload)

    def set_state(self, feature: str, value: str) -> None:
        """Echo a feature's value, retained, on <root>/<feature>/state."""
        self.publish_retained(f"{self.root}/{feature}/state", value.encode())

    def state(self, feature: str) -> str | None:
        """The value last echoed on <root>/<feature>/state, if any (any thread)."""
        with self._lock:
            value = self._retained.get(f"{self.root}/{feature}/state")
        return value.decode() if value is not None else None

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """A retained message, kept and republished on every connect (also outside our root:
        Home Assistant discovery)."""
        with self._lock:
            self._retained[topic] = payload
        self._publish_now(topic, payload)

    def _publish_now(self, topic: str, payload: bytes):
        if not self.connected:
            return None  # on_connect publishes it
        info = self.client.publish(topic, payload, qos=1, retain=True)
        return info if info.rc == PUBLISHED else None

    def refuse(self, command: Command | str, reason: str) -> None:
        """Answer a command on `<root>/error` (any thread): it changed nothing, and why.
        Throttled (refusals.py): a flood costs a few lines and messages a minute."""
        topic = command if isinstance(command, str) else f"{self.root}/{command.feature}/set"
        self._refusals.refuse(topic, reason)

    def _publish_refusal(self, topic: str, reason: str) -> None:
        error = Error.fitted(site=self.site, device=self.device, topic=topic, error=reason)
        self.client.publish(f"{self.root}/error", json.dumps(error.payload(), separators=(",", ":")), qos=1)

    # ----- paho callbacks (paho's thread) ---------------------------------------------------------

    def _set_link(self, connected: bool, error: str | None) -> None:
        with self._lock:
            self._link = Link(connected, error)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            error = f"broker {self._host}:{self._port} refused the connection: {reason_code}"
            logger.error("%s; retrying", error)
            self._set_link(False, error)
            return
        self._set_link(True, None)
        logger.info("connected to %s:%d", self._host, self._port)
        client.publish(f"{self.root}/available", "online", qos=1, retain=True)
        client.subscribe(f"{self.root}/+/set", qos=1)
        with self._lock:
            retained, status = list(self._retained.items()), self._status
        for topic, payload in retained:
            client.publish(topic, payload, qos=1, retain=True)
        if status is not None:
            client.publish(f"{self.root}/status", status, qos=1, retain=True)
        self._pump.wake()

    def _on_connect_fail(self, client, userdata) -> None:
        error = f"broker {self._host}:{self._port} unreachable"
        if self.last_error != error:  # one line per state change, not per retry
            logger.warning("%s; spooling and retrying", error)
        self._set_link(False, error)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected and not self._pump.stopping:
            logger.warning("disconnected from the broker (%s); spooling", reason_code)
        link = self._link
        # After a refused connection paho disconnects too: keep the reason it was refused.
        error = link.error if not link.connected else f"disconnected from the broker: {reason_code}"
        self._set_link(False, None if self._pump.stopping else error)
        # paho keeps what it holds in flight and re-sends it after reconnecting.

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            entry = self._inflight.pop(mid, None)
            if entry is None:
                # Not ours (status, state), or the PUBACK beat the pump recording the mid.
                self._early[mid] = reason_code
                return
        self._acknowledged(entry, reason_code)

    def _acknowledged(self, entry: tuple[str, int], reason_code) -> None:
        """The broker has it: the pump deletes it from the spool (or the hold), in
        batches: a crash before that only means the message is sent again, same id."""
        if reason_code.is_failure:
            logger.error("broker refused a message: %s; dropping it", reason_code)
        kind, number = entry
        with self._lock:
            (self._acked.append if kind == "s" else self._direct_acked.add)(number)
        self._pump.wake()

    def _on_message(self, client, userdata, message) -> None:
        try:
            command = self.inbox.admit(message.topic, message.payload, message.retain)
        except CommandRejected as exc:
            self.refuse(message.topic, str(exc))
            return
        except Exception:  # noqa: BLE001 - a bug in the checks must not kill paho's thread
            logger.exception("checking a command on %s failed", message.topic[:120])
            self.refuse(message.topic, "internal error; see the device log")
            return
        if self.on_command is None:
            self.refuse(message.topic, "this device takes no commands")
            return
        try:
            state = self.on_command(command)
        except CommandRejected as exc:
            self.refuse(message.topic, str(exc))
            return
        except Exception:  # noqa: BLE001 - a bug in the handler must not kill paho's thread
            logger.exception("command %s %s failed", command.feature, command.value)
            self.refuse(message.topic, "internal error; see the device log")
            return
        if state is not None:  # None: the owner answers later (set_state or refuse)
            self.set_state(command.feature, state)

    # ----- pump (our thread) ---------------------------------------------------------------------

    def _step(self) -> None:
        self._refusals.flush()
        self._take_direct_acks()
        if self._spool is None and self._clock() >= (self._fault.retry_at if self._fault else 0):
            self._open_spool()
        self._copy_previous_spool()
        self._store()
        if self.connected:
            self._publish()

    def _pump_failed(self, exc: BaseException) -> None:
        """After an unexpected exception: forget what was handed to paho, so the rows are
        handed again (a duplicate at worst, never a gap)."""
        with self._lock:
            self._inflight.clear()
            self._early.clear()
        self._sent_up_to = 0
        self._direct_up_to = 0

    def _open_spool(self) -> None:
        try:
            self._spool = Spool(self._spool_path, max_bytes=self._spool_max_bytes, min_row=self._highest_row)
        except SpoolUnavailable as exc:
            if self._fault is None or self._fault.text != str(exc):
                logger.error("%s; holding messages in memory and trying again every %.0f s", exc, REOPEN_S)
            self._fault = self._new_fault("unusable", str(exc), REOPEN_S)
            return
        if self._fault is not None:
            logger.info("the spool %s works again", self._spool_path)
        self._fault = None
        self._adopted_new_spool()

    def _new_fault(self, kind: str, text: str, retry_in: float) -> _Fault:
        now = self._clock()
        return _Fault(kind, text, now + retry_in, since=now)

    def _adopted_new_spool(self) -> None:
        """A new Spool object: hand its rows from the start. What was in flight or
        acknowledged named rows of the old object: forget it (rows copied into the new
        file are handed again: a duplicate at worst, never a gap; consumers deduplicate by
        id). Its new rows are numbered above every row handed out before (`min_row`), so a
        late acknowledgement can never delete one of them."""
        self._sent_up_to = 0
        with self._lock:
            self._inflight = {mid: entry for mid, entry in self._inflight.items() if entry[0] != "s"}
            self._acked = []

    def _note_rows(self, spool: Spool | None) -> None:
        if spool is not None:
            self._highest_row = max(self._highest_row, spool.highest_row)

    def _copy_previous_spool(self) -> None:
        """A reload's old spool file: its unsent rows go into ours (then leave it), retried
        every REOPEN_S while either file cannot be used; one log line per outcome."""
        previous, spool = self._previous_spool, self._spool
        if previous is None or spool is None or self._clock() < self._previous_retry_at:
            return
        try:
            copied = spool.append_from(previous)
        except (SpoolFault, OSError) as exc:
            self._previous_retry_at = self._clock() + REOPEN_S
            if self._previous_error != describe(exc):
                self._previous_error = describe(exc)
                logger.error("the unsent messages of the previous spool %s cannot be copied into %s yet (%s); "
                             "retrying every %.0f s", previous, spool.path, describe(exc), REOPEN_S)
            return
        self._previous_spool = self._previous_error = None
        if copied:
            logger.warning("copied %d unsent messages from the previous spool %s into %s", copied, previous,
                           spool.path)

    def _take_direct_acks(self) -> None:
        """Drop from the hold what the broker acknowledged straight from memory."""
        with self._lock:
            if not self._direct_acked:
                return
            acked = self._direct_acked
        with self._hold_lock:
            while self._held and self._held[0].seq in acked:
                done = self._held.popleft()
                self._held_bytes -= len(done.payload)
            head = self._held[0].seq if self._held else None
        with self._lock:
            self._direct_acked = {seq for seq in self._direct_acked if head is not None and seq >= head}

    def _store(self) -> None:
        """Held messages into the spool and acknowledged rows out of it: one transaction."""
        spool = self._spool
        if spool is None:
            return
        if self._fault is not None and not self._stopping and self._clock() < self._fault.retry_at:
            return
        with self._hold_lock:
            batch = list(itertools.islice(self._held, BATCH))
        with self._lock:
            acked, self._acked = self._acked, []
        if not batch and not acked:
            return
        try:
            spool.write([(m.topic, m.payload, m.qos, m.retain) for m in batch], acked)
        except SpoolFault as exc:
            with self._lock:
                self._acked[:0] = acked
            self._spool_failed(exc)
            return
        self._first_damage = None  # the file took a write: a damage episode is over
        if batch:
            last = batch[-1].seq
            with self._hold_lock:
                while self._held and self._held[0].seq <= last:
                    done = self._held.popleft()
                    self._held_bytes -= len(done.payload)
        if self._fault is not None:
            logger.info("the spool accepts messages again after %.0f s", self._clock() - self._fault.since)
            self._fault = None

    def _spool_failed(self, exc: SpoolFault) -> None:
        kind = exc.kind
        if kind == "corrupt":
            self._rebuild_spool(describe(exc))
            return
        now = self._clock()
        text = "disk full" if kind == "full" else describe(exc)
        if self._fault is None or self._fault.text != text:
            logger.error("the spool cannot be written (%s): holding messages in memory, retrying", text)
            self._fault = self._new_fault(kind, text, RETRY_S[0])
        else:
            self._fault.attempts += 1
            self._fault.retry_at = now + min(RETRY_S[1], RETRY_S[0] * 2 ** self._fault.attempts)

    def _rebuild_spool(self, reason: str) -> None:
        now, last = self._clock(), self._last_rebuild
        if self._first_damage is None:
            self._first_damage = now
        # Stopping: one more fresh spool may save the hold rather than lose it.
        last_chance = self._stopping and not self._rebuilt_while_stopping
        if last is not None and now - last < self._rebuild_gap and not last_chance:
            if self._fault is None or self._fault.kind != "corrupt":
                logger.error("the new spool was damaged again %.0f s after the last rebuild (%s): the storage may "
                             "be failing; holding messages in memory, next rebuild in %.0f s",
                             now - last, reason, last + self._rebuild_gap - now)
                self._fault = _Fault("corrupt", f"damaged again soon after a rebuild: {reason}",
                                     last + self._rebuild_gap, since=now)
            return
        # Damage first seen within an hour of the last rebuild doubles the gap; a calm hour
        # (no damage seen for an hour after it) resets it. Measured from the first damage of
        # this episode (until a write succeeds), not from now: the rebuild after a one-hour
        # gap always comes just after that hour, while the damage never stopped.
        calm = last is None or self._first_damage - last > REBUILD_GAP_S[1]
        self._rebuild_gap = REBUILD_GAP_S[0] if calm else min(REBUILD_GAP_S[1], 2 * self._rebuild_gap)
        self._last_rebuild, self._first_damage = now, None
        self._rebuilt_while_stopping = self._stopping
        spool = self._spool
        self._note_rows(spool)
        try:
            spool.rebuild(reason)  # logs one line; keeps row numbers
        except Exception as exc:  # noqa: BLE001 - SpoolUnavailable, or a bug: either way reopen later
            if not isinstance(exc, SpoolUnavailable):
                logger.exception("rebuilding the damaged spool %s failed", spool.path)
            spool.close()
            self._spool = None
            self._fault = self._new_fault("unusable", describe(exc), REOPEN_S)
            logger.error("%s; holding messages in memory, opening the spool again every %.0f s",
                         describe(exc), REOPEN_S)
            return
        self._fault = None  # rows keep their numbers: what was handed to paho stays handed
        lowest = spool.take_lowest_adopted()  # rows of an older file copied in below what was handed
        if lowest is not None and lowest <= self._sent_up_to:
            self._sent_up_to = lowest - 1  # handed from there again: a duplicate at worst, never a gap

    def _publish(self) -> None:
        with self._lock:
            room = WINDOW - len(self._inflight)
        if room <= 0:
            return
        rows = []
        if self._spool is not None and not (self._fault and self._fault.kind == "corrupt"):
            try:
                rows = self._spool.oldest(room, after=self._sent_up_to)
            except SpoolFault as exc:
                self._spool_failed(exc)
                return
        try:
            for message in rows:
                if not self._hand_to_paho(message.topic, message.payload, message.qos, message.retain,
                                          ("s", message.row)):
                    return
                self._sent_up_to = message.row
                self._highest_row = max(self._highest_row, message.row)
                room -= 1
            if room <= 0 or self._fault is None:
                return
            # The spool cannot take the hold and its own rows are all out: send from memory.
            with self._hold_lock:
                direct = list(itertools.islice((m for m in self._held if m.seq > self._direct_up_to), room))
            for held in direct:
                if not self._hand_to_paho(held.topic, held.payload, held.qos, held.retain, ("h", held.seq)):
                    return
                self._direct_up_to = held.seq
        finally:
            with self._lock:
                self._early.clear()  # every mid we handed out has been matched: the rest are not ours

    def _hand_to_paho(self, topic: str, payload: bytes, qos: int, retain: bool, entry: tuple[str, int]) -> bool:
        # Not under our lock: paho calls on_publish holding its own, and we must not
        # hold ours while waiting for it.
        info = self.client.publish(topic, payload, qos=qos, retain=retain)
        if info.rc not in (PUBLISHED, NOT_CONNECTED):
            return False
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is None:
                self._inflight[info.mid] = entry
        if early is not None:
            self._acknowledged(entry, early)
        return True

    def _snapshot(self) -> Health:
        link, spool, fault = self._link, self._spool, self._fault
        with self._hold_lock:
            held, held_dropped = len(self._held), self._held_dropped
        if self._final_broker is not None:
            broker = self._final_broker
        elif link.connected:
            broker = "connected"
        else:
            broker = link.error or "connecting"
        if fault is not None:
            spool_state = {"full": "disk full", "unusable": f"unusable: {fault.text}"}.get(fault.kind,
                                                                                       f"error: {fault.text}")
        elif spool is not None and spool.recovery is not None:
            spool_state = f"recovered: {spool.recovery.describe()}"
        else:
            spool_state = "ok"
        pump = getattr(self, "_pump", None)
        problem = None
        if fault is not None:
            # No counts here: this line changes only with the state (counts are in spool_held
            # and spool_dropped), so status logs it once.
            problem = f"spool: {spool_state}; messages wait in memory" + \
                      ("; the oldest are being dropped" if held_dropped else "")
        elif held_dropped:
            problem = "telemetry: messages were dropped while the spool could not take them (see spool_dropped)"
        elif pump is not None and pump.last_error:
            problem = f"telemetry: {pump.last_error}"
        return Health(broker=broker, spool=spool_state, spool_depth=spool.depth if spool else 0,
                      spool_dropped=(spool.dropped if spool else 0) + held_dropped, held=held,
                      held_dropped=held_dropped, pump_errors=pump.errors if pump else 0, problem=problem)
