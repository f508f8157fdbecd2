"""Refused commands, told at a bounded cost. A flood of bad commands must not wear the SD
card with log lines nor fill the fleet's history with errors: in each window the first
few refusals are logged and published one by one, the rest are counted and told in one
line (and one error message) when the window ends."""

from __future__ import annotations

import logging
import threading
import time
from typing import Callable

logger = logging.getLogger(__name__)

WINDOW_S = 60.0
BURST = 3  # refusals told one by one per window: enough to see what is wrong


class Refusals:
    """Any thread may call `refuse`; `flush` tells what a finished window held back."""

    def __init__(self, publish: Callable[[str, str], None], window_s: float = WINDOW_S, burst: int = BURST,
                 clock: Callable[[], float] = time.monotonic):
        self._publish, self.window_s, self.burst, self._clock = publish, window_s, burst, clock
        self._lock = threading.Lock()
        self._since: float | None = None  # when the current window began; None: no refusal in it yet
        self._told = 0
        self._held = 0
        self._latest: tuple[str, str] = ("", "")
        self.total = 0  # refusals since start, told or not

    def refuse(self, topic: str, reason: str) -> None:
        self.flush()
        with self._lock:
            self.total += 1
            if self._since is None:
                self._since = self._clock()
            tell = self._told < self.burst
            if tell:
                self._told += 1
            else:
                self._held += 1
                self._latest = (topic, reason)
        if tell:
            self._tell(topic, reason)

    def flush(self, force: bool = False) -> None:
        """At the end of a window (or now, with force): one line for what it held back."""
        with self._lock:
            if self._since is None or not (force or self._clock() - self._since >= self.window_s):
                return
            held, (topic, reason), since = self._held, self._latest, self._since
            self._since, self._told, self._held = None, 0, 0
        if held:
            self._tell(topic, f"refused {held:,} more commands in the last {self._clock() - since:.0f} s; "
                              f"the latest: {reason}")

    def _tell(self, topic: str, reason: str) -> None:
        logger.warning("command on %s refused: %s", topic[:120], reason)
        try:
            self._publish(topic, reason)
        except Exception:  # noqa: BLE001 - telling the fleet is best effort; the log has it
            logger.exception("the refusal could not be published")
