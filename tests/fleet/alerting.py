"""What the alerts' tests share: a clock the test moves, and screens that say things."""

from __future__ import annotations

from datetime import timedelta

from signage.fleet.parse import parse
from tests.fleet import factory as f

T = f.T0.replace(tzinfo=None)
LOCK, OTHER_LOCK = "3f2a9c1b0d4e", "000000000001"


class Clock:
    def __init__(self):
        self.now = T

    def __call__(self):
        return self.now

    def at(self, minutes: float):
        self.now = T + timedelta(minutes=minutes)
        return self.now


def said(store, device: str, kind: str, body, minutes: float) -> None:
    raw = body if isinstance(body, bytes) else f.encode(body)
    store.write([parse("signage", f"signage/lab/{device}/{kind}", raw)], now=T + timedelta(minutes=minutes))


def online(store, device: str, minutes: float = 0, **status) -> None:
    said(store, device, "available", b"online", minutes)
    said(store, device, "status", f.status(device=device, **({"lock": LOCK} | status)), minutes)
