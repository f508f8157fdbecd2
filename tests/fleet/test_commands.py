"""Commands that do not lie: recorded before they are published (and not published when
they cannot be recorded), refused for a screen that is not online, "done" only for the
screen's own echo after the command, and "Play now" from the screen's current playlist."""

from __future__ import annotations

import re
import subprocess
import sys

import sqlalchemy as sa

from signage.fleet.parse import parse
from signage.fleet.tables import commands
from tests.fleet import factory as f
from tests.fleet.dashboard import csrf_of, login
from tests.subscriber import Subscriber

HOLD_WRITE_LOCK = """
import sqlite3, sys
connection = sqlite3.connect(sys.argv[1], isolation_level=None)
connection.execute("BEGIN IMMEDIATE")
print("locked", flush=True)
sys.stdin.readline()
connection.execute("ROLLBACK")
"""


def send(client, feature: str, value: str, screen: str = "lab/a"):
    return client.post(f"/screen/{screen}/command", data={"feature": feature, "value": value,
                                                          "csrf": csrf_of(client)})


def recorded(store) -> list[tuple[str, str, str]]:
    with store.engine.begin() as conn:
        return [tuple(r) for r in conn.execute(sa.select(commands.c.feature, commands.c.value, commands.c.state)
                                               .order_by(commands.c.row))]


def outcomes(client, screen: str = "lab/a") -> list[str]:
    """The answers in the command log, newest first."""
    log = client.get(f"/screen/{screen}").text.split('id="command-log">', 1)[1].split("</tbody>", 1)[0]
    cells = re.findall(r'<td class="[^"]*"[^>]*>(.*?)</td></tr>', log, re.S)
    return [re.sub(r"\s+", " ", cell).strip() for cell in cells]


def test_a_command_that_cannot_be_recorded_is_not_published(web):
    client, store, broker = web
    login(client)
    wire = Subscriber(broker.url, "signage/+/+/+/set")
    database = store.url.split("///", 1)[1]
    locker = subprocess.Popen([sys.executable, "-c", HOLD_WRITE_LOCK, database], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    try:
        assert locker.stdout.readline().strip() == "locked"
        refused = send(client, "privacy", "ON")
        assert locker.poll() is None, "answered while the lock is still held"
    finally:
        locker.communicate("release\n", timeout=30)
    assert refused.status_code == 503 and "Retry-After" in refused.headers
    assert "database is unavailable or busy" in refused.text and "Nothing was changed or sent" in refused.text
    assert "Traceback" not in refused.text
    # The lock is gone: the next command goes through, and it is the only one on the wire.
    assert "Sent privacy OFF" in send(client, "privacy", "OFF").text
    assert wire.wait_for(lambda m: m.topic.endswith("/set")).json()["value"] == "OFF"
    assert [(m.topic, m.json()["value"]) for m in wire.messages] == [("signage/lab/a/privacy/set", "OFF")]
    assert recorded(store) == [("privacy", "OFF", "sent")]
    wire.close()


def test_a_command_to_a_screen_that_is_not_online_is_refused_and_the_page_says_why(web):
    client, store, broker = web
    login(client)
    wire = Subscriber(broker.url, "signage/+/+/+/set")
    store.write([parse("signage", "signage/mall/b/status", f.encode(f.status(site="mall", device="b"))),
                 parse("signage", "signage/lab/c/available", b"stopped"),
                 parse("signage", "signage/lab/c/status", f.encode(f.status(site="lab", device="c")))])
    for screen, availability in (("mall/b", "offline"), ("lab/c", "stopped")):
        page = send(client, "privacy", "ON", screen)
        assert f"Command refused: {screen} is {availability} since" in page.text
        assert "never queued" in page.text
        assert 'id="commands-offline"' in page.text and re.search(r'id="privacy-on"\s+disabled', page.text)
    assert "Sent privacy ON" in send(client, "privacy", "ON").text  # lab/a is online
    assert wire.wait_for(lambda m: m.topic.endswith("/set")).topic == "signage/lab/a/privacy/set"
    assert [m.topic for m in wire.messages] == ["signage/lab/a/privacy/set"]
    assert recorded(store) == [("privacy", "ON", "sent")]
    wire.close()


def test_done_is_shown_only_for_the_screens_own_echo_after_the_command(web):
    client, store, _ = web
    login(client)

    def device(*messages):
        store.write([parse("signage", f"signage/lab/a/{topic}", payload) for topic, payload in messages])

    device(("privacy/state", b"OFF"))  # an echo from before
    send(client, "privacy", "OFF")
    assert outcomes(client) == ["sent, no answer yet"]
    # The screen drops off and comes back with its old state: that answers nothing.
    device(("available", b"offline"), ("available", b"online"), ("privacy/state", b"OFF"))
    assert outcomes(client)[0].startswith("no answer: the screen became offline at")
    # Two commands, one echo: the first command's.
    send(client, "privacy", "ON")
    send(client, "privacy", "OFF")
    device(("privacy/state", b"ON"))
    assert outcomes(client)[:2] == ["sent, no answer yet", "done: privacy = ON"]
    # The second's answer says another value (the screen kept privacy on): not "done".
    device(("privacy/state", b"ON"))
    assert outcomes(client)[0] == "answered privacy = ON, not OFF"
    # A refusal answers the command of its topic.
    send(client, "creative", "summer")
    refusal = {"schema": 1, "site": "lab", "device": "a", "topic": "signage/lab/a/creative/set",
               "error": "creative: unknown id 'summer'"}
    device(("error", f.encode(refusal)))
    assert outcomes(client)[0] == "refused: creative: unknown id &#39;summer&#39;"


def test_play_now_offers_the_creatives_of_the_screens_current_playlist(web):
    client, store, broker = web
    login(client)

    def offered() -> list[str]:
        page = client.get("/screen/lab/a").text
        choice = page.split('id="creative-choice">', 1)[1].split("</select>", 1)[0]
        return re.findall(r"<option>(.*?)</option>", choice)

    # spring has played there; summer never has; both are in the playlist its status lists.
    assert offered() == ["spring", "summer"]
    assert "Sent creative summer" in send(client, "creative", "summer").text
    store.write([parse("signage", "signage/lab/a/status", f.encode(f.status(creatives=["winter"])))])
    assert offered() == ["winter"]
    assert "is not in the current playlist of lab/a; it has: winter" in send(client, "creative", "spring").text
    # A kiosk too old to report its playlist: nothing to offer, and the page says why.
    old = f.status()
    del old["creatives"]
    store.write([parse("signage", "signage/lab/a/status", f.encode(old))])
    page = client.get("/screen/lab/a").text
    assert offered() == [] and "does not report its playlist" in page
    assert "does not report its playlist" in send(client, "creative", "winter").text
