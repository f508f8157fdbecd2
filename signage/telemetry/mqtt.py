"""The one module that talks MQTT (paho-mqtt 2.x).

Conventions Home Assistant users know from Frigate: `<root>/available` is `online`
after connect, `stopped` after a clean exit and `offline` (the last will) when the
device dies; `<root>/status` is retained. Unlike Frigate we never drop a message
while disconnected: metrics and plays go into the on-disk spool first and are deleted
only when the broker acknowledges them (PUBACK). We hand paho at most `WINDOW`
messages at a time, so its own in-memory queue stays small; after a reconnect paho
re-sends those, and after a restart the spool does.

Threads: paho's network thread runs the callbacks; our pump thread moves messages
from the spool to paho. They share only the in-flight map, under a lock.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
import time
import urllib.parse
from typing import Callable

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from signage.config import MqttConfig
from signage.telemetry.commands import Command, CommandRejected, parse
from signage.telemetry.spool import Spool
from signage.threads import name_os_thread

logger = logging.getLogger(__name__)

WINDOW = 100  # messages handed to paho and not yet acknowledged


def broker_address(url: str) -> tuple[str, int, bool]:
    """(host, port, tls) from mqtt://host:port or mqtts://host:port."""
    parsed = urllib.parse.urlparse(url if "://" in url else f"mqtt://{url}")
    if parsed.scheme not in ("mqtt", "mqtts", "tcp", "ssl"):
        raise ValueError(f"mqtt.url {url!r}: use mqtt://host:port or mqtts://host:port")
    tls = parsed.scheme in ("mqtts", "ssl")
    return parsed.hostname or "localhost", parsed.port or (8883 if tls else 1883), tls


class Telemetry:
    def __init__(self, config: MqttConfig, site: str, device: str, spool: Spool,
                 on_command: Callable[[Command], str] | None = None, client_id: str | None = None):
        self.config, self.site, self.device, self.spool = config, site, device, spool
        self.root = f"{config.topic_root}/{site}/{device}"
        self.on_command = on_command
        self.connected = False
        self.last_error: str | None = None
        self.published = 0  # acknowledged by the broker
        self._status: bytes | None = None
        self._retained: dict[str, bytes] = {}  # state echoes, republished on every connect
        self._inflight: dict[int, int] = {}  # paho mid -> spool row
        self._early: dict[int, object] = {}  # PUBACKs that arrived before the mid was recorded
        self._acked: list[int] = []  # spool rows the broker acknowledged, to delete
        self._sent_up_to = 0  # highest spool row handed to paho
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._pump: threading.Thread | None = None
        host, port, tls = broker_address(config.url)
        self._host, self._port = host, port
        protocol = paho.MQTTv5 if config.protocol == "5" else paho.MQTTv311
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or f"signage-{site}-{device}",
                                  protocol=protocol)
        self.client.will_set(f"{self.root}/available", "offline", qos=1, retain=True)
        if config.username:
            self.client.username_pw_set(config.username, config.password)
        if tls or config.tls:
            options = config.tls
            self.client.tls_set(ca_certs=options.ca if options else None,
                                certfile=options.cert if options else None,
                                keyfile=options.key if options else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            if options and options.insecure:
                self.client.tls_insecure_set(True)
        self.client.reconnect_delay_set(min_delay=1, max_delay=60)
        self.client.max_inflight_messages_set(WINDOW)
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_publish = self._on_publish
        self.client.on_message = self._on_message
        self.client.on_connect_fail = self._on_connect_fail

    # ----- life cycle --------------------------------------------------------------------

    def start(self) -> None:
        self.client.connect_async(self._host, self._port, keepalive=self.config.keepalive)
        self.client.loop_start()
        self._pump = threading.Thread(target=self._pump_loop, name="telemetry", daemon=True)
        self._pump.start()

    def alive(self) -> bool:
        """The pump thread runs (paho's own thread reconnects by itself)."""
        return self._pump is not None and self._pump.is_alive()

    def broker_state(self) -> str:
        return "connected" if self.connected else (self.last_error or "connecting")

    def state(self, feature: str) -> str | None:
        """The value last echoed on <root>/<feature>/state, if any."""
        value = self._retained.get(f"{self.root}/{feature}/state")
        return value.decode() if value is not None else None

    def refuse(self, feature: str, reason: str) -> None:
        """Refuse a command that passed parsing but not the running state."""
        self._refuse(f"{self.root}/{feature}/set", reason)

    def stop(self, timeout: float = 3.0, final_status=None, clean: bool = True) -> None:
        """Exit: drain what the broker takes within `timeout`, publish the final status
        (`final_status()`, built after draining), then `stopped` if `clean`; after a
        crash the last will (`offline`) is left to the broker."""
        deadline = time.monotonic() + timeout
        while self.connected and self.spool.depth and time.monotonic() < deadline:
            self._wake.set()
            time.sleep(0.02)
        self._stopping.set()
        self._wake.set()
        if self._pump:
            self._pump.join(timeout=2)
        self._delete_acknowledged()
        if final_status is not None:
            status = final_status()
            status["broker"] = "stopped" if clean else "offline"
            self.set_status(status)
        if self.connected and clean:
            info = self.client.publish(f"{self.root}/available", "stopped", qos=1, retain=True)
            try:
                info.wait_for_publish(timeout=max(0.1, deadline - time.monotonic()))
            except (RuntimeError, ValueError):
                pass
        if clean:
            self.client.disconnect()
        else:  # drop the connection without DISCONNECT: the broker publishes the will
            self.client.socket() and self.client.socket().close()
        self.client.loop_stop()
        self.spool.close()

    # ----- what the controller sends -------------------------------------------------------

    def send(self, kind: str, message: dict) -> None:
        """Spool a metrics or play message (QoS 1); it leaves when the broker is there."""
        self.spool.put(f"{self.root}/{kind}", json.dumps(message, separators=(",", ":")).encode(), qos=1)
        self._wake.set()

    def set_status(self, status: dict) -> None:
        """The retained status: published now if connected, and on every connect."""
        self._status = json.dumps(status, separators=(",", ":")).encode()
        if self.connected:
            self.client.publish(f"{self.root}/status", self._status, qos=1, retain=True)

    def set_state(self, feature: str, value: str) -> None:
        """Echo a feature's value, retained, on <root>/<feature>/state."""
        topic = f"{self.root}/{feature}/state"
        self._retained[topic] = value.encode()
        if self.connected:
            self.client.publish(topic, value, qos=1, retain=True)

    def publish_retained(self, topic: str, payload: bytes) -> None:
        """A retained message outside our root (Home Assistant discovery)."""
        self._retained[topic] = payload
        if self.connected:
            self.client.publish(topic, payload, qos=1, retain=True)

    # ----- paho callbacks (paho's thread) ---------------------------------------------------

    def _on_connect(self, client, userdata, flags, reason_code, properties) -> None:
        if reason_code.is_failure:
            self.last_error = f"broker {self._host}:{self._port} refused the connection: {reason_code}"
            logger.error("%s; retrying", self.last_error)
            return
        self.connected = True
        self.last_error = None
        logger.info("connected to %s:%d", self._host, self._port)
        client.publish(f"{self.root}/available", "online", qos=1, retain=True)
        client.subscribe(f"{self.root}/+/set", qos=1)
        for topic, payload in list(self._retained.items()):
            client.publish(topic, payload, qos=1, retain=True)
        if self._status is not None:
            client.publish(f"{self.root}/status", self._status, qos=1, retain=True)
        self._wake.set()

    def _on_connect_fail(self, client, userdata) -> None:
        error = f"broker {self._host}:{self._port} unreachable"
        if self.last_error != error:  # one line per state change, not per retry
            logger.warning("%s; spooling and retrying", error)
        self.last_error = error

    def _on_disconnect(self, client, userdata, flags, reason_code, properties) -> None:
        if self.connected and not self._stopping.is_set():
            logger.warning("disconnected from the broker (%s); spooling", reason_code)
        self.connected = False
        # paho keeps what it holds in flight and re-sends it after reconnecting.

    def _on_publish(self, client, userdata, mid, reason_code, properties) -> None:
        with self._lock:
            row = self._inflight.pop(mid, None)
            if row is None:
                # Not ours (status, state), or the PUBACK beat the pump recording the mid.
                self._early[mid] = reason_code
                return
        self._acknowledged(row, reason_code)

    def _acknowledged(self, row: int, reason_code) -> None:
        """The broker has it: the pump deletes it from the spool (in batches: one
        transaction per batch, not per message; a crash before that only means the
        message is sent again, with the same id)."""
        if reason_code.is_failure:
            self.last_error = f"broker refused a message: {reason_code}"
            logger.error("%s; dropping it", self.last_error)
        with self._lock:
            self._acked.append(row)
        self.published += 1
        self._wake.set()

    def _delete_acknowledged(self) -> None:
        with self._lock:
            rows, self._acked = self._acked, []
        if rows:
            self.spool.ack(*rows)

    def _on_message(self, client, userdata, message) -> None:
        try:
            command = parse(self.root, message.topic, message.payload)
        except CommandRejected as exc:
            self._refuse(message.topic, str(exc))
            return
        if self.on_command is None:
            self._refuse(message.topic, "this device takes no commands")
            return
        try:
            state = self.on_command(command)
        except CommandRejected as exc:
            self._refuse(message.topic, str(exc))
            return
        self.set_state(command.feature, state)

    def _refuse(self, topic: str, reason: str) -> None:
        logger.warning("command on %s refused: %s", topic[:120], reason)
        self.client.publish(f"{self.root}/error", json.dumps({"topic": topic[:200], "error": reason}), qos=1)

    # ----- pump (our thread) -----------------------------------------------------------------

    def _pump_loop(self) -> None:
        name_os_thread()
        while not self._stopping.is_set():
            self._wake.wait(0.2)
            self._wake.clear()
            self._delete_acknowledged()
            if not self.connected:
                continue
            with self._lock:
                room = WINDOW - len(self._inflight)
                after = self._sent_up_to
            if room <= 0:
                continue
            for message in self.spool.oldest(room, after=after):
                # Not under our lock: paho calls on_publish holding its own, and we must
                # not hold ours while waiting for it.
                info = self.client.publish(message.topic, message.payload, qos=message.qos, retain=message.retain)
                if info.rc not in (paho.MQTT_ERR_SUCCESS, paho.MQTT_ERR_NO_CONN):
                    break
                with self._lock:
                    self._sent_up_to = message.row
                    early = self._early.pop(info.mid, None)
                    if early is None:
                        self._inflight[info.mid] = message.row
                if early is not None:
                    self._acknowledged(message.row, early)
            with self._lock:
                self._early.clear()  # acks of non-spooled messages


def probe_broker(config: MqttConfig, timeout: float = 5.0) -> str | None:
    """Connect once (for `signage doctor`): None when the broker accepts us, else why not."""
    host, port, tls = broker_address(config.url)
    protocol = paho.MQTTv5 if config.protocol == "5" else paho.MQTTv311
    client = paho.Client(CallbackAPIVersion.VERSION2, client_id="", protocol=protocol)
    if config.username:
        client.username_pw_set(config.username, config.password)
    answered, result = threading.Event(), []

    def on_connect(client, userdata, flags, reason_code, properties):
        result.append(None if not reason_code.is_failure else f"the broker refused the connection: {reason_code}")
        answered.set()

    client.on_connect = on_connect
    try:
        if tls or config.tls:
            options = config.tls
            client.tls_set(ca_certs=options.ca if options else None, certfile=options.cert if options else None,
                           keyfile=options.key if options else None, tls_version=ssl.PROTOCOL_TLS_CLIENT)
            if options and options.insecure:
                client.tls_insecure_set(True)
        client.connect(host, port, keepalive=max(5, int(timeout)))
    except (OSError, ssl.SSLError, ValueError) as exc:
        return f"cannot reach {host}:{port}: {exc}"
    client.loop_start()
    try:
        if not answered.wait(timeout):
            return f"{host}:{port} did not answer within {timeout:g} s"
        return result[0]
    finally:
        client.disconnect()
        client.loop_stop()
