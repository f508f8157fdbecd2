"""The fleet's time: naive UTC datetimes, as its database stores them, and one spelling of
a timestamp for the exports, the API and the messages the demo makes."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

ANSWER_SECONDS = 60  # a screen that has not answered a command by then will not


def now_utc() -> datetime:
    return datetime.now(timezone.utc).replace(tzinfo=None)


def day_start(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time())


def day_range(first: date, last: date) -> tuple[datetime, datetime]:
    """[first 00:00, last+1 00:00) as naive UTC datetimes."""
    return day_start(first), day_start(last + timedelta(days=1))


def iso(moment: datetime | None) -> str:
    """2026-03-01T10:00:00.000000Z, as a kiosk writes its timestamps; "" for none."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ") if moment else ""
