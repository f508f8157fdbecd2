"""What is wrong right now.

`Problems` holds one line per topic ("vision", "config", "creative:promo", ...): a
topic is set while its fault lasts and cleared when it is over, so status never
shows a stale error. The newest active problem is status's `last_error`. The kiosk's
fault barrier (faults.py) reports each step's fault here ("fault:<step>") while it lasts.
"""

from __future__ import annotations

from typing import Callable

from signage.faults import describe

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

    def report_fault(self, step: str, exc: BaseException | None) -> None:
        """The kiosk's barrier reports here: a step's fault is a problem until it works again."""
        if exc is None:
            self.clear(f"fault:{step}")
        else:
            self.set(f"fault:{step}", f"{step}: {describe(exc, 250)}")
