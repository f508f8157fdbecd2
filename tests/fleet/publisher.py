"""A device-side MQTT client for the ingest tests, and a count of what the store holds."""

from __future__ import annotations

from datetime import timedelta

import paho.mqtt.client as paho
import sqlalchemy as sa
from paho.mqtt.enums import CallbackAPIVersion

from signage.config import parse_broker_url
from signage.fleet.tables import metrics, plays
from tests.fleet import factory as f


class Publisher:
    """Publishes QoS 1 and waits for every PUBACK."""

    def __init__(self, url: str):
        host, port, _ = parse_broker_url(url)
        self.client = paho.Client(CallbackAPIVersion.VERSION2, protocol=paho.MQTTv5)
        self.client.connect(host, port)
        self.client.loop_start()

    def send(self, messages: list[tuple[str, bytes]], retain: bool = False) -> None:
        infos = [self.client.publish(topic, payload, qos=1, retain=retain) for topic, payload in messages]
        for info in infos:
            info.wait_for_publish(timeout=30)

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


def stored(store, table: sa.Table | None = None) -> int:
    """Metrics and plays in the store (or the rows of one table)."""
    with store.engine.begin() as conn:
        return sum(conn.execute(sa.select(sa.func.count()).select_from(t)).scalar()
                   for t in ([table] if table is not None else [metrics, plays]))


def messages(n: int, device: str = "a") -> list[tuple[str, bytes]]:
    """n valid device messages: a metrics message every third, plays between."""
    out = []
    for i in range(n):
        body = (f.metrics(device=device, start=f.T0 + timedelta(minutes=i)) if i % 3 == 0
                else f.play(device=device, start=f.T0 + timedelta(seconds=10 * i)))
        out.append((f.topic(body, "metrics" if i % 3 == 0 else "play"), f.encode(body)))
    return out
