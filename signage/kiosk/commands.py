"""What an operator or the fleet asks of a running kiosk over MQTT: commands queued by
paho's thread (after telemetry/inbox.py admitted them), checked against the running
state and answered on the main thread."""

from __future__ import annotations

import logging
import queue
from typing import Callable

from signage.kiosk.playlists import Playlists
from signage.kiosk.privacy import Privacy
from signage.kiosk.screen import Screen
from signage.kiosk.uplink import Uplink
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.wire.commands import Command, CommandRejected

logger = logging.getLogger(__name__)

WAITING_MAX = 100  # commands queued for the main thread at most


class Commands:
    """The queue between paho's thread (`put`) and the main thread (`apply`), and what
    each command does to the parts it names."""

    def __init__(self, player: Player, privacy: Privacy, playlists: Playlists, screen: Screen, uplink: Uplink,
                 now: Callable[[], Now], wall: Callable):
        self._player, self._privacy, self._playlists, self._screen = player, privacy, playlists, screen
        self._uplink, self._now, self._wall = uplink, now, wall
        self._waiting: queue.Queue[Command] = queue.Queue(maxsize=WAITING_MAX)

    def put(self, command: Command) -> None:
        """paho's thread: queue it; the main thread checks it and answers."""
        try:
            self._waiting.put_nowait(command)
        except queue.Full:
            raise CommandRejected("too many commands waiting; try again in a moment") from None

    def empty(self) -> bool:
        return self._waiting.empty()

    def apply(self) -> None:
        """A loop step: a state echo when a command is applied, a refusal on `<root>/error`
        when not (refusals are throttled by the link)."""
        while not self._waiting.empty():
            command = self._waiting.get()
            creatives = self._player.playlist.creatives
            if command.feature == "creative" and command.value not in creatives:
                self._uplink.refuse(command, f"creative: unknown id {command.value!r}; the running playlist has "
                                    f"{', '.join(sorted(creatives)) or 'no creatives'}"[:400])
                continue
            logger.info("command: %s %s", command.feature, command.value)
            if command.feature == "privacy":
                kept_on = self._privacy.remote(command.value, self._wall())
                if kept_on:
                    self._uplink.refuse(command, f"privacy OFF: the remote ON is cleared, but privacy stays on: "
                                        f"{kept_on}; no remote command can turn the camera on")
                continue  # the privacy mode echoed the state it is in
            if command.feature == "playlist":
                self._playlists.request_reload()
            elif command.feature == "creative":
                self._player.play_now(command.value, self._now())
                self._screen.show(command.value)
            self._uplink.set_state(command.feature, command.value)
