"""The one way tests wait for something to happen: polled, with a deadline that only
turns a hang into a failure (never a timing assertion)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.05,
             watch: Callable[[], None] | None = None) -> T:
    """Poll until `predicate()` returns something true, and return that. `watch()`, if
    given, runs before each poll and raises to stop early (a process that died). After
    `timeout` seconds: an AssertionError naming `what` and the last value seen."""
    started = time.monotonic()
    deadline = started + timeout
    while True:
        if watch is not None:
            watch()
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        if now >= deadline:
            raise AssertionError(f"timed out after {now - started:.0f} s waiting for {what} (last: {value!r:.300})")
        time.sleep(every)
