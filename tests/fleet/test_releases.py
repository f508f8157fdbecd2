"""The fleet serves content releases (fleet/web/routes/releases.py) read-only, without a
login, with Range; a kiosk's updater takes a release from a real `signage fleet`; and
an announcement on the broker reaches the kiosk's link (telemetry/mqtt.py)."""

from __future__ import annotations

import json
import os
import shutil
import threading
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.config import MqttConfig
from signage.content import release
from signage.content.updater import ContentUpdater, Settings
from signage.display.videoinfo import video_length
from signage.telemetry.mqtt import Telemetry
from signage.wire.client import new_client
from signage.wire.announcements import content_topics
from tests.fleet.server import FleetServer

PROJECT = Path(__file__).resolve().parents[2]


@pytest.fixture
def published(tmp_path):
    repo, releases = tmp_path / "repo", tmp_path / "releases"
    (repo / "sites" / "hq" / "media").mkdir(parents=True)
    (repo / "sites" / "hq" / "lobby.yaml").write_text(
        "creatives:\n  - id: logo\n    type: image\n    media: media/logo.png\ndefault: [logo]\n")
    shutil.copy(PROJECT / "playlists" / "creatives" / "welcome.png", repo / "sites" / "hq" / "media" / "logo.png")
    (repo / "fleet").mkdir()
    (repo / "fleet" / "lobby.yaml").write_text("creatives:\n  - id: hi\n    type: card\n    text: Hi\ndefault: [hi]\n")
    key = Ed25519PrivateKey.generate()
    release.publish(repo, releases, key, video_length=video_length, simulate_days=0)
    return key, releases


@pytest.fixture
def fleet(tmp_path, broker, published):
    server = FleetServer(tmp_path / "fleet", broker.url, releases=str(published[1])).started()
    yield server
    server.stop()


def test_the_fleet_serves_release_files_with_range_and_nothing_else(fleet, published):
    _, releases = published
    manifest = json.loads((releases / "1" / "manifest.json").read_bytes())
    digest = manifest["targets"]["site/hq"]["files"]["media/logo.png"]["sha256"]
    whole = (releases / "objects" / digest).read_bytes()
    with fleet.client() as client:
        assert client.get("/releases/latest").text == "1\n"
        assert client.get("/releases/1/manifest.sig").status_code == 200
        part = client.get(f"/releases/objects/{digest}", headers={"Range": "bytes=1000-"})
        assert part.status_code == 206 and part.content == whole[1000:]
        assert part.headers["content-range"] == f"bytes 1000-{len(whole) - 1}/{len(whole)}"
        for path in (".lock", "1", "1/other.json", "objects/ABC", "%2e%2e/fleet.yaml"):
            assert client.get(f"/releases/{path}").status_code == 404, path
        assert client.post("/releases/latest").status_code in (403, 405)


def test_a_kiosk_takes_its_sites_release_from_the_fleet(fleet, published, tmp_path):
    key, _ = published
    settings = Settings(base_url=f"{fleet.url}/releases", key=key.public_key(), folder=tmp_path / "kiosk",
                        site="hq", device="door", budget_bytes=50_000_000, check_every=3600, rate_bytes_s=10e6)
    updater = ContentUpdater(settings, video_length)
    updater.folder.prepare()
    updater.step()
    assert updater.state.state == "active" and updater.state.target == "site/hq"
    assert (tmp_path / "kiosk" / "current" / "media" / "logo.png").is_file()
    assert os.readlink(tmp_path / "kiosk" / "current") == "releases/1"


def test_a_retained_announcement_reaches_the_kiosk_and_its_own_commands_still_do(broker, tmp_path):
    heard, arrived = [], threading.Event()

    def on_announcement(topic: str, payload: bytes) -> None:
        heard.append((topic, payload))
        arrived.set()

    publisher = new_client(client_id="publisher")
    host, port = broker.url.removeprefix("mqtt://").split(":")
    publisher.connect(host, int(port))
    publisher.loop_start()
    publisher.publish("signage/content/site/hq", json.dumps({"version": 7}), qos=1, retain=True).wait_for_publish()
    publisher.publish("signage/content/site/other", json.dumps({"version": 9}), qos=1, retain=True)\
        .wait_for_publish()
    telemetry = Telemetry(MqttConfig(url=broker.url), "hq", "door", tmp_path / "spool.sqlite3",
                          announcements=content_topics("signage", "hq", "door"), on_announcement=on_announcement)
    telemetry.start()
    try:
        assert arrived.wait(30), "the retained announcement never arrived"
        assert heard == [("signage/content/site/hq", b'{"version": 7}')], "only the kiosk's own targets"
    finally:
        telemetry.stop()
        publisher.loop_stop()
        publisher.disconnect()


def test_the_fleet_announces_each_release_to_its_targets_retained(fleet, published, broker, tmp_path):
    from tests.subscriber import Subscriber

    key, releases = published
    watching = Subscriber(broker.url, "signage/content/#")
    try:
        first = watching.wait_for(lambda m: m.topic == "signage/content/site/hq", timeout=30)
        assert first.json() == {"version": 1}
        assert watching.wait_for(lambda m: m.topic == "signage/content/fleet").json() == {"version": 1}
        release.republish(releases, 1, key)
        assert watching.wait_for(lambda m: m.topic == "signage/content/site/hq" and m.json() == {"version": 2},
                                 timeout=30)
    finally:
        watching.close()
    late = Subscriber(broker.url, "signage/content/#")  # a screen that comes online later
    try:
        assert late.wait_for(lambda m: m.topic == "signage/content/fleet").retain
    finally:
        late.close()


def test_the_fleet_page_shows_each_screens_rollout(store):
    from signage.fleet import queries
    from signage.fleet.parse import parse
    from tests.fleet import factory as f

    def status(device: str, content: dict | None) -> None:
        body = f.status(device=device) | ({"content": content} if content is not None else {})
        store.write([parse("signage", f"signage/lab/{device}/status", f.encode(body))])

    status("a", {"state": "active", "version": 3, "target": "site/lab"})
    status("b", {"state": "downloading", "version": 3, "target": "site/lab", "next_version": 4,
                 "done_bytes": 40, "total_bytes": 100})
    status("c", {"state": "refused", "version": 3, "target": "site/lab", "next_version": 4,
                 "reason": "version 4: bad signature"})
    status("d", None)
    broke_off = ("version 4: objects/ab: 200000 of 600000 bytes arrived: the server closed the connection in the "
                 "middle of the file; the download resumes from byte 200000 at the next try, in 60 s")
    status("e", {"state": "refused", "version": 3, "target": "site/lab", "next_version": 4, "reason": broke_off})
    status("f", {"state": "pending", "next_version": 1, "reason": "version 1: cannot reach the server"})
    replayed = "the server offers version 2, older than the active 3: refused (rollback)"
    status("g", {"state": "active", "version": 3, "target": "site/lab", "reason": replayed})
    rows = {row.device: row.content for row in queries.fleet(store.reader).rows}
    assert rows == {"a": "v3 (site/lab)", "b": "v3 (site/lab) · v4 downloading 40%",
                    "c": "v3 (site/lab) · v4 refused: version 4: bad signature", "d": None,
                    "e": f"v3 (site/lab) · v4 refused: {broke_off}",
                    "f": "none yet · v1 pending: version 1: cannot reach the server",
                    "g": f"v3 (site/lab) · {replayed}"}
    assert queries.screen(store.reader, "lab", "c")["content_summary"].endswith("bad signature")


def test_the_fleet_page_says_a_screen_waits_for_its_first_release_not_that_its_playlist_was_rejected(store):
    from signage.fleet import queries
    from signage.fleet.parse import parse
    from tests.fleet import factory as f

    waiting = "waiting for its first release from http://fleet.example/releases (playing the fallback card)"
    body = f.status(device="new", playlist=waiting, last_error=waiting, content={"state": "none"})
    store.write([parse("signage", "signage/lab/new/status", f.encode(body))])
    row = next(row for row in queries.fleet(store.reader).rows if row.device == "new")
    assert row.content == "none yet" and any(waiting in problem for problem in row.problems), row
    assert not any("rejected" in problem for problem in row.problems)
