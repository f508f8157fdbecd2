"""What an operator or the fleet asks of a running kiosk over MQTT: commands queued by
paho's thread (after telemetry/inbox.py admitted them), checked against the running
state and answered on the main thread."""

from __future__ import annotations

import logging

from signage.kiosk import privacy

logger = logging.getLogger(__name__)


def apply_commands(kiosk) -> None:
    """A loop step: a state echo when a command is applied, a refusal on `<root>/error`
    when not (refusals are throttled by the link)."""
    while not kiosk.commands.empty():
        command = kiosk.commands.get()
        creatives = kiosk.player.playlist.creatives
        if command.feature == "creative" and command.value not in creatives:
            kiosk.telemetry.refuse(command, f"creative: unknown id {command.value!r}; the running playlist has "
                                   f"{', '.join(sorted(creatives)) or 'no creatives'}"[:400])
            continue
        logger.info("command: %s %s", command.feature, command.value)
        if command.feature == "privacy":
            kept_on = privacy.remote(kiosk, command.value)
            if kept_on:
                kiosk.telemetry.refuse(command, f"privacy OFF: the remote ON is cleared, but privacy stays on: "
                                       f"{kept_on}; no remote command can turn the camera on")
            continue  # privacy.remote echoed the state it is in
        if command.feature == "playlist":
            kiosk.watcher.request_reload()
        elif command.feature == "creative":
            kiosk.player.play_now(command.value, kiosk.now())
            kiosk.show(command.value)
        kiosk.telemetry.set_state(command.feature, command.value)
