"""The power schedule: when the screen is off, and the commands that switch the panel."""

from __future__ import annotations

import datetime as dt
import logging
import subprocess

from signage.config import PowerConfig
from signage.fields import within

logger = logging.getLogger(__name__)


class PowerSchedule:
    """`on(now)` says whether the screen should be on; a change is logged once and runs
    the configured command (an argv list, never a shell string)."""

    def __init__(self, config: PowerConfig):
        self.config = config
        self.is_on = True

    def on(self, now: dt.datetime) -> bool:
        on = not within(self.config.off, now)
        if on != self.is_on:
            self.is_on = on
            logger.info("power schedule: screen %s", "on" if on else "off")
            run(self.config.command_on if on else self.config.command_off)
        return on


def run(argv: list[str]) -> None:
    """Start a configured power command and do not wait for it."""
    if not argv:
        return
    try:
        subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    except OSError as exc:
        logger.error("power command %s failed: %s", argv, exc)
