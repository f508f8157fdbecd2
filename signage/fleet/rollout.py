"""A screen's content rollout (its status's `content`, wire/messages.py ContentState) in
a few words, the same on the dashboard and in `signage monitor`."""

from __future__ import annotations

from pydantic import ValidationError

from signage.wire.messages import ContentState


def content_summary(stored: str | dict | None) -> str | None:
    """A screen's content rollout in a few words: `v3 (site/hq)`, `v3 · v4 downloading 40%`,
    `v3 · v4 refused: <why>`, `v3 · the server offers version 2, older ...: refused (rollback)`;
    None for a screen without content from the fleet, or for anything that is not a rollout
    by the wire contract. `stored`: the JSON the dashboard keeps, or the status message's
    object as it came (monitor reads it unchecked)."""
    if not stored:
        return None
    try:
        state = ContentState.model_validate_json(stored) if isinstance(stored, str) else \
            ContentState.model_validate(stored)
    except (ValidationError, ValueError):
        return None
    playing = f"v{state.version}" + (f" ({state.target})" if state.target else "") if state.version else "none yet"
    upcoming = state.next_version
    if state.state == "active":  # a reason here is an older release the server offers, refused
        return playing + (f" · {state.reason}" if state.reason else "")
    if state.state == "expired":
        return f"{playing} expired" + (f": {state.reason}" if state.reason else "")
    if state.state == "downloading" and upcoming:
        share = f" {100 * state.done_bytes // state.total_bytes}%" if state.total_bytes else ""
        return f"{playing} · v{upcoming} downloading{share}"
    if state.state in ("pending", "refused") and upcoming:
        return f"{playing} · v{upcoming} {state.state}" + (f": {state.reason}" if state.reason else "")
    return playing
