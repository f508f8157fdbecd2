"""Held proof of play survives a crash: a real `signage run` (the sample video as camera,
the e2e playlist with its audience rule, so every play is held) is SIGKILLed mid-hour
while plays are held, and started again. The plays the spool kept arrive at the broker,
in aggregate where the ledger's rules say so, and none of them went out before.

No hour is waited for: after the kill the test moves the held periods two days back,
as if the kiosk had been down that long, so the restarted kiosk releases them at once
(their periods ended while it was down). It writes them back as an older version's
single-row `held` table would hold them: the restart also reads that form, rewrites it
as rows and drops it."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
import sqlite3
from pathlib import Path

import pytest

from signage.telemetry.held import LEGACY, assemble
from signage.telemetry.spool.heldrows import has_legacy, read_held

from tests.subscriber import Subscriber
from tests.support.controller import start_controller
from tests.support.waiting import wait_for

DOWN = dt.timedelta(days=2)


def held_body(spool: Path) -> dict | None:
    """The held proof of play the spool has now (read as any SQLite reader would)."""
    if not spool.exists():
        return None
    db = sqlite3.connect(f"file:{spool}?mode=ro", uri=True, timeout=5)
    try:
        rows = read_held(db)
    finally:
        db.close()
    if rows is None:
        return None
    body = assemble(rows) if rows.legacy is None else json.loads(rows.legacy)
    for hour in body["hours"]:
        hour.setdefault("plays", [])
        hour.setdefault("aggregate", {})
    return body


def older_form(spool: Path) -> bool:
    db = sqlite3.connect(f"file:{spool}?mode=ro", uri=True, timeout=5)
    try:
        return has_legacy(db)
    finally:
        db.close()


def held_plays(body: dict | None) -> int:
    """Plays an hour holds: one by one, or in aggregate."""
    if body is None:
        return 0
    return sum(len(hour["plays"]) + sum(plays for plays, _ in hour["aggregate"].values()) for hour in body["hours"])


def moved_back(body: dict) -> dict:
    """The held periods and their plays, DOWN earlier."""
    def back(text: str) -> str:
        moment = dt.datetime.fromisoformat(text.replace("Z", "+00:00")) - DOWN
        return moment.isoformat().replace("+00:00", "Z")

    for period in body["hours"] + body["days"]:
        period["start"] = back(period["start"])
        for play in period.get("plays", []):
            for key in ("start", "end"):
                if key in play:
                    play[key] = back(play[key])
    return body


def write_body(spool: Path, body: dict) -> None:
    """In place of the rows, as an older version kept it: one body in a `held` table."""
    db = sqlite3.connect(spool, timeout=5)
    try:
        db.execute("DELETE FROM held_periods")
        db.execute("DELETE FROM held_plays")
        db.execute("CREATE TABLE held (name TEXT PRIMARY KEY, body BLOB NOT NULL)")
        db.execute("INSERT INTO held (name, body) VALUES ('ledger', ?)",
                   (json.dumps({**body, "version": LEGACY}).encode(),))
        db.commit()
    finally:
        db.close()


def seconds_of(body: dict) -> float:
    return sum(play["seconds"] for hour in body["hours"] for play in hour["plays"]) + \
        sum(seconds for hour in body["hours"] for _, seconds in hour["aggregate"].values()) + \
        sum(seconds for day in body["days"] for _, seconds in day["held"].values())


def test_plays_held_when_the_kiosk_is_killed_arrive_after_the_restart(tmp_path, broker, samples, models_dir):
    spool = tmp_path / "spool.sqlite3"
    subscriber = Subscriber(broker.url, "signage/lab/sd/#", client_id="fleet-held", persistent=True)
    process = start_controller(tmp_path, broker.url, samples, models_dir, loop=True)
    try:
        # The person looks at every turn of the video: idle-a, cut by `look` (20 s), and `look` again.
        wait_for(lambda: held_plays(held_body(spool)) >= 2, "two plays held in the spool", timeout=90)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=10)
        sent = [m for m in subscriber.on("/play") + subscriber.on("/totals")]
        assert not sent, "held plays went out before the kill"
        body = held_body(spool)
        assert body is not None and held_plays(body) >= 2
        text = json.dumps(body)
        assert '"passers"' in text and all(hour["passers"] <= 3 for hour in body["hours"]), "counts, up to min_group"
        expected = seconds_of(body)
        write_body(spool, moved_back(body))

        process = start_controller(tmp_path, broker.url, samples, models_dir, loop=True)
        wait_for(lambda: sum(seconds_released(subscriber)) >= expected - 0.01,
                 "the held plays released after the restart", timeout=90)
        assert sum(seconds_released(subscriber)) == pytest.approx(expected, abs=0.01), "each held play once"
        wait_for(lambda: not any(period["start"] < old_enough() for period in
                                 (held_body(spool) or {"hours": []})["hours"]),
                 "the spool no longer holds the released periods")
        wait_for(lambda: not older_form(spool), "the older form rewritten as rows and dropped")
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            output = process.communicate(timeout=30)[0]
            assert "Traceback" not in output, output
        subscriber.close()


def old_enough() -> str:
    """Periods that start before this were moved back by the test."""
    return (dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)).replace(tzinfo=None).isoformat()


def seconds_released(subscriber: Subscriber) -> list[float]:
    """Seconds of proof of play published for the periods the test moved back."""
    cut = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=1)
    out = []
    for message in subscriber.on("/play"):
        play = message.json()
        if dt.datetime.fromisoformat(play["start"].replace("Z", "+00:00")) < cut:
            out.append(play["seconds"])
    for message in subscriber.on("/totals"):
        totals = message.json()
        if dt.datetime.fromisoformat(totals["start"].replace("Z", "+00:00")) < cut:
            out += [item["seconds"] for item in totals["creatives"].values()]
    return out
