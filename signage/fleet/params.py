"""The query parameters of the pages, APIs and exports, checked in one place. A value that
is not allowed raises BadParameter, which the web app answers with 400 and the message:
what is wrong and what is allowed. Every date any page computes from them (a week back,
the next day) stays within the dates the database and Python can hold."""

from __future__ import annotations

from datetime import date, timedelta

EARLIEST = date(2000, 1, 1)
AHEAD_DAYS = 366  # a report may end up to a year ahead (a campaign being planned)
LONGEST_DAYS = 400  # days in one report or export
PERIODS = {"day": 1, "week": 7, "month": 30}
MAX_PAGE = 100_000
MAX_RETIRE_DAYS = 36_500


class BadParameter(ValueError):
    """A parameter a page cannot use; the message says which, why, and what is allowed."""


def latest(today: date) -> date:
    return today + timedelta(days=AHEAD_DAYS)


def day(name: str, text: str | None, default: date, today: date) -> date:
    """A day written YYYY-MM-DD, from EARLIEST to a year after today."""
    if not text:
        return default
    try:
        value = date.fromisoformat(text)
    except ValueError:
        raise BadParameter(f"{name}: {text[:20]!r} is not a date; write it YYYY-MM-DD") from None
    if not EARLIEST <= value <= latest(today):
        raise BadParameter(f"{name}: {value.isoformat()} is out of range; use a day from {EARLIEST.isoformat()} "
                           f"to {latest(today).isoformat()}")
    return value


def choice(name: str, text: str | None, allowed: list[str] | dict, default: str) -> str:
    if not text:
        return default
    if text not in allowed:
        raise BadParameter(f"{name}: {text[:20]!r} is not one of {', '.join(allowed)}")
    return text


def whole_number(name: str, text: str | None, default: int, lowest: int, highest: int) -> int:
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise BadParameter(f"{name}: {text[:20]!r} is not a whole number; use {lowest} to {highest}") from None
    if not lowest <= value <= highest:
        raise BadParameter(f"{name}: {value} is out of range; use {lowest} to {highest}")
    return value


def page(text: str | None) -> int:
    return whole_number("page", text, 1, 1, MAX_PAGE)


def retire_days(text: str | None) -> int:
    return whole_number("days", text, 30, 0, MAX_RETIRE_DAYS)


def period(end: str | None, span: str | None, today: date, start: str | None = None) -> tuple[date, date]:
    """[first, last] of a report: `span` days ending `end` (default today), or from `start`."""
    length = PERIODS[choice("span", span, PERIODS, "week")]
    last = day("end", end, today, today)
    first = day("start", start, max(EARLIEST, last - timedelta(days=length - 1)), today)
    if first > last:
        raise BadParameter(f"start {first.isoformat()} is after end {last.isoformat()}")
    if (last - first).days + 1 > LONGEST_DAYS:
        raise BadParameter(f"{(last - first).days + 1} days from start to end; at most {LONGEST_DAYS} at once")
    return first, last


def screen_days(text: str | None, span: str | None, today: date) -> tuple[date, date, str]:
    """(first, last, span) of a screen's page: the day, or the week ending on it."""
    span = choice("span", span, ["day", "week"], "day")
    last = day("day", text, today, today)
    first = max(EARLIEST, last - timedelta(days=6)) if span == "week" else last
    return first, last, span
