"""The kiosk's door for commands. What arrives on `<root>/+/set` becomes a Command for
the owner only when it is well formed (commands.py), sealed by the fleet unless the
config accepts plain ones, fresh and not replayed (envelope.py), and within its kind's
rate: a flood of valid commands costs a few plays and state changes, not thousands.
Everything else raises CommandRejected with the reason, for `<root>/error`."""

from __future__ import annotations

import time
from typing import Callable

from signage.config import CommandsConfig
from signage.wire.commands import FEATURES, Command, CommandRejected, parse
from signage.wire.envelope import SealRefused, Verifier, public_key

BURST = 5  # commands of one kind taken at once (an operator's quick clicks)
EVERY_S = 2.0  # then one more per this many seconds


class RateLimit:
    """A token bucket: `burst` at once, then one per `every_s` seconds."""

    def __init__(self, burst: int, every_s: float, clock: Callable[[], float]):
        self.burst, self.every_s, self._clock = burst, every_s, clock
        self._tokens, self._at = float(burst), clock()

    def take(self) -> bool:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._at) / self.every_s)
        self._at = now
        if self._tokens < 1:
            return False
        self._tokens -= 1
        return True


class Inbox:
    """Called on paho's network thread only (one caller: no lock)."""

    def __init__(self, root: str, settings: CommandsConfig, wall: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic):
        self.root = root
        key = public_key(settings.public_key) if settings.public_key else None
        self._verifier = Verifier(key, settings.max_age, wall, monotonic)
        self._accept_unsigned = settings.accept_unsigned
        self._rates = {feature: RateLimit(BURST, EVERY_S, monotonic) for feature in FEATURES}

    def admit(self, topic: str, payload: bytes, retained: bool) -> Command:
        if retained:
            # A retained command would act again at every boot: commands act once.
            raise CommandRejected("retained command ignored: commands act once; publish it without the retain "
                                  "flag, and clear the retained one (an empty retained message)")
        command = parse(self.root, topic, payload)
        if command.seal is not None:
            try:
                self._verifier.check(topic, command.value, command.seal)
            except SealRefused as exc:
                raise CommandRejected(f"{command.feature} {command.value}: {exc}") from None
        elif not self._accept_unsigned:
            raise CommandRejected(f"{command.feature} {command.value}: unsigned; this kiosk acts only on commands "
                                  "the fleet signed (mqtt.commands.accept_unsigned is false)")
        if not self._rates[command.feature].take():
            raise CommandRejected(f"{command.feature} {command.value}: too many {command.feature} commands (at most "
                                  f"{BURST} at once, then one every {EVERY_S:g} s); this one changed nothing")
        if command.seal is not None:
            self._verifier.remember(command.seal)
        return command
