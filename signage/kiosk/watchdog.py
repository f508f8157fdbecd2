"""The systemd watchdog: WATCHDOG=1 only while every thread is making progress, so a
hung thread (a camera driver stuck in a read, a stuck accelerator) gets the service
restarted. A thread that failed and recovered is making progress again: it is fed."""

from __future__ import annotations

import logging
from typing import Callable

from signage.kiosk.systemd import Notifier

logger = logging.getLogger(__name__)


class Watchdog:
    def __init__(self, notifier: Notifier, clock: Callable[[], float]):
        self.notifier, self._clock = notifier, clock
        self._last = float("-inf")
        self.withholding: str | None = None  # why, while withheld

    def feed(self, stuck: Callable[[float], str | None]) -> None:
        """`stuck(stale)` names a thread silent for `stale` seconds, or None."""
        interval = self.notifier.watchdog_interval()
        if interval is None or self._clock() - self._last < interval:
            return
        self._last = self._clock()
        stale = max(2 * interval, 2.0)  # a thread silent this long counts as hung
        culprit = stuck(stale)
        if culprit is None:
            if self.withholding:
                logger.info("every thread progresses again: feeding the watchdog")
                self.withholding = None
            self.notifier.watchdog()
        elif self.withholding != culprit:
            self.withholding = culprit
            logger.error("%s made no progress for %.0f s: withholding the watchdog so systemd restarts us",
                         culprit, stale)
