"""Held plays for the held proof of play's tests: an hour of schedule and audience plays,
ledgers and counters as the kiosk makes them, what would be published."""

from __future__ import annotations

import datetime as dt
import logging

from signage.config import Config
from signage.contributors import Contributions
from signage.faults import Barrier
from signage.kiosk.counting import AudienceCounter
from signage.playlist.player import PlayRecord
from signage.telemetry.ledger import Ledger, Totals
from signage.telemetry.held import HeldUnreadable
from signage.telemetry.metrics import play_message, totals_message

MIN_GROUP = 3
HOUR = dt.datetime(2026, 11, 23, 10, 0)
TRACKS = [8_123_456_789_012_345 + 7 * i for i in range(6)]  # as the tracker's: large, random-looking


def people(present: int, looking: int, seconds: float = 4.0, expression: str | None = "happy") -> Contributions:
    who = Contributions()
    for track in TRACKS[:present]:
        who.present[track] = seconds
    for track in TRACKS[:looking]:
        who.looking[track] = seconds
        if expression:
            who.expressions.setdefault(expression, {})[track] = seconds
    return who


def record(minute: int, creative: str, who: Contributions, audience: bool = False, touched: bool = False,
           seconds: float = 20.0) -> PlayRecord:
    start = HOUR + dt.timedelta(minutes=minute)
    return PlayRecord(creative, "someone-looking" if audience else "default", start.isoformat() + "Z",
                      (start + dt.timedelta(seconds=seconds)).isoformat() + "Z", seconds, "duration",
                      peak_faces=who.ots, mean_faces=float(who.ots), peak_looking=who.viewers,
                      looking_seconds=sum(who.looking.values()),
                      expressions={"happy": sum(who.looking.values())} if who.looking else {},
                      audience=audience, people=who, touched=touched)


def ledger(min_group: int = MIN_GROUP) -> Ledger:
    """A ledger as the kiosk's counter makes it."""
    config = Config.model_validate({"site": "lab", "device": "sd", "privacy": {"min_group": min_group}})
    return AudienceCounter(config, Barrier(logging.getLogger("test")), lambda kind, message: None,
                           lambda: 0.0, lambda: HOUR.replace(tzinfo=dt.timezone.utc)).ledger


def schedule_only(passers: list[int]) -> Ledger:
    """An hour holding the schedule's plays only: one before a crowd, one with one person."""
    kept = ledger()
    kept.saw(passers, HOUR + dt.timedelta(minutes=1))
    for item in (record(2, "idle-a", people(4, 4)), record(3, "idle-b", people(1, 1))):
        kept.add(item, hold=True)
    return kept


def held_ledger(passers: list[int]) -> Ledger:
    """An hour holding a schedule play before a crowd, one with one person, an audience
    play for a crowd, one for one person, and a schedule play an audience play cut."""
    kept = schedule_only(passers)
    for item in (record(4, "look", people(4, 4), audience=True), record(5, "look", people(1, 1), audience=True),
                 record(6, "idle-a", people(1, 0), touched=True)):
        kept.add(item, hold=True)
    return kept


def published(items: list) -> list:
    """What would go out, without the random message ids."""
    out = []
    for item in items:
        if isinstance(item, Totals):
            out.append(item)
        else:
            out.append(play_message(item, "lab", "sd", MIN_GROUP).model_dump(exclude={"id"}))
    return out


def counter(tmp_path, keep) -> AudienceCounter:
    config = Config.model_validate({"site": "lab", "device": "sd", "playlists": str(tmp_path),
                                    "privacy": {"min_group": MIN_GROUP}})
    wall = lambda: dt.datetime(2026, 11, 23, 10, 30, tzinfo=dt.timezone.utc)  # noqa: E731
    return AudienceCounter(config, Barrier(logging.getLogger("test")), lambda kind, message: None,
                           lambda: 0.0, wall, keep=keep)


def restored_and_released_or_refused(read) -> None:
    """`read()` gives (hours, days) to restore, or refuses with HeldUnreadable: either way
    nothing else happens; what is restored releases only messages the wire accepts."""
    try:
        hours, days = read()
    except HeldUnreadable as exc:
        assert str(exc).startswith("held proof of play: ")
        return
    again = ledger()
    again.restore(hours, days)
    for item in again.due(HOUR + dt.timedelta(days=400), 30.0, final=True):
        if isinstance(item, Totals):
            totals_message(item, "lab", "sd")
        else:
            play_message(item, "lab", "sd", MIN_GROUP)
