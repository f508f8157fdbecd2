"""Polling for a condition in the fleet tests."""

from __future__ import annotations

import time


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):
    """Poll until predicate() is true (an event, not a timing assertion)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what} not reached within {timeout} s")
