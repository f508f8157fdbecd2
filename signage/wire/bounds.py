"""The bounds every published message keeps, as functions: text made printable and
shortened (`fit`), numbers clamped (`clamp`), the upper bound of a field (`bound_of`),
timestamps read as naive UTC (`utc`) and the validation context of a receiver
(`received_at`). messages.py builds its models with them."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata
from typing import Any

from annotated_types import Le, MaxLen
from pydantic.fields import FieldInfo


def printable(value: Any) -> Any:
    """No control characters (NUL, escapes) in published text: PostgreSQL refuses NUL
    and terminals obey escapes; line breaks and tabs are fine."""
    texts = value if isinstance(value, list) else [value]
    for text in texts:
        if isinstance(text, str) and any(control(c) for c in text):
            raise ValueError("control characters are not allowed (line breaks and tabs are)")
    return value


def control(char: str) -> bool:
    return char not in "\n\t" and unicodedata.category(char) in ("Cc", "Cs")


def utc(value: str) -> dt.datetime:
    """ISO 8601 to naive UTC; a timestamp without zone is taken as UTC. ValueError if it
    is not a timestamp or not representable in UTC."""
    try:
        moment = dt.datetime.fromisoformat(value)
        if moment.tzinfo is not None:
            moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    except OverflowError:  # year 1 or 9999 shifted across the date line
        raise ValueError(f"{value!r} is outside the years a clock can show") from None
    return moment


def received_at(now: dt.datetime) -> dict:
    """The validation context of a receiver whose clock reads `now` (naive UTC or aware)."""
    if now.tzinfo is not None:
        now = now.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return {"now": now}


def bound_of(metadata) -> int | None:
    """The upper bound (max_length, le) among a field's constraints (the bounds of texts,
    counts and lists are whole numbers)."""
    for item in metadata:
        if isinstance(item, MaxLen):
            return item.max_length
        if isinstance(item, Le) and isinstance(item.le, int):
            return item.le
        if isinstance(item, FieldInfo) and (inner := bound_of(item.metadata)) is not None:
            return inner
    return None


def fit(value: str | None, limit: int | None) -> str | None:
    """Published text: control characters replaced, at most `limit` characters (the end
    marked with an ellipsis)."""
    if value is None:
        return None
    value = "".join("\N{REPLACEMENT CHARACTER}" if control(c) else c for c in value)
    if limit is not None and len(value) > limit:
        value = value[:limit - 1] + "\N{HORIZONTAL ELLIPSIS}"
    return value


def clamp(value: float, high: float) -> Any:
    """A count or a duration as published: not negative, not above its bound, finite."""
    if isinstance(value, float) and math.isnan(value):
        return 0.0
    return max(type(value)(0), min(value, type(value)(high)))
