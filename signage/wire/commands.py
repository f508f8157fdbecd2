"""Commands from the fleet: `<root>/<feature>/set`, validated before anything changes.

Anything that is not exactly a known feature with a valid value (unknown feature,
wrong type, oversized payload, invalid UTF-8 or JSON) is refused with a reason; the
caller logs it, publishes it on `<root>/error`, and changes nothing. A value comes
plain (`ON`, `"ON"`, `{"value": "ON"}`) or sealed by the fleet (envelope.py); whether
a kiosk takes plain ones, and whether a seal holds, is the inbox's decision (inbox.py).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from signage.wire.envelope import SEALED_KEYS, Seal

MAX_PAYLOAD = 256  # bytes; every valid command is far shorter


class _Command(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    value: str  # each feature narrows it


class PrivacyCommand(_Command):
    value: Literal["ON", "OFF"]


class PlaylistCommand(_Command):
    value: Literal["RELOAD"]


class CreativeCommand(_Command):
    value: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")] = Field(
        description="A creative id of the running playlist, played once, now.")


FEATURES: dict[str, type[_Command]] = {"privacy": PrivacyCommand, "playlist": PlaylistCommand,
                                       "creative": CreativeCommand}


class CommandRejected(Exception):
    pass


@dataclass(frozen=True)
class Command:
    feature: str
    value: str
    seal: Seal | None = None  # the fleet's signature, when it came sealed


def parse(root: str, topic: str, payload: bytes) -> Command:
    """A validated command, or CommandRejected saying what is wrong and what is allowed."""
    prefix = root + "/"
    if not topic.startswith(prefix) or not topic.endswith("/set"):
        raise CommandRejected(f"not a command topic: {topic[:120]!r}")
    feature = topic[len(prefix):-len("/set")]
    if feature not in FEATURES:
        raise CommandRejected(f"unknown feature {feature[:60]!r}; allowed: {', '.join(FEATURES)}")
    if len(payload) > MAX_PAYLOAD:
        raise CommandRejected(f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD}")
    try:
        text = payload.decode("utf-8").strip()
    except UnicodeDecodeError as exc:
        raise CommandRejected("payload is not UTF-8 text") from exc
    seal = None
    if text.startswith(("{", "[", '"')):  # JSON is accepted: "ON", {"value": "ON"}, a sealed envelope
        try:
            decoded = json.loads(text)
        except json.JSONDecodeError as exc:
            raise CommandRejected(f"payload is not valid JSON: {exc.msg}") from exc
        value = decoded
        if isinstance(decoded, dict):
            if set(decoded) not in ({"value"}, SEALED_KEYS):
                raise CommandRejected("a JSON command is {\"value\": ...}, or sealed by the fleet: "
                                      "{\"value\", \"ts\", \"nonce\", \"sig\"}")
            value = decoded["value"]
            if set(decoded) == SEALED_KEYS:
                try:
                    seal = Seal(ts=decoded["ts"], nonce=decoded["nonce"], sig=decoded["sig"])
                except ValidationError as exc:
                    first = exc.errors()[0]
                    raise CommandRejected(f"seal: {first['loc'][0]}: {first['msg']}") from None
    else:
        value = text
    try:
        model = FEATURES[feature](value=value)
    except ValidationError as exc:
        allowed = {"privacy": "ON or OFF", "playlist": "RELOAD", "creative": "a creative id"}[feature]
        raise CommandRejected(f"{feature}: {str(value)[:60]!r} is not valid; send {allowed}") from exc
    return Command(feature, model.value, seal)
