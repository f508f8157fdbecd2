"""The kiosk's side of content releases (kiosk/releases.py, kiosk/status.py): a valid
announcement wakes the updater with its version, anything else is ignored, never fatal;
a refusal is a problem and an error until a release is installed; download progress does
not flood the status topic."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.config import Config
from signage.contentconfig import ContentConfig
from signage.content.signing import public_text
from signage.kiosk.problems import Problems
from signage.kiosk.releases import Releases
from signage.content.updater import ContentRefused, ContentInstalled


@pytest.fixture
def releases(tmp_path) -> Releases:
    folder = tmp_path / "content"
    config = Config(site="hq", device="door", playlists=str(folder / "current"),
                    content=ContentConfig(url="http://127.0.0.1:9/releases", folder=str(folder),
                                          public_key=public_text(Ed25519PrivateKey.generate().public_key())))
    refused, reloads = [], []
    made = Releases(config, Problems(), lambda topic, reason: refused.append((topic, reason)),
                    lambda: reloads.append(True))
    made.refused, made.reloads = refused, reloads
    return made


def test_the_kiosk_listens_on_its_own_targets_most_specific_first(releases):
    assert releases.topics == ("signage/content/screen/hq/door", "signage/content/site/hq", "signage/content/fleet")


@pytest.mark.parametrize("payload", [b"", b"7", b'{"version": 0}', b'{"version": "7"}', b'{"version": 7, "x": 1}',
                                     b"\xff", b'{"version": ' + b"9" * 200 + b"}", b"[" * 100_000])
def test_malformed_announcements_are_ignored(releases, payload):
    releases.announced("signage/content/fleet", payload)
    assert releases.updater._announced is None


def test_a_valid_announcement_wakes_the_updater_with_the_newest_version(releases):
    releases.announced("signage/content/fleet", json.dumps({"version": 7}).encode())
    releases.announced("signage/content/site/hq", json.dumps({"version": 5}).encode())
    assert releases.updater._announced == 7


def test_a_refusal_is_a_problem_and_an_error_until_a_release_is_installed(releases):
    releases.take(ContentRefused(3, "version 3: bad signature"))
    assert "bad signature" in releases._problems.get("content")
    assert releases.refused == [("content", "version 3: bad signature")]
    assert releases.reloads == []
    releases.take(ContentInstalled(4, "fleet"))
    assert releases._problems.get("content") is None
    assert releases.reloads == [True], "the watcher reads the new release at once (it may differ in media only)"
    assert releases.state().state == "none"


def test_without_content_url_there_is_no_updater_and_no_status(tmp_path):
    quiet = Releases(Config(), Problems(), lambda topic, reason: None, lambda: None)
    assert quiet.updater is None and quiet.state() is None and quiet.topics == ()


def test_download_progress_does_not_publish_a_status_each_look_but_a_change_of_state_does():
    from signage.kiosk.status import STATUS_EVERY_S, StatusPublisher

    now = [0.0]
    published: list[dict] = []
    publisher = StatusPublisher(lambda: now[0])
    status = {"camera": "ok", "content": {"state": "downloading", "version": 1, "done_bytes": 0}}

    def look(seconds: float, **content) -> None:
        now[0] += seconds
        status["content"] = status["content"] | content
        publisher.maybe_publish(lambda: dict(status), published.append)

    look(1)
    assert len(published) == 1
    for done in range(1, 8):  # progress, looked at every half second
        look(0.5, done_bytes=done * 1000)
    assert len(published) == 1, "progress alone waits for the periodic status"
    look(STATUS_EVERY_S, done_bytes=9000)
    assert len(published) == 2 and published[-1]["content"]["done_bytes"] == 9000
    look(0.5, state="active", version=2)
    assert len(published) == 3, "a new state is published at once"
