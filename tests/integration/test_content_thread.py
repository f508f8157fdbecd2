"""The content thread in a running kiosk (kiosk/releases.py, kiosk/reload.py): a download
that breaks off is refused for now in status while the release playing stays on screen,
and resumed at the next look; a reload (SIGHUP) that changes the `content:` section makes
the content thread again: the old thread stops, the new one looks at its new URL at
once; a content section that does not load, or a content folder that cannot be made,
keeps the running thread and says where in status."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.content import release, signing
from signage.display.videoinfo import video_length
from signage.errors import SignageError
from tests.kiosk import make_config, run_with
from tests.support.releases import ReleaseServer
from tests.support.waiting import wait_for


def published(root: Path, key, text: str, times: int = 1, creative: str = "main") -> Path:
    """A releases folder whose newest version (`times`) plays a card saying `text`."""
    repo, releases = root / "repo", root / "releases"
    (repo / "fleet").mkdir(parents=True, exist_ok=True)
    (repo / "fleet" / "lobby.yaml").write_text(
        f"creatives:\n  - {{id: {creative}, type: card, text: {text}}}\ndefault: [{creative}]\n")
    for _ in range(times):
        release.publish(repo, releases, key, video_length=video_length, simulate_days=0)
    return releases


@pytest.fixture
def servers(tmp_path):
    key = Ed25519PrivateKey.generate()
    first = ReleaseServer(published(tmp_path / "a", key, "first")).start()
    second = ReleaseServer(published(tmp_path / "b", key, "second", times=2)).start()
    yield key, first, second
    first.stop()
    second.stop()


def content(folder: Path, url: str, key, **more) -> dict:
    fields = {"url": f"'{url}'", "folder": str(folder), "check_every": 3600,
              "public_key": signing.public_text(key.public_key()), **more}
    return {"content": "{" + ", ".join(f"{name}: {value}" for name, value in fields.items()) + "}",
            "playlists": str(folder / "current")}


def test_a_content_change_makes_the_content_thread_again_and_a_broken_one_keeps_it(
        xvfb, broker, tmp_path, models_dir, samples, servers):
    from signage.kiosk.app import Kiosk

    key, first, second = servers
    folder = tmp_path / "content"
    config, path = make_config(tmp_path, broker.url, **content(folder, first.url, key))
    controller = Kiosk(config, config_path=path)

    def active(c, version: int):
        state = c.status().get("content") or {}
        return state if state.get("state") == "active" and state.get("version") == version else None

    def script(c):
        wait_for(lambda: active(c, 1), "version 1 from the first server")
        running = c.releases.updater
        make_config(tmp_path, broker.url, **content(folder, second.url, key, rate_mb_s=2, budget_mb=50))
        c.reload()
        wait_for(lambda: active(c, 2), "version 2 from the second server, at once")
        assert not running.alive(), "the old content thread stopped"
        made = c.releases.updater
        assert made is not running and made.alive() and made.settings.rate_bytes_s == 2e6
        assert made.settings.budget_bytes == 50_000_000 and made.settings.base_url == second.url

        with pytest.raises(SignageError, match="content.public_key"):  # written, and it does not load
            make_config(tmp_path, broker.url, **content(folder, second.url, key, public_key="tooshort"))
        c.reload()
        wait_for(lambda: "content.public_key" in (c.status()["last_error"] or ""), "rejected, saying where")
        assert c.releases.updater is made and made.alive(), "the running content thread goes on"
        assert c.config.content.url == second.url

        blocked = tmp_path / "a-file"
        blocked.write_text("not a folder")
        make_config(tmp_path, broker.url, **content(blocked / "content", second.url, key))
        c.reload()
        wait_for(lambda: "(content.folder)" in (c.status()["last_error"] or ""), "rejected for its content folder")
        assert c.releases.updater is made and made.alive() and c.config.content_folder == folder

        moved = tmp_path / "moved"  # a new content folder: the release playing plays on until it has one
        make_config(tmp_path, broker.url, **content(moved, second.url, key))
        c.reload()
        wait_for(lambda: c.config.content_folder == moved, "the new content folder taken")
        wait_for(lambda: active(c, 2) and (moved / "current").is_symlink(), "version 2 in the new folder")
        wait_for(lambda: c.status()["playlist"] == "ok" and c.watcher.paths == [moved / "current"],
                 "playing from the new folder")
        assert c.stuck(3600) is None

    run_with(controller, script)
    shutil.rmtree(folder, ignore_errors=True)


def test_a_download_that_breaks_off_is_refused_for_now_while_the_release_playing_stays_on_screen(
        xvfb, broker, tmp_path, models_dir, samples):
    import json
    import os

    from signage.kiosk.app import Kiosk
    from tests.kiosk import on_screen

    key = Ed25519PrivateKey.generate()
    releases = published(tmp_path / "a", key, "first", creative="first")
    server = ReleaseServer(releases).start()
    folder = tmp_path / "content"
    config, path = make_config(tmp_path, broker.url, **content(folder, server.url, key))
    controller = Kiosk(config, config_path=path)

    def refused(c):
        status = c.status()
        return status if (status.get("content") or {}).get("state") == "refused" else None

    def script(c):
        wait_for(lambda: on_screen(c) == "first", "release 1 on screen")
        (tmp_path / "a" / "repo" / "fleet" / "filler.bin").write_bytes(os.urandom(400_000))
        published(tmp_path / "a", key, "second", creative="second")
        manifest = json.loads((releases / "2" / "manifest.json").read_bytes())
        filler = f"objects/{manifest['targets']['fleet']['files']['filler.bin']['sha256']}"
        server.faults[filler] = ("truncate", 100_000)
        c.releases.updater.announce(2)  # as MQTT would
        status = wait_for(lambda: refused(c), "the broken download refused for now")
        assert "100000 of 400000 bytes arrived" in status["content"]["reason"], status["content"]
        assert "resumes from byte 100000" in status["content"]["reason"], status["content"]
        assert status["content"]["version"] == 1 and on_screen(c) == "first" and status["playing"] == "first"
        assert not any("content refused" in p for p in status["problems"]), "not refused for good"
        del server.faults[filler]
        c.releases.updater.announce(2)  # the next look (the retry's timer is a minute away)
        wait_for(lambda: on_screen(c) == "second", "release 2 on screen, resumed")
        assert (filler, "bytes=100000-") in server.requests
        assert c.status()["content"]["state"] == "active"

    try:
        run_with(controller, script)
    finally:
        server.stop()
