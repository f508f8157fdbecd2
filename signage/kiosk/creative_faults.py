"""Creatives that cannot be shown, as a problem in status and an ERROR line in the journal,
never at the moment an audience rule chose one.

A creative the schedule has on screen (the default loop, a daypart, a command: what
status names as playing) is reported the moment it fails: the schedule runs as if
nobody were there, so that moment says nothing about people. One an audience rule chose
fails at a moment someone was there, and says which creative the rule picked for them:
it is held like the audience plays (signage/telemetry/ledger.py, reused) and reported
when its period is released: at the end of its UTC hour if at least `min_group` people
passed in it, else at the end of its day, naming the creative if `min_group` people
passed that day, else only that an audience creative cannot be shown. The screen does
not wait: the player skips the creative at once and the screen stays lit.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Callable

from signage.clock import utc_iso
from signage.kiosk.problems import Problems
from signage.telemetry.ledger import AUDIENCE, Ledger

logger = logging.getLogger(__name__)

WITHHELD = ("a creative an audience rule chose cannot be shown (which one is withheld: fewer than "
            "privacy.min_group people passed that day); `signage preview` shows each creative")


@dataclass(frozen=True)
class _Fault:
    """A failure held as the ledger holds a play: an audience play of no length."""

    creative: str
    start: str  # UTC ISO 8601
    seconds: float = 0.0
    audience: bool = True
    touched: bool = False


class CreativeFaults:
    """Main thread only. `wall`: the wall clock (aware), for the periods."""

    def __init__(self, problems: Problems, min_group: int, wall: Callable[[], dt.datetime]):
        self._problems, self._wall = problems, wall
        self._reasons: dict[str, str] = {}  # creative -> why, for the faults held
        self.min_group = min_group
        self._held = self._new_ledger()

    def failed(self, creative: str, reason: str, scheduled: bool) -> None:
        """`creative` cannot be shown; `scheduled`: it was the schedule's, on screen."""
        if scheduled or self.min_group <= 1:  # (a min_group of 1: the operator publishes about one person)
            self._report(creative, reason)
            return
        self._reasons[creative] = reason
        self._held.add(_Fault(creative, utc_iso(self._wall())), hold=True)

    def saw(self, tracks: Iterable[int], now: dt.datetime) -> None:
        """These people (track numbers, RAM only) were in view at `now`: who passed in a period."""
        self._held.saw(tracks, now)

    def release(self, final: bool = False) -> None:
        """A loop step: report what the periods over by now release (with `final`, all)."""
        for totals in self._held.due(self._wall(), 0.0, final):
            for creative in totals.creatives:
                if creative == AUDIENCE:
                    self._report(AUDIENCE, WITHHELD)
                elif creative in self._reasons:
                    self._report(creative, self._reasons[creative])

    def forget(self) -> None:
        """A new playlist: its media are new, nothing held about the old ones is reported."""
        self._reasons.clear()

    def follow(self, min_group: int) -> None:
        """A reload: what is held is reported as it is (as the plays are), then the new minimum group."""
        if min_group != self.min_group:
            self.release(final=True)
            self.min_group = min_group
            self._held = self._new_ledger()

    def _new_ledger(self) -> Ledger:
        return Ledger(self.min_group)  # a fault is held as an audience play: only ever in a period's totals

    def _report(self, creative: str, reason: str) -> None:
        topic = f"creative:{creative}"
        message = reason if creative == AUDIENCE else f"creative {creative} cannot be shown: {reason}"
        if self._problems.get(topic) == message:
            return  # reported already: one journal line while it lasts
        self._problems.set(topic, message)
        logger.error("%s", message)
