"""The kiosk's connection to the broker: paho's callbacks, what is in flight, and the
retained messages.

Conventions Home Assistant users know from Frigate: `<root>/available` is `online` after
connect, `stopped` after a clean exit and `offline` (the last will, or an unclean stop)
when the device dies; `<root>/status`, the state echoes and discovery are retained and
published again on every connect.

The link relays and records; it decides nothing. A message that arrives on a command
topic goes to `on_message(topic, payload, retained)` (the command inbox). A message the
pump hands over is recorded in flight under paho's message id, and its PUBACK becomes an
acknowledgement for the pump to collect: a spool row to delete, or a held message sent
straight from memory. At most WINDOW messages are in flight, so paho's own in-memory
queue stays small; after a reconnect paho sends those again. A PUBACK can arrive before
`publish` has returned the id it answers: it is kept as an early acknowledgement and
matched when the id is recorded.

Threads: paho's network thread runs the callbacks, the pump hands messages over and
collects acknowledgements, any thread publishes retained messages. What they share lives
under one lock, never held while calling paho (paho calls on_publish holding its own).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Callable

from signage.config import MqttConfig, parse_broker_url
from signage.errors import ConfigError
from signage.wire.client import NOT_CONNECTED, PUBLISHED, new_client

logger = logging.getLogger(__name__)

WINDOW = 100  # messages handed to paho and not yet acknowledged
SPOOLED, HELD = "s", "h"  # what a message in flight is: a spool row, or a held message sent from memory


@dataclass(frozen=True)
class LinkState:
    """The broker connection as paho's thread last saw it (replaced, never changed)."""

    connected: bool = False
    error: str | None = None  # why we are not connected; None while first connecting


class Link:
    def __init__(self, config: MqttConfig, root: str, client_id: str,
                 on_message: Callable[[str, bytes, bool], None], wake: Callable[[], None],
                 subscriptions: tuple[str, ...] = ()):
        """`wake` tells the pump there is something for it (a connection, an acknowledgement).
        Raises ConfigError for a broker URL or TLS files that cannot make a client."""
        try:
            self._host, self._port, tls = parse_broker_url(config.url)
        except ValueError as exc:
            raise ConfigError(f"mqtt.url {exc}") from exc
        self.root, self._keepalive = root, config.keepalive
        self._subscriptions = subscriptions  # beyond our commands: the content announcements
        self._on_message, self._wake = on_message, wake
        self._lock = threading.Lock()
        self._state = LinkState()
        self._closing = False
        self._status: bytes | None = None
        self._retained: dict[str, bytes] = {}  # state echoes and discovery, republished on every connect
        self._inflight: dict[int, tuple[str, int]] = {}  # paho mid -> (SPOOLED, row) or (HELD, seq)
        self._early: dict[int, object] = {}  # PUBACKs that arrived before their mid was recorded
        self._acked: list[int] = []  # spool rows the broker acknowledged, to delete
        self._direct_acked: set[int] = set()  # held messages the broker acknowledged
        self.last_status_info = None  # paho's handle on the latest status published
        self.client = new_client(client_id=client_id, protocol=config.protocol, username=config.username,
                                 password=config.password, tls=tls, tls_files=config.tls)
        self.client.will_set(f"{root}/available", "offline", qos=1, retain=True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        self.client.max_inflight_messages_set(WINDOW)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message_arrived
        self.client.on_connect_fail = self._on_connect_fail

    @property
    def connected(self) -> bool:
        return self._state.connected

    @property
    def error(self) -> str | None:
        return self._state.error

    def start(self) -> None:
        self.client.connect_async(self._host, self._port, keepalive=self._keepalive)
        self.client.loop_start()

    def close(self, clean: bool, deadline: float, clock: Callable[[], float], status_info=None) -> None:
        """Say `stopped` (clean) or `offline` on `<root>/available`, wait until the broker
        has that and `status_info` (a final status), at most until `deadline`; disconnect."""
        self._closing = True
        if self.connected:
            infos = [status_info, self.client.publish(f"{self.root}/available", "stopped" if clean else "offline",
                                                      qos=1, retain=True)]
            for info in infos:
                if info is None:
                    continue
                try:
                    info.wait_for_publish(timeout=max(0.2, deadline - clock()))
                except (RuntimeError, ValueError):
                    pass
        self.client.disconnect()
        self.client.loop_stop()

    # ----- what the pump hands over and collects ------------------------------------------------

    def room(self) -> int:
        """How many more messages may be handed over now."""
        with self._lock:
            return WINDOW - len(self._inflight)

    def in_flight(self) -> int:
        with self._lock:
            return len(self._inflight)

    def hand(self, topic: str, payload: bytes, qos: int, retain: bool, entry: tuple[str, int]) -> bool:
        """Publish one message the pump owns; False when paho would not take it."""
        info = self.client.publish(topic, payload, qos=qos, retain=retain)  # not under our lock
        if info.rc not in (PUBLISHED, NOT_CONNECTED):
            return False
        with self._lock:
            early = self._early.pop(info.mid, None)
            if early is None:
                self._inflight[info.mid] = entry
        if early is not None:
            self._acknowledged(entry, early)
        return True

    def handed_all(self) -> None:
        """Every id handed out so far has been matched: early acknowledgements left are not ours."""
        with self._lock:
            self._early.clear()

    def take_acked(self) -> list[int]:
        """The spool rows acknowledged since the last call, for the pump to delete."""
        with self._lock:
            acked, self._acked = self._acked, []
        return acked

    def give_back_acked(self, rows: list[int]) -> None:
        """Rows the pump could not delete yet: taken again next time, first."""
        with self._lock:
            self._acked[:0] = rows

    def direct_acked(self) -> set[int]:
        with self._lock:
            return set(self._direct_acked)

    def keep_direct_acked_from(self, head: int | None) -> None:
        """Forget acknowledgements of held messages older than `head`, the oldest still held."""
        with self._lock:
            self._direct_acked = {seq for seq in self._direct_acked if head is not None and seq >= head}

    def forget_spool_rows(self) -> None:
        """The pump uses a new Spool object: in flight and acknowledged rows named the old one."""
        with self._lock:
            self._inflight = {mid: entry for mid, entry in self._inflight.items() if entry[0] != SPOOLED}
            self._acked = []

    def forget_in_flight(self) -> None:
        """After the pump failed: what was handed over is handed again (a duplicate at worst)."""
        with self._lock:
            self._inflight.clear()
            self._early.clear()

    # ----- retained messages and errors (any thread) ---------------------------------------------

    def set_status(self, payload: bytes) -> None:
        """The retained status: published now if connected, and on every connect."""
        with self._lock:
            self._status = payload
        self.last_status_info = self._publish_retained_now(f"{self.root}/status", payload)

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """A retained message, published now if connected and again on every connect."""
        with self._lock:
            self._retained[topic] = payload
        self._publish_retained_now(topic, payload)

    def retained(self, topic: str) -> bytes | None:
        with self._lock:
            return self._retained.get(topic)

    def publish(self, topic: str, payload: bytes) -> None:
        """A message that is not kept (a refusal): QoS 1, gone if the link is down."""
        self.client.publish(topic, payload, qos=1)

    def _publish_retained_now(self, topic: str, payload: bytes):
        if not self.connected:
            return None  # on_connect publishes it
        info = self.client.publish(topic, payload, qos=1, retain=True)
        return info if info.rc == PUBLISHED else None

    # ----- paho callbacks (paho's thread) ----------------------------------------------------------

    def _set_state(self, connected: bool, error: str | None) -> None:
        with self._lock:
            self._state = LinkState(connected, error)

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            error = f"broker {self._host}:{self._port} refused the connection: {reason_code}"
            logger.error("%s; retrying", error)
            self._set_state(False, error)
            return
        self._set_state(True, None)
        logger.info("connected to %s:%d", self._host, self._port)
        client.publish(f"{self.root}/available", "online", qos=1, retain=True)
        client.subscribe(f"{self.root}/+/set", qos=1)
        for topic in self._subscriptions:
            client.subscribe(topic, qos=1)
        with self._lock:
            retained, status = list(self._retained.items()), self._status
        for topic, payload in retained:
            client.publish(topic, payload, qos=1, retain=True)
        if status is not None:
            client.publish(f"{self.root}/status", status, qos=1, retain=True)
        self._wake()

    def _on_connect_fail(self, client, userdata) -> None:
        error = f"broker {self._host}:{self._port} unreachable"
        if self.error != error:  # one line per state change, not per retry
            logger.warning("%s; spooling and retrying", error)
        self._set_state(False, error)

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected and not self._closing:
            logger.warning("disconnected from the broker (%s); spooling", reason_code)
        state = self._state
        # After a refused connection paho disconnects too: keep the reason it was refused.
        error = state.error if not state.connected else f"disconnected from the broker: {reason_code}"
        self._set_state(False, None if self._closing else error)
        # paho keeps what it holds in flight and sends it again after reconnecting.

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            entry = self._inflight.pop(mid, None)
            if entry is None:
                # Not ours (status, state), or the PUBACK beat the pump recording the mid.
                self._early[mid] = reason_code
                return
        self._acknowledged(entry, reason_code)

    def _acknowledged(self, entry: tuple[str, int], reason_code) -> None:
        """The broker has it: the pump deletes it from the spool (or the hold), in batches;
        a crash before that only means the message is sent again, with the same id."""
        if reason_code.is_failure:
            logger.error("broker refused a message: %s; dropping it", reason_code)
        kind, number = entry
        with self._lock:
            (self._acked.append if kind == SPOOLED else self._direct_acked.add)(number)
        self._wake()

    def _on_message_arrived(self, client, userdata, message) -> None:
        self._on_message(message.topic, message.payload, message.retain)
