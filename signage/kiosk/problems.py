"""What is wrong right now, and the fault barrier that keeps the main loop turning.

`Problems` holds one line per topic ("vision", "config", "creative:promo", ...): a
topic is set while its fault lasts and cleared when it is over, so status never
shows a stale error. The newest active problem is status's `last_error`.
"""

from __future__ import annotations

import logging
from collections import Counter
from typing import Callable, TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")
MAX_TOPICS = 50  # a flood of distinct problems must not grow memory


class Problems:
    def __init__(self):
        self._active: dict[str, str] = {}  # insertion order: oldest first

    def set(self, topic: str, message: str) -> None:
        self._active.pop(topic, None)
        self._active[topic] = message
        while len(self._active) > MAX_TOPICS:
            self._active.pop(next(iter(self._active)))

    def clear(self, topic: str) -> None:
        self._active.pop(topic, None)

    def clear_where(self, predicate: Callable[[str], bool]) -> None:
        for topic in [t for t in self._active if predicate(t)]:
            del self._active[topic]

    def get(self, topic: str) -> str | None:
        return self._active.get(topic)

    @property
    def last(self) -> str | None:
        return next(reversed(self._active.values()), None)

    def all(self) -> list[str]:
        return list(self._active.values())


class Barrier:
    """Runs one step of a loop; an unexpected exception is logged with its traceback
    once per kind, counted, reported as a problem while it lasts, and the loop goes on.

    A fault barrier, not error handling: the expected failures (bad media, broken
    files, a broker that is down) are handled where they happen. This is for the bug
    nobody foresaw, so that it costs one step, not the kiosk.
    """

    def __init__(self, problems: Problems):
        self.problems = problems
        self.counts: Counter[str] = Counter()
        self._logged: set[tuple[str, str]] = set()

    def run(self, step: str, function: Callable[..., T], *args) -> T | None:
        try:
            result = function(*args)
        except Exception as exc:  # noqa: BLE001 - this is the barrier
            self.counts[step] += 1
            kind = (step, f"{type(exc).__name__}: {exc}"[:300])
            if kind not in self._logged:
                if len(self._logged) > 200:
                    self._logged.clear()
                self._logged.add(kind)
                logger.exception("unexpected fault in %s (the kiosk carries on; counted in status)", step)
            self.problems.set(f"fault:{step}", f"{step}: {type(exc).__name__}: {str(exc)[:200]}")
            return None
        if self.counts[step]:
            self.problems.clear(f"fault:{step}")
        return result

    @property
    def total(self) -> int:
        return sum(self.counts.values())
