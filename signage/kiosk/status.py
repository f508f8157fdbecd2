"""The retained status message: published at once when something changed, else
every STATUS_EVERY_S (uptime and spool depth move all the time and do not count as
a change). Building it queries the spool, so the loop looks at most every
STATUS_CHECK_S."""

from __future__ import annotations

import logging
from typing import Callable

logger = logging.getLogger(__name__)

STATUS_EVERY_S = 5.0
STATUS_CHECK_S = 0.25
_MOVING = ("uptime_s", "spool_depth", "spool_held")


class StatusPublisher:
    def __init__(self, clock: Callable[[], float]):
        self._clock = clock
        self._last_check = float("-inf")
        self._last_sent = float("-inf")
        self._last_shown: dict | None = None

    def maybe_publish(self, build: Callable[[], dict], publish: Callable[[dict], None], force: bool = False) -> None:
        now = self._clock()
        if not force and now - self._last_check < STATUS_CHECK_S:
            return
        self._last_check = now
        status = build()
        steady = {k: v for k, v in status.items() if k not in _MOVING}
        if isinstance(steady.get("content"), dict):  # download progress moves too: shown every STATUS_EVERY_S
            steady["content"] = {k: v for k, v in steady["content"].items() if k != "done_bytes"}
        changed = steady != self._last_shown
        if not (force or changed or now - self._last_sent >= STATUS_EVERY_S):
            return
        if changed:
            broker = str(status.get("broker"))  # "connected", or a reason that may name the broker itself
            logger.info("status: camera %s, playlist %s, display %s, %s%s", status.get("camera"),
                        str(status.get("playlist"))[:60], status.get("display"),
                        broker if "broker" in broker else f"broker {broker}",
                        f", error: {status['last_error']}" if status.get("last_error") else "")
        self._last_sent, self._last_shown = now, steady
        publish(status)
