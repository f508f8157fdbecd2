"""The one way tests wait for something to happen: polled, with a deadline that only
turns a hang into a failure (never a timing assertion)."""

from __future__ import annotations

import time
from typing import Callable, TypeVar

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], what: str, timeout: float = 30.0, every: float = 0.05,
             watch: Callable[[], None] | None = None, progress: Callable[[], object] | None = None,
             at_most: float = 600.0) -> T:
    """Poll until `predicate()` returns something true, and return that. After `timeout`
    seconds: an AssertionError naming `what` and the last value seen.

    `watch()`, if given, runs before each poll and raises to stop early (a process that
    died). `progress()`, if given, returns a value that changes while the awaited work
    moves on (rows stored, CPU time a child used): the `timeout` then counts from its
    last change, so work that a busy machine slows down is waited for and only a
    standstill fails (or `at_most` seconds in all)."""
    started = time.monotonic()
    deadline = started + timeout
    moved = progress() if progress is not None else None
    while True:
        if watch is not None:
            watch()
        value = predicate()
        if value:
            return value
        now = time.monotonic()
        if progress is not None:
            latest = progress()
            if latest != moved:
                moved, deadline = latest, min(now + timeout, started + at_most)
        if now >= deadline:
            still = f", nothing moved for {timeout:g} s" if progress is not None else ""
            raise AssertionError(f"timed out after {now - started:.0f} s{still} waiting for {what} "
                                 f"(last: {value!r:.300})")
        time.sleep(every)
