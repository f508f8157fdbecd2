"""Watching the kiosk's uplink from the broker's side: the metrics it would send, and
what a subscriber received, in order."""

from __future__ import annotations

import json

from tests.subscriber import Subscriber
from tests.support.waiting import wait_for

ROOT = "signage/lab/kiosk-1"


def metrics_payload(i: int) -> dict:
    return {"schema": 1, "id": f"msg-{i:04d}", "site": "lab", "device": "kiosk-1",
            "start": "2026-11-23T10:00:00Z", "end": "2026-11-23T10:01:00Z", "passers": i, "viewers": 0,
            "conversion": None, "attraction": None, "peak_faces": 0, "distance": {"suppressed": True},
            "dwell": {"suppressed": True}, "attention": {"suppressed": True}, "expressions": {"suppressed": True},
            "impressions": {}, "frames": 0, "dropped_frames": 0, "inference_ms": None}


def received_in_order(subscriber: Subscriber, count: int, timeout: float = 60) -> list[str]:
    """Message ids in arrival order, duplicates (same id) removed, once `count` arrived."""
    def distinct() -> list[str] | None:
        ids: list[str] = []
        for message in subscriber.on("/metrics"):
            identifier = message.json()["id"]
            if identifier not in ids:
                ids.append(identifier)
        return ids if len(ids) >= count else None

    return wait_for(distinct, f"{count} distinct metrics messages", timeout, every=0.1)


def subscribed(subscriber: Subscriber, url: str) -> None:
    """The subscription exists (a probe comes back) before the test goes on."""
    probe = Subscriber(url, "nothing/here")
    try:
        for _ in range(40):  # until the subscription is in place (it is made on connect, asynchronously)
            probe.client.publish(f"{ROOT}/metrics", json.dumps({"id": "probe"}), qos=1).wait_for_publish(5)
            try:
                subscriber.wait_for(lambda m: m.payload == b'{"id": "probe"}', timeout=0.5)
                return
            except AssertionError:
                continue
        raise AssertionError("the subscription never came up")
    finally:
        probe.close()
