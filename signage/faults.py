"""The one fault barrier, and the one "log once per kind", for every loop and thread.

A barrier is not error handling: the failures we expect (bad media, a broker that is
down, a broken playlist) are handled where they happen. It is for the bug nobody
foresaw, so that it costs one step of a loop, never the loop, its thread or the
process. Each fault is counted; its traceback is logged the first time its kind is
seen (the step, the exception's type and the line that raised it: the same bug at the
same place, whatever its message says), then only counted; and whoever runs the loop
is told, through `report`, of the fault and of the recovery (the kiosk shows it in
status while it lasts). Back-off is the loop's own choice; `failing(step)` tells it
how many steps in a row have failed.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import Counter
from typing import Callable, Hashable, TypeVar

T = TypeVar("T")

# Told of a fault (the exception) and of the recovery (None) of a step.
Report = Callable[[str, "BaseException | None"], None]


class LogOnce:
    """The kinds already logged: `first(kind)` is true once per kind. Bounded: past
    LIMIT kinds it starts afresh, so a flood of distinct faults logs again now and then
    rather than growing memory."""

    LIMIT = 200

    def __init__(self) -> None:
        self._seen: set[Hashable] = set()
        self._lock = threading.Lock()

    def first(self, kind: Hashable) -> bool:
        with self._lock:
            if kind in self._seen:
                return False
            if len(self._seen) >= self.LIMIT:
                self._seen.clear()
            self._seen.add(kind)
            return True


def kind_of(exc: BaseException) -> tuple:
    """The exception's type and the line that raised it (its message may carry data that
    changes every time: it is no part of the kind)."""
    frames = traceback.extract_tb(exc.__traceback__)
    return (type(exc).__name__, *((frames[-1].filename, frames[-1].lineno) if frames else ()))


def describe(exc: BaseException, limit: int = 300) -> str:
    """One line: the exception's type and message."""
    return f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:limit]


class Barrier:
    """Runs the steps of one loop (or of the few loops of one object): an unexpected
    exception in a step is counted, logged with its traceback once per kind, reported,
    and `run` returns None; the first success after a fault is reported and, once per
    kind of fault, logged. Any thread may run steps; a step's name belongs to one thread.

    `log_once`: shared by barriers whose kinds should be logged once between them (one
    barrier per video, one log for all videos)."""

    def __init__(self, logger: logging.Logger, report: Report | None = None, log_once: LogOnce | None = None):
        self._logger, self._report = logger, report
        self._once = log_once or LogOnce()
        self._lock = threading.Lock()
        self._failing: dict[str, tuple[int, tuple, str]] = {}  # step -> failures in a row, last kind, last text
        self.counts: Counter[str] = Counter()  # faults by step since the start

    def run(self, step: str, function: Callable[..., T], *args) -> T | None:
        try:
            result = function(*args)
        except Exception as exc:  # noqa: BLE001 - this is the barrier
            self._failed(step, exc)
            return None
        if step in self._failing:
            self._recovered(step)
        return result

    def failing(self, step: str) -> int:
        """How many runs of `step` in a row have failed (0: its last run succeeded)."""
        return self._failing.get(step, (0,))[0]

    @property
    def total(self) -> int:
        """Faults survived since the start, every step together."""
        return sum(self.counts.values())

    @property
    def last_error(self) -> str | None:
        """The newest fault of a step that is still failing, one line; None when none is."""
        failing = list(self._failing.values())
        return failing[-1][2] if failing else None

    def _failed(self, step: str, exc: Exception) -> None:
        kind = kind_of(exc)
        with self._lock:
            self.counts[step] += 1
            streak = self.failing(step) + 1
            self._failing.pop(step, None)  # re-inserted: the newest failing step is the last
            self._failing[step] = (streak, kind, describe(exc))
        if self._once.first((step, *kind)):
            self._logger.error("%s failed unexpectedly (%s); it carries on (each kind of fault is logged once, "
                               "then counted)", step, describe(exc, 200), exc_info=exc)
        self._tell(step, exc)

    def _recovered(self, step: str) -> None:
        with self._lock:
            streak, kind, _ = self._failing.pop(step, (0, (), ""))
        if not streak:
            return
        if self._once.first(("recovered", step, *kind)):
            self._logger.info("%s: working again after %d failed step(s)", step, streak)
        self._tell(step, None)

    def _tell(self, step: str, exc: BaseException | None) -> None:
        if self._report is None:
            return
        try:
            self._report(step, exc)
        except Exception as failure:  # noqa: BLE001 - telling must not become a fault of its own
            if self._once.first(("report", step, *kind_of(failure))):
                self._logger.error("%s: reporting its fault failed (%s)", step, describe(failure), exc_info=failure)
