"""Privacy mode: the camera released and no audience data. Safe by construction: the
kiosk's own settings (`privacy.schedule`, `privacy.start_in_privacy`) and a remote ON
(MQTT `privacy/set`) each turn it on, and only the settings can keep it off. A remote
OFF clears a remote ON, nothing more: no command from the broker turns a camera on
inside the schedule or under start_in_privacy."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from signage.config import PrivacyConfig
from signage.fields import within

logger = logging.getLogger(__name__)


@dataclass
class Privacy:
    on: bool
    remote_on: bool = False  # a remote ON is in force (until a remote OFF or a restart)

    @classmethod
    def at_start(cls, config: PrivacyConfig, moment: dt.datetime) -> "Privacy":
        """Inside the schedule from the first frame: the camera never opens for a moment at boot."""
        privacy = cls(on=False)
        privacy.on = privacy.wanted(config, moment)
        return privacy

    def local(self, config: PrivacyConfig, moment: dt.datetime) -> str | None:
        """Why the kiosk's own settings want privacy now, or None."""
        if config.start_in_privacy:
            return "privacy.start_in_privacy is set"
        if within(config.schedule, moment):
            return "privacy.schedule has the camera off now"
        return None

    def wanted(self, config: PrivacyConfig, moment: dt.datetime) -> bool:
        return self.remote_on or self.local(config, moment) is not None


def follow_schedule(kiosk) -> None:
    """A loop step: switch when a command or the settings want the other mode."""
    wanted = kiosk.privacy.wanted(kiosk.config.privacy, kiosk.wall())
    if wanted != kiosk.privacy.on:
        switch(kiosk, wanted)


def remote(kiosk, value: str) -> str | None:
    """A remote privacy command (ON or OFF), applied now; the state is echoed. Returns why
    an OFF left privacy on (the kiosk's own settings), else None."""
    kiosk.privacy.remote_on = value == "ON"
    wanted = kiosk.privacy.wanted(kiosk.config.privacy, kiosk.wall())
    if wanted != kiosk.privacy.on:
        switch(kiosk, wanted)  # echoes the new state
    elif kiosk.telemetry:
        kiosk.telemetry.set_state("privacy", "ON" if wanted else "OFF")
    if value == "OFF" and kiosk.privacy.on:
        return kiosk.privacy.local(kiosk.config.privacy, kiosk.wall())
    return None


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
