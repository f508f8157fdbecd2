"""Privacy mode: the camera released and no audience data. An operator's command (MQTT
`privacy/set`, or `privacy.start_in_privacy`) wins over `privacy.schedule` until the
next command; without one, the schedule decides."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from signage.config import PrivacyConfig
from signage.fields import DailyWindow, within

logger = logging.getLogger(__name__)


@dataclass
class Privacy:
    on: bool
    forced: bool | None = None  # the operator's last word; None: the schedule decides

    @classmethod
    def at_start(cls, config: PrivacyConfig) -> "Privacy":
        return cls(on=config.start_in_privacy, forced=True if config.start_in_privacy else None)

    def wanted(self, schedule: list[DailyWindow], moment: dt.datetime) -> bool:
        return self.forced if self.forced is not None else within(schedule, moment)


def follow_schedule(kiosk) -> None:
    """A loop step: switch when the command or the schedule wants the other mode."""
    wanted = kiosk.privacy.wanted(kiosk.config.privacy.schedule, kiosk.wall())
    if wanted != kiosk.privacy.on:
        switch(kiosk, wanted)


def switch(kiosk, on: bool) -> None:
    kiosk.privacy.on = on
    logger.info("privacy mode %s", "on: camera released, no audience data" if on else "off")
    if on:
        kiosk.stop_vision()
    else:
        kiosk.start_vision()
    if kiosk.telemetry:
        kiosk.telemetry.set_state("privacy", "ON" if on else "OFF")
    kiosk.publish_status(force=True)
