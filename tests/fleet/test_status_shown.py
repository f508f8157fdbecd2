"""Status shown right, on both databases: the badges count what they say, a clean stop
is "stopped" (not an error), a screen that is not online claims no broker link, and the
status history reads in words, without the echoes every reconnect delivers again."""

from __future__ import annotations

import re
from datetime import timedelta

import sqlalchemy as sa

from signage.fleet import queries, screen_log
from signage.fleet.parse import parse
from signage.fleet.tables import commands
from tests.fleet import factory as f
from tests.fleet.dashboard import logged_in

NOW = f.T0.replace(tzinfo=None) + timedelta(hours=2)


def said(device: str, kind: str, body) -> object:
    raw = body if isinstance(body, bytes) else f.encode(body)
    return parse("signage", f"signage/lab/{device}/{kind}", raw)


def fleet_of_four(store) -> None:
    """Two screens stopped cleanly (their final status says broker "stopped"), one that
    died (its retained status still says "connected"), one online with its display lost."""
    batch = []
    for device in ("s1", "s2"):
        batch += [said(device, "available", b"online"), said(device, "status", f.status(device=device))]
    batch += [said("dead", "available", b"online"), said("dead", "status", f.status(device="dead")),
              said("lost", "available", b"online"), said("lost", "status", f.status(device="lost", display="lost"))]
    store.write(batch, now=NOW)
    store.write([said(d, "status", f.status(device=d, broker="stopped")) for d in ("s1", "s2")]
                + [said(d, "available", b"stopped") for d in ("s1", "s2")] + [said("dead", "available", b"offline")],
                now=NOW + timedelta(seconds=5))


def test_the_badges_count_what_they_say_and_a_stop_is_no_error(store):
    fleet_of_four(store)
    page = queries.fleet(store.reader, today=f.T0.date())
    assert page.summary == {"offline": 1, "problem": 1, "stopped": 2, "unknown": 0, "ok": 0}
    rows = {r.device: r for r in page.rows}
    assert [r.device for r in page.rows] == ["dead", "lost", "s1", "s2"]
    assert rows["s1"].problems == rows["s2"].problems == [] and rows["s1"].link == "stopped"
    assert rows["dead"].link == "not connected" and rows["lost"].link == "connected"
    assert rows["lost"].problems == ["display lost"]
    html = logged_in(store).get("/").text
    assert re.search(r'id="count-stopped">\s*2 stopped', html) and re.search(r'id="count-offline">\s*1 offline', html)
    assert "broker: stopped" not in html
    dead_row = re.search(r'<tr class="health-offline".*?</tr>', html, re.DOTALL).group(0)
    assert "connected" not in dead_row.replace("not connected", "")
    screen = logged_in(store).get("/screen/lab/dead").text
    assert re.search(r'id="link">not connected<', screen)


def test_a_screen_never_online_with_a_bad_status_is_not_yet_online(store):
    store.write([said("new", "status", f.status(device="new", camera="gone"))], now=NOW)
    assert queries.fleet(store.reader).summary["unknown"] == 1


def test_history_reads_in_words_without_repeated_echoes(store):
    t = NOW
    store.write([said("a", "available", b"online"), said("a", "status", f.status())], now=t)
    store.write([said("a", "status", f.status(camera="gone", privacy=True, last_error="camera unplugged"))],
                now=t + timedelta(seconds=1))
    store.write([said("a", "status", f.status(privacy=True))], now=t + timedelta(seconds=2))
    for second in (3, 4, 5):  # the retained echo, delivered again on each reconnect
        store.write([said("a", "privacy/state", b"ON")], now=t + timedelta(seconds=second))
    with store.engine.begin() as conn:  # a command asks for what the screen already does: its echo answers it
        conn.execute(sa.insert(commands).values(site="lab", device="a", feature="privacy", value="ON",
                                                sent_at=t + timedelta(seconds=6)))
    store.write([said("a", "privacy/state", b"ON")], now=t + timedelta(seconds=7))
    store.write([said("a", "available", b"stopped")], now=t + timedelta(seconds=8))
    texts = [h["text"] for h in reversed(screen_log.history(store.reader, "lab", "a"))]
    assert texts == [
        "online",
        "first status: camera ok, display ok, broker connected, playlist ok, privacy off",
        "camera ok → gone; privacy on; error: camera unplugged",
        "camera gone → ok; error cleared",
        "privacy on: the screen's echo",
        "privacy on: the screen's echo",
        "stopped (a clean stop)"]
    assert not any(word in text for text in texts for word in ("True", "False", "None"))
    outcome = screen_log.recent_commands(store.reader, "lab", "a", now=t + timedelta(seconds=9))[0]["outcome"]
    assert outcome == "done: privacy = ON"
    page = logged_in(store).get("/screen/lab/a").text
    assert "camera gone → ok; error cleared" in page and "privacy False" not in page
