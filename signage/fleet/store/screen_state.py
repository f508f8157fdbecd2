"""What a screen says about itself: when it was last heard, its availability, its status,
its echoes of commands (`<feature>/state`) and its refusals. Each change that a person
would want to see later is also a line of the screen's history, and each change of its
availability, display or camera a transition (the availability report's source)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa

from signage.fleet.database import InsertFor
from signage.fleet.parse import Incoming
from signage.fleet.tables import commands, screen_states, screen_transitions, screens, status_history
from signage.fleet.times import ANSWER_SECONDS

STATUS_FIELDS = ("camera", "display", "broker", "playlist", "privacy", "last_error")  # a change is history
TRANSITIONS = ("display", "camera")  # a change is also a transition, for the availability report


class ScreenStates:
    def __init__(self, insert: InsertFor):
        self._insert = insert  # the dialect's INSERT, which has ON CONFLICT (database.insert_for)

    def touch(self, conn: sa.Connection, seen: set[tuple[str, str]], now: datetime) -> None:
        """These screens were heard from now (a screen is made by its first message)."""
        if not seen:
            return
        stmt = self._insert(screens)
        conn.execute(stmt.on_conflict_do_update(index_elements=["site", "device"],
                                                set_={"last_seen": stmt.excluded.last_seen,
                                                      "updated_at": stmt.excluded.updated_at}),
                     [{"site": s, "device": d, "last_seen": now, "updated_at": now} for s, d in sorted(seen)])

    def apply(self, conn: sa.Connection, item: Incoming, now: datetime) -> None:
        """An availability, status, refusal or state echo (after `touch`: the screen exists)."""
        where = (screens.c.site == item.site) & (screens.c.device == item.device)
        current: Mapping[Any, Any] = conn.execute(sa.select(screens).where(where)).mappings().first() or {}
        changes: dict = {}
        history: list[tuple[str, str]] = []
        transitions: list[tuple[str, str]] = []
        if item.kind == "available":
            if current.get("availability") != item.data:
                changes = {"availability": item.data, "availability_since": now}
                history.append(("available", item.data))
                transitions.append(("availability", item.data))
        elif item.kind == "status":
            changes = _status(item.data, now)
            history += _status_history(current, changes)
            transitions += [(name, changes[name]) for name in TRANSITIONS if current.get(name) != changes[name]]
        elif item.kind == "error":
            changes = {"refusal": item.data.error, "refusal_topic": item.data.topic[:200], "refusal_at": now}
            history.append(("refused", f"{item.data.topic}: {item.data.error}"))
        elif item.kind == "state":
            history += self._echo(conn, item, now)
        changes["updated_at"] = now
        conn.execute(sa.update(screens).where(where).values(**changes))
        for kind, detail in history:
            conn.execute(sa.insert(status_history).values(site=item.site, device=item.device, at=now, kind=kind,
                                                          detail=detail))
        for feature, value in transitions:
            conn.execute(sa.insert(screen_transitions).values(site=item.site, device=item.device, feature=feature,
                                                              value=value, at=now))

    def _echo(self, conn: sa.Connection, item: Incoming, now: datetime) -> list[tuple[str, str]]:
        """The screen's own word on a feature's value (the answer to a command). A line of
        history when the value changed or a command of that feature waits for its answer:
        the retained echo that every reconnect delivers again is not news. (A command
        older than ANSWER_SECONDS has had its answer, or will have none.)"""
        feature, value = item.data
        key = ((screen_states.c.site == item.site) & (screen_states.c.device == item.device)
               & (screen_states.c.feature == feature))
        before = conn.execute(sa.select(screen_states.c.value, screen_states.c.at).where(key)).first()
        stmt = self._insert(screen_states).values(site=item.site, device=item.device, feature=feature, value=value,
                                                  at=now)
        conn.execute(stmt.on_conflict_do_update(index_elements=["site", "device", "feature"],
                                                set_={"value": stmt.excluded.value, "at": stmt.excluded.at}))
        if before is not None and before.value == value and not conn.execute(
                sa.select(commands.c.row).where(commands.c.site == item.site, commands.c.device == item.device,
                                                commands.c.feature == feature,
                                                commands.c.sent_at >= now - timedelta(seconds=ANSWER_SECONDS))
                .limit(1)).first():
            return []
        return [("state", f"{feature} = {value}")]


def _status(s, now: datetime) -> dict:
    return {"version": s.version[:32], "lock": s.lock, "uptime_s": s.uptime_s,
            "playing": (s.playing or None) and s.playing[:64], "camera": s.camera[:32], "display": s.display[:32],
            "broker": s.broker[:200], "playlist": s.playlist, "privacy": s.privacy, "spool_depth": s.spool_depth,
            "spool_dropped": s.spool_dropped, "last_error": s.last_error, "status_at": now,
            # null: a kiosk older than the field does not say (an empty list is an empty playlist)
            "creatives": json.dumps(s.creatives) if "creatives" in s.model_fields_set else None,
            "content": json.dumps(s.content.model_dump(mode="json")) if s.content is not None else None}


def _status_history(current, changes: dict) -> list[tuple[str, str]]:
    """A status's news in words: "first status: camera ok, …", then only what changed
    ("camera gone → ok", "privacy on", "error: …", "error cleared")."""
    if current.get("status_at") is None:
        return [("status", "first status: " + ", ".join(
            _word(name, changes[name]) for name in STATUS_FIELDS if changes[name] is not None))]
    diff = [_change(name, current.get(name), changes[name]) for name in STATUS_FIELDS
            if current.get(name) != changes[name]]
    return [("status", "; ".join(diff))] if diff else []


def _word(name: str, value) -> str:
    if name == "privacy":
        return "privacy on" if value else "privacy off"
    if name == "last_error":
        return f"error: {value}" if value else "no error"
    return f"{name} {value}"


def _change(name: str, before, after) -> str:
    if name == "privacy" or (name == "last_error" and after):
        return _word(name, after)
    if name == "last_error":
        return "error cleared"
    return f"{name} {before or 'unknown'} → {after or 'unknown'}"
