"""Privacy mode: the camera released and no audience data. Safe by construction: the
kiosk's own settings (`privacy.schedule`, `privacy.start_in_privacy`) and a remote ON
(MQTT `privacy/set`) each turn it on, and only the settings can keep it off. A remote
OFF clears a remote ON, nothing more: no command from the broker turns a camera on
inside the schedule or under start_in_privacy."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Callable

from signage.config import PrivacyConfig
from signage.fields import within
from signage.kiosk.uplink import Uplink
from signage.kiosk.vision import VisionStage

logger = logging.getLogger(__name__)


class Privacy:
    """The mode, its settings and a remote ON in force; it switches the camera (the
    vision stage) itself, echoes the state on the uplink and has the status published.
    Main thread only (a test may set `remote_on` from its own)."""

    def __init__(self, settings: PrivacyConfig, moment: dt.datetime, vision: VisionStage, uplink: Uplink,
                 publish_status: Callable[[], None]):
        self.settings = settings
        self._vision, self._uplink, self._publish_status = vision, uplink, publish_status
        self.remote_on = False  # a remote ON is in force (until a remote OFF or a restart)
        self.on = self.wanted(moment)  # inside the schedule from the first frame: the camera never opens at boot

    def local(self, moment: dt.datetime) -> str | None:
        """Why the kiosk's own settings want privacy now, or None."""
        if self.settings.start_in_privacy:
            return "privacy.start_in_privacy is set"
        if within(self.settings.schedule, moment):
            return "privacy.schedule has the camera off now"
        return None

    def wanted(self, moment: dt.datetime) -> bool:
        return self.remote_on or self.local(moment) is not None

    def follow_schedule(self, moment: dt.datetime) -> None:
        """A loop step: switch when a command or the settings want the other mode."""
        wanted = self.wanted(moment)
        if wanted != self.on:
            self.switch(wanted)

    def remote(self, value: str, moment: dt.datetime) -> str | None:
        """A remote privacy command (ON or OFF), applied now; the state is echoed. Returns why
        an OFF left privacy on (the kiosk's own settings), else None."""
        self.remote_on = value == "ON"
        wanted = self.wanted(moment)
        if wanted != self.on:
            self.switch(wanted)  # echoes the new state
        else:
            self._uplink.set_state("privacy", "ON" if wanted else "OFF")
        if value == "OFF" and self.on:
            return self.local(moment)
        return None

    def follow_settings(self, settings: PrivacyConfig) -> None:
        """A reload: the new settings; privacy goes on at once when they now start in privacy
        (no frame is analysed with privacy asked for). The schedule step does the rest."""
        turns_on = settings.start_in_privacy and not self.settings.start_in_privacy
        self.settings = settings
        if turns_on and not self.on:
            self._turn(True)  # the reload publishes the status once it is done

    def switch(self, on: bool) -> None:
        self._turn(on)
        self._publish_status()

    def _turn(self, on: bool) -> None:
        self.on = on
        logger.info("privacy mode %s", "on: camera released, no audience data" if on else "off")
        if on:
            self._vision.stop()
        else:
            self._vision.start()
        self._uplink.set_state("privacy", "ON" if on else "OFF")
