"""Wall-clock time as published: the one spelling of a UTC timestamp on the wire.

Durations never use this (they use `time.monotonic()`): a Pi has no RTC and its wall
clock jumps at NTP sync; wall time appears only in published timestamps."""

from __future__ import annotations

import datetime as dt


def utc_iso(moment: dt.datetime) -> str:
    """`moment` (aware, any zone) as UTC ISO 8601 to the second: 2026-11-23T10:00:00Z."""
    return moment.astimezone(dt.timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")
