"""The command inbox: a message the link relays becomes the owner's command, or a refusal
that says why; never both, never silence.

topic -> admitted (inbox.py: well formed, sealed, fresh, once, within its kind's rate) ->
the owner's handler -> its answer: the new state, echoed retained on
`<root>/<feature>/state`, or a refusal on `<root>/error` with the reason (refusals.py tells
them at a bounded cost). A handler that returns None answers later itself, through
`Telemetry.set_state` or `Telemetry.refuse`. A bug in the checks or in the handler is
logged and refused as an internal error: it never reaches paho's thread.
"""

from __future__ import annotations

import json
import logging
from typing import Callable

from signage.telemetry.inbox import Inbox
from signage.telemetry.refusals import Refusals
from signage.wire.commands import Command, CommandRejected
from signage.wire.messages import Error

logger = logging.getLogger(__name__)

Handler = Callable[[Command], "str | None"]


class Dispatcher:
    def __init__(self, inbox: Inbox, handler: Handler | None, site: str, device: str,
                 echo: Callable[[str, str], None], publish: Callable[[str, bytes], None]):
        """`echo(feature, value)` publishes a state; `publish(topic, payload)` a refusal."""
        self.inbox, self._handler = inbox, handler
        self._site, self._device, self._echo, self._publish = site, device, echo, publish
        self._refusals = Refusals(self._tell)
        self.received = 0  # messages on command topics so far (paho's thread is the only writer)

    @property
    def refused(self) -> int:
        """Commands refused so far (each told, or counted in a summary)."""
        return self._refusals.total

    def receive(self, topic: str, payload: bytes, retained: bool) -> None:
        """A message on a command topic (paho's thread)."""
        self.received += 1
        try:
            command = self.inbox.admit(topic, payload, retained)
        except CommandRejected as exc:
            self.refuse(topic, str(exc))
            return
        except Exception:  # noqa: BLE001 - a bug in the checks must not kill paho's thread
            logger.exception("checking a command on %s failed", topic[:120])
            self.refuse(topic, "internal error; see the device log")
            return
        if self._handler is None:
            self.refuse(topic, "this device takes no commands")
            return
        try:
            state = self._handler(command)
        except CommandRejected as exc:
            self.refuse(topic, str(exc))
            return
        except Exception:  # noqa: BLE001 - a bug in the handler must not kill paho's thread
            logger.exception("command %s %s failed", command.feature, command.value)
            self.refuse(topic, "internal error; see the device log")
            return
        if state is not None:  # None: the owner answers later (set_state or refuse)
            self._echo(command.feature, state)

    def refuse(self, command: Command | str, reason: str) -> None:
        """Answer a command (or its topic) on `<root>/error`: it changed nothing, and why."""
        topic = command if isinstance(command, str) else f"{self.inbox.root}/{command.feature}/set"
        self._refusals.refuse(topic, reason)

    def flush(self, force: bool = False) -> None:
        """Tell what a finished window of refusals held back (all of it, with force)."""
        self._refusals.flush(force)

    def _tell(self, topic: str, reason: str) -> None:
        error = Error.fitted(site=self._site, device=self._device, topic=topic, error=reason)
        self._publish(f"{self.inbox.root}/error", json.dumps(error.payload(), separators=(",", ":")).encode())
