"""A separate MQTT client that records everything it receives."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass

import paho.mqtt.client as paho
from paho.mqtt.enums import CallbackAPIVersion

from signage.config import parse_broker_url
from tests.support.waiting import wait_for


@dataclass
class Received:
    topic: str
    payload: bytes
    qos: int
    retain: bool

    def json(self):
        return json.loads(self.payload)


class Subscriber:
    def __init__(self, url: str, topic: str = "#", client_id: str | None = None, persistent: bool = False,
                 **tls):
        host, port, use_tls = parse_broker_url(url)
        self.messages: list[Received] = []
        self.lock = threading.Lock()
        self.client = paho.Client(CallbackAPIVersion.VERSION2, client_id=client_id or "",
                                  protocol=paho.MQTTv311, clean_session=not persistent)
        if use_tls:
            self.client.tls_set(**tls)
        self.subscribed = threading.Event()  # the broker acknowledged the subscription (SUBACK)
        self.client.on_connect = lambda c, u, f, rc, p: c.subscribe(topic, qos=1)
        self.client.on_subscribe = lambda c, u, mid, codes, p: self.subscribed.set()
        self.client.on_message = self._on_message
        self.client.connect(host, port)
        self.client.loop_start()
        if not self.subscribed.wait(10):  # tests go on once messages can arrive, not after a sleep
            self.close()
            raise AssertionError(f"no SUBACK for {topic!r} from {url} within 10 s")

    def _on_message(self, client, userdata, message):
        with self.lock:
            self.messages.append(Received(message.topic, message.payload, message.qos, message.retain))

    def on(self, suffix: str) -> list[Received]:
        with self.lock:
            return [m for m in self.messages if m.topic.endswith(suffix)]

    def wait_for(self, predicate, timeout: float = 10.0):
        """The newest message `predicate` accepts, once one has arrived."""
        def newest():
            with self.lock:
                found = [m for m in self.messages if predicate(m)]
            return found[-1] if found else None

        try:
            return wait_for(newest, "a matching message", timeout, every=0.02)
        except AssertionError:
            with self.lock:
                topics = [m.topic for m in self.messages][-20:]
            raise AssertionError(f"no matching message within {timeout} s; got {topics}") from None

    def close(self):
        self.client.disconnect()
        self.client.loop_stop()
