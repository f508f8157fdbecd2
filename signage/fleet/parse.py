"""MQTT messages in, validated records out: a topic and payload either become one
`Incoming` value or raise `Invalid` saying what is wrong. Validation uses the device's
own message models (signage/telemetry/messages.py), so the dashboard and the contract
cannot drift apart."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel, ValidationError

from signage.telemetry.commands import FEATURES
from signage.telemetry.messages import Error, Metrics, Play, Status

MAX_PAYLOAD = 64 * 1024  # a metrics message is a few kB; anything larger is not ours
AVAILABILITY = ("online", "stopped", "offline")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-")


class Invalid(Exception):
    """A message the dashboard will not store; the reason names the problem."""


class Ignored(Exception):
    """A message on our topics that carries nothing to store (our own commands)."""


@dataclass(frozen=True)
class Incoming:
    kind: str  # available, status, metrics, play, error, state
    site: str
    device: str
    data: Any  # str for available, the pydantic model otherwise, (feature, value) for state
    start: datetime | None = None  # metrics and plays: their interval, naive UTC
    end: datetime | None = None
    raw: bytes = b""  # metrics: the payload as received, kept for audit


def utc(text: str) -> datetime:
    """ISO 8601 to naive UTC; a timestamp without zone is taken as UTC."""
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _name(value: str, what: str) -> str:
    if not value or len(value) > 64 or not set(value) <= _NAME_CHARS:
        raise Invalid(f"{what} {value[:70]!r} in the topic: use 1-64 letters, digits, '_', '.', '-'")
    return value


def _model(model: type[BaseModel], payload: bytes, kind: str) -> BaseModel:
    try:
        return model.model_validate_json(payload)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "payload"
        raise Invalid(f"{kind}: {where}: {first['msg']} ({exc.error_count()} problem(s))") from None


def parse(root: str, topic: str, payload: bytes) -> Incoming:
    parts = topic.split("/")
    if len(parts) < 4 or parts[0] != root:
        raise Invalid(f"topic {topic[:120]!r} is not <root>/<site>/<device>/<kind>")
    site, device, kind = _name(parts[1], "site"), _name(parts[2], "device"), "/".join(parts[3:])
    if len(payload) > MAX_PAYLOAD:
        raise Invalid(f"{kind}: payload of {len(payload)} bytes; at most {MAX_PAYLOAD}")
    if kind == "available":
        text = payload.decode("utf-8", "replace")
        if text not in AVAILABILITY:
            raise Invalid(f"available: {text[:40]!r}; expected one of {', '.join(AVAILABILITY)}")
        return Incoming(kind, site, device, text)
    if len(parts) == 5 and parts[3] in FEATURES and parts[4] in ("state", "set"):
        if parts[4] == "set":
            raise Ignored(topic)
        text = payload.decode("utf-8", "replace").strip()
        if not text or len(text) > 64:
            raise Invalid(f"{kind}: state of {len(text)} characters")
        return Incoming("state", site, device, (parts[3], text))
    models = {"status": Status, "metrics": Metrics, "play": Play, "error": Error}
    if kind not in models:
        raise Invalid(f"unknown message kind {kind[:60]!r}")
    message = _model(models[kind], payload, kind)
    for field, expected in (("site", site), ("device", device)):
        value = getattr(message, field, None)
        if value is not None and value != expected:
            raise Invalid(f"{kind}: {field} {value[:64]!r} does not match the topic's {expected!r}")
    if kind in ("metrics", "play"):
        if not message.id or len(message.id) > 64:
            raise Invalid(f"{kind}: id must be 1-64 characters")
        try:
            start, end = utc(message.start), utc(message.end)
        except ValueError:
            raise Invalid(f"{kind}: start/end {message.start[:40]!r}/{message.end[:40]!r} are not ISO 8601") from None
        if end < start:
            raise Invalid(f"{kind}: end {message.end} before start {message.start}")
    if kind == "play" and not (0 < len(message.creative) <= 64 and len(message.rule) <= 128):
        raise Invalid("play: creative must be 1-64 characters and rule at most 128")
    if kind in ("metrics", "play"):
        return Incoming(kind, site, device, message, start, end, payload if kind == "metrics" else b"")
    return Incoming(kind, site, device, message)


def metrics_expressions(message: Metrics) -> dict[str, int] | None:
    """The breakdown, or None when the device suppressed it (fewer than min_group)."""
    return message.expressions if isinstance(message.expressions, dict) else None


def play_expressions(message: Play) -> dict[str, float] | None:
    return message.expressions if isinstance(message.expressions, dict) else None


def dumps(message: BaseModel) -> str:
    return json.dumps(message.model_dump(mode="json", by_alias=True), separators=(",", ":"))
