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


class FakeNotifier:
    """systemd's side of the watchdog: an interval, and the feeds it got."""

    def __init__(self):
        self.fed = 0

    def watchdog_interval(self) -> float:
        return 1.0

    def watchdog(self) -> None:
        self.fed += 1


def test_a_content_step_that_hangs_is_said_in_status_and_withholds_the_watchdog_until_it_moves_again(tmp_path):
    import threading
    from types import SimpleNamespace

    from signage.content.fetch import FetchFailed
    from signage.kiosk.health import stuck_thread
    from signage.kiosk.releases import STALE_S
    from signage.kiosk.watchdog import Watchdog
    from tests.support.waiting import wait_for

    now = [1000.0]
    folder = tmp_path / "content"
    config = Config(site="hq", device="door", playlists=str(folder / "current"),
                    content=ContentConfig(url="http://127.0.0.1:9/releases", folder=str(folder),
                                          public_key=public_text(Ed25519PrivateKey.generate().public_key())))
    problems = Problems()
    releases = Releases(config, problems, lambda topic, reason: None, lambda: None, clock=lambda: now[0])
    entered, let_go = threading.Event(), threading.Event()

    def hangs(path, limit):  # a read that never returns (until the test lets it)
        entered.set()
        let_go.wait(30)
        raise FetchFailed(f"{path}: timed out")

    releases.updater.fetcher.small = hangs
    others = SimpleNamespace(stuck=lambda stale: None, alive=lambda stale: True, watcher=None)
    stuck = lambda stale: stuck_thread(others, others, others, releases, stale)  # noqa: E731
    watchdog = Watchdog(FakeNotifier(), lambda: now[0])
    releases.start()
    try:
        assert entered.wait(10)
        releases.watch()
        watchdog.feed(stuck)
        assert problems.get("content thread") is None and stuck(2.0) is None and watchdog.notifier.fed == 1, \
            "a read may wait the fetch's own timeout"
        now[0] += STALE_S + releases.updater.fetcher.timeout + 1
        releases.watch()
        assert "the content thread made no progress" in problems.get("content thread")
        assert stuck(2.0) == "the content thread"
        watchdog.feed(stuck)
        assert watchdog.notifier.fed == 1 and watchdog.withholding == "the content thread"
        let_go.set()
        wait_for(lambda: not releases.hung(STALE_S), "the step ends")
        releases.watch()
        now[0] += 1  # the watchdog's next turn
        watchdog.feed(stuck)
        assert problems.get("content thread") is None and watchdog.notifier.fed == 2
    finally:
        let_go.set()
        releases.stop()


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")
def test_a_content_thread_that_died_is_started_again_once(releases):
    from tests.support.waiting import wait_for

    def dies(path, limit):
        raise SystemExit("beyond the fault barrier")  # what the barrier does not catch ends the thread

    first = releases.updater
    first.fetcher.small = dies
    releases.start()
    try:
        wait_for(lambda: first.ended, "the content thread dies")
        releases.watch()
        assert releases.updater is not first and releases.updater.alive()
        assert releases.updater.settings == first.settings
        second = releases.updater
        releases.watch()
        assert releases.updater is second, "started once"
    finally:
        releases.stop()


def test_a_reload_waits_for_an_old_content_thread_still_in_a_read_before_the_new_one_starts(tmp_path, monkeypatch):
    import threading

    from signage.content.fetch import FetchFailed
    from signage.kiosk import releases as module
    from tests.support.waiting import wait_for

    monkeypatch.setattr(module, "STOP_S", 0.05)
    folder = tmp_path / "content"
    key = public_text(Ed25519PrivateKey.generate().public_key())

    def config(rate: float) -> Config:
        return Config(site="hq", device="door", playlists=str(folder / "current"),
                      content=ContentConfig(url="http://127.0.0.1:9/releases", folder=str(folder), public_key=key,
                                            rate_mb_s=rate))

    problems, now = Problems(), [0.0]
    made = Releases(config(4), problems, lambda topic, reason: None, lambda: None, clock=lambda: now[0])
    entered, let_go = threading.Event(), threading.Event()

    def hangs(path, limit):
        entered.set()
        let_go.wait(30)
        raise FetchFailed(f"{path}: timed out")

    old = made.updater
    old.fetcher.small = hangs
    made.start()
    try:
        assert entered.wait(10)
        new = made.make(config(2))
        made.replace(new, config(2))
        assert made.updater is new and not new.alive(), "not beside the old one: both would write the folder"
        made.watch()
        assert not new.alive()
        now[0] += 3600
        assert made.hung(30.0), "the replaced thread, stuck, is still seen by the watchdog"
        let_go.set()
        wait_for(lambda: not old.alive(), "the old thread ends once its read returns")
        made.watch()
        assert new.alive() and new.settings.rate_bytes_s == 2e6
    finally:
        let_go.set()
        made.stop()
