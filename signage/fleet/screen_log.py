"""A screen's log for its page: its history in words, and the commands sent to it with
what became of each (read from the screen's own answers)."""

from __future__ import annotations

from datetime import datetime, timedelta

import sqlalchemy as sa

from signage.fleet.tables import commands, status_history
from signage.fleet.times import ANSWER_SECONDS, now_utc

HISTORY_WORDS = {"available": {"online": "online", "stopped": "stopped (a clean stop)",
                               "offline": "offline (the broker's last will: it died or lost its link)"}}


def history(engine: sa.Engine, site: str, device: str, limit: int = 50) -> list[dict]:
    """The screen's history, newest first, each line with `text`: what happened in words."""
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(
            sa.select(status_history).where(status_history.c.site == site, status_history.c.device == device)
            .order_by(status_history.c.at.desc(), status_history.c.row.desc()).limit(limit)).mappings()]
    for row in rows:
        row["text"] = history_text(row["kind"], row["detail"])
    return rows


def history_text(kind: str, detail: str) -> str:
    if kind == "available":
        return HISTORY_WORDS["available"].get(detail, detail)
    if kind == "state":
        feature, _, value = detail.partition(" = ")
        return f"{feature} {value.lower()}: the screen's echo"
    if kind == "refused":
        topic, _, error = detail.partition(": ")
        return f"refused {topic.rsplit('/', 2)[-2] if topic.count('/') >= 2 else topic}: {error}"
    return detail


def recent_commands(engine: sa.Engine, site: str, device: str, limit: int = 10,
                    now: datetime | None = None) -> list[dict]:
    """The latest commands sent from the page, each with its outcome (see command_outcomes)."""
    now = now or now_utc()
    with engine.begin() as conn:
        rows = [dict(r) for r in conn.execute(
            sa.select(commands).where(commands.c.site == site, commands.c.device == device)
            .order_by(commands.c.sent_at.desc(), commands.c.row.desc()).limit(limit)).mappings()]
        if not rows:
            return rows
        h = status_history.c
        events = [dict(r) for r in conn.execute(
            sa.select(status_history).where(h.site == site, h.device == device, h.at > min(r["sent_at"] for r in rows),
                                            h.kind.in_(("state", "refused", "available")))
            .order_by(h.at, h.row)).mappings()]
    command_outcomes(sorted(rows, key=lambda r: (r["sent_at"], r["row"])), events, now)
    return rows


def command_outcomes(sent: list[dict], events: list[dict], now: datetime) -> None:
    """Set each command's `outcome` from what the screen said after it (both lists oldest
    first). A command is answered by the first echo of its feature (`<feature>/state`)
    or refusal of its topic that the screen sent after it and that no earlier command
    took, while the screen stayed connected: an echo from before the command, or from a
    screen that went offline and came back with its old state, answers nothing. "done"
    needs the echo to say the value asked for."""
    taken: set[int] = set()
    for command in sent:
        if command["state"] == "not sent":
            command["outcome"] = "not sent: " + (command["error"] or "the broker did not take it")
            continue
        if now - command["sent_at"] < timedelta(seconds=ANSWER_SECONDS):
            command["outcome"] = "sending" if command["state"] == "sending" else "sent, no answer yet"
        else:
            command["outcome"] = f"no answer within {ANSWER_SECONDS} s: the screen may not have received it"
        for event in events:
            if event["at"] <= command["sent_at"] or event["row"] in taken:
                continue
            if event["kind"] == "available":
                command["outcome"] = (f"no answer: the screen became {event['detail']} at {event['at']:%H:%M:%S} "
                                      "before answering")
                break
            feature, value = command["feature"], command["value"]
            if event["kind"] == "refused" and event["detail"].split(": ", 1)[0].endswith(f"/{feature}/set"):
                command["outcome"] = "refused: " + event["detail"].split(": ", 1)[-1]
            elif event["kind"] == "state" and event["detail"].startswith(f"{feature} = "):
                echoed = event["detail"].split(" = ", 1)[1]
                command["outcome"] = (f"done: {feature} = {echoed}" if echoed == value else
                                      f"answered {feature} = {echoed}, not {value}")
            else:
                continue
            taken.add(event["row"])
            break
