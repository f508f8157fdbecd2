"""MQTT messages in, validated records out: a topic and payload either become one
`Incoming` value or raise `Invalid` saying what is wrong, and why in one word (its
`reason`, counted per reason on the dashboard). Validation uses the device's own message
models (signage/wire/messages.py), with their bounds and the window of time around
the fleet's clock, so the dashboard and the contract cannot drift apart."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from signage.wire.commands import FEATURES
from signage.wire.messages import (MAX_MESSAGE_BYTES, Envelope, Error, Inconsistent, Interval, Metrics, Play,
                                   PlayTotals, Status, TimeError, fit, received_at, utc)

MAX_PAYLOAD = MAX_MESSAGE_BYTES
RAW_KEPT = 8 * 1024  # bytes of a payload a parsed message keeps: what a dead letter shows of it
AVAILABILITY = ("online", "stopped", "offline")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")
MODELS: dict[str, type[Envelope]] = {"status": Status, "metrics": Metrics, "play": Play, "totals": PlayTotals,
                                    "error": Error}

# Why a message is invalid, in one word each (counters "invalid.<reason>"):
REASONS = {
    "topic": "not <root>/<site>/<device>/<kind>, or a name the fleet does not accept",
    "kind": "an unknown message kind",
    "size": f"a payload over {MAX_PAYLOAD} bytes",
    "value": "an availability or state payload that is not one of the allowed values",
    "json": "not UTF-8 JSON",
    "fields": "a field missing, unknown or of the wrong type",
    "bounds": "a number not finite, negative or too large; a text too long or with control characters",
    "inconsistent": "figures that cannot be true together (e.g. viewers above passers)",
    "time": "a timestamp unreadable, end before start, or outside the window around the fleet's clock",
    "mismatch": "site or device different from the topic's",
}
_BOUNDS = {"finite_number", "greater_than", "greater_than_equal", "less_than", "less_than_equal", "string_too_long",
           "string_too_short", "too_long", "too_short", "string_pattern_mismatch", "int_parsing_size"}


class Invalid(Exception):
    """A message the dashboard will not store; the text names the problem, `reason` its kind."""

    def __init__(self, message: str, reason: str):
        super().__init__(message)
        if reason not in REASONS:
            raise ValueError(f"unknown reason {reason!r}: one of {', '.join(REASONS)}")
        self.reason = reason


class Ignored(Exception):
    """A message on our topics that carries nothing to store (our own commands)."""


@dataclass(frozen=True)
class Incoming:
    kind: str  # available, status, metrics, play, totals, error, state
    site: str
    device: str
    data: Any  # str for available, the pydantic model otherwise, (feature, value) for state
    start: datetime | None = None  # metrics, plays and totals: their interval, naive UTC
    end: datetime | None = None
    topic: str = ""  # as received: what a dead letter keeps
    raw: bytes = b""  # the payload as received, its first RAW_KEPT bytes
    size: int = -1  # the payload's length as received (default: the length of `raw` given)
    kept: str = ""  # metrics: the message as its row keeps it (canonical JSON)

    def interval(self) -> tuple[datetime, datetime]:
        """A metrics message's or a play's start and end."""
        if self.start is None or self.end is None:
            raise ValueError(f"a {self.kind} message has no interval")
        return self.start, self.end

    def __post_init__(self):
        # Thousands of messages wait in the ingest's queues: what they hold is what the store
        # reads. Only a dead letter reads the payload, and only its start; a metrics message's
        # impressions (up to MAX_IMPRESSIONS small models) only go into the text its row keeps.
        # Whole payloads and impressions were most of the ingest's memory.
        if self.size < 0:
            object.__setattr__(self, "size", len(self.raw))
        if len(self.raw) > RAW_KEPT:
            object.__setattr__(self, "raw", self.raw[:RAW_KEPT])
        if self.kind == "metrics" and not self.kept:
            object.__setattr__(self, "kept", self.data.model_dump_json(by_alias=True))
            object.__setattr__(self, "data", self.data.model_copy(update={"impressions": {}}))


def _name(value: str, what: str) -> str:
    if not value or len(value) > 64 or not set(value) <= _NAME_CHARS:
        raise Invalid(f"{what} {value[:70]!r} in the topic: use 1-64 letters, digits, '_', '.', '-'", "topic")
    return value


def _reason(error: ErrorDetails) -> str:
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, TimeError):
        return "time"
    if isinstance(cause, Inconsistent):
        return "inconsistent"
    if error["type"] == "json_invalid":
        return "json"
    if error["type"] in _BOUNDS or (error["type"] == "value_error" and "control characters" in error["msg"]):
        return "bounds"
    return "fields"


M = TypeVar("M", bound=Envelope)


def _model(model: type[M], payload: bytes, kind: str, now: datetime) -> M:
    try:
        return model.model_validate_json(payload, context=received_at(now))
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        where = ".".join(str(p) for p in first["loc"])[:80] or "payload"
        raise Invalid(f"{kind}: {where}: {first['msg'][:160]} ({exc.error_count()} problem(s))",
                      _reason(first)) from None


def parse(root: str, topic: str, payload: bytes, now: datetime | None = None) -> Incoming:
    """`now`: the fleet's clock (naive UTC), the centre of the window of time accepted."""
    now = now or datetime.now(timezone.utc).replace(tzinfo=None)
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != root:
        raise Invalid(f"topic {topic[:120]!r} is not <root>/<site>/<device>/<kind>", "topic")
    site, device, kind = _name(parts[1], "site"), _name(parts[2], "device"), "/".join(parts[3:])
    if len(payload) > MAX_PAYLOAD:
        raise Invalid(f"{kind[:60]}: payload of {len(payload)} bytes; at most {MAX_PAYLOAD}", "size")
    if kind == "available":
        text = payload.decode("utf-8", "replace")
        if text not in AVAILABILITY:
            raise Invalid(f"available: {text[:40]!r}; expected one of {', '.join(AVAILABILITY)}", "value")
        return Incoming(kind, site, device, text, topic=topic, raw=payload)
    if len(parts) == 5 and parts[3] in FEATURES and parts[4] in ("state", "set"):
        if parts[4] == "set":
            raise Ignored(topic)
        text = payload.decode("utf-8", "replace").strip()
        if not text or len(text) > 64 or fit(text, 64) != text:
            raise Invalid(f"{kind}: state of {len(text)} characters; 1-64 printable ones expected", "value")
        return Incoming("state", site, device, (parts[3], text), topic=topic, raw=payload)
    if kind not in MODELS:
        raise Invalid(f"unknown message kind {kind[:60]!r}", "kind")
    message = _model(MODELS[kind], payload, kind, now)
    for field, expected in (("site", site), ("device", device)):
        value = getattr(message, field)
        if value != expected:
            raise Invalid(f"{kind}: {field} {value!r} does not match the topic's {expected!r}", "mismatch")
    if isinstance(message, Interval):  # metrics, play
        return Incoming(kind, site, device, message, utc(message.start), utc(message.end), topic, payload)
    return Incoming(kind, site, device, message, topic=topic, raw=payload)


def metrics_expressions(message: Metrics) -> dict[str, int] | None:
    """The breakdown, or None when the device suppressed it (fewer than min_group)."""
    return message.expressions if isinstance(message.expressions, dict) else None


def play_expressions(message: Play) -> dict[str, float] | None:
    return message.expressions if isinstance(message.expressions, dict) else None
