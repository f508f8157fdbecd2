"""Releases delivered to a kiosk's content folder over real HTTP (content/updater.py,
fetch.py, install.py): the happy path with deduplication and resumption, and every
failure refused or retried with the last good left in place, nothing half-swapped."""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.content import release
from signage.content.updater import ContentInstalled, ContentRefused, ContentUpdater, Rollout, Settings
from signage.display.videoinfo import video_length
from signage.playlist import lastgood
from signage.playlist.loader import load_playlist_set
from tests.disks import tmpfs
from tests.support.releases import ReleaseServer

PROJECT = Path(__file__).resolve().parents[2]
PNG = PROJECT / "playlists" / "creatives" / "welcome.png"
OTHER_PNG = PROJECT / "playlists" / "creatives" / "evening.png"
FILLER = 600_000  # bytes of a media file big enough to be cut short


def lobby(text: str) -> str:
    return (f"creatives:\n  - id: hello\n    type: card\n    text: {text}\n  - id: logo\n    type: image\n"
            f"    media: media/logo.png\ndefault: [hello, logo]\n")


@pytest.fixture
def repo(tmp_path) -> Path:
    root = tmp_path / "repo"
    (root / "fleet" / "media").mkdir(parents=True)
    (root / "fleet" / "lobby.yaml").write_text(lobby("Welcome"))
    shutil.copy(PNG, root / "fleet" / "media" / "logo.png")
    (root / "fleet" / "media" / "filler.bin").write_bytes(os.urandom(FILLER))
    return root


@pytest.fixture
def key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


@pytest.fixture
def server(tmp_path):
    running = ReleaseServer(tmp_path / "releases").start()
    yield running
    running.stop()


def publish(repo: Path, releases: Path, key, **options) -> int:
    return release.publish(repo, releases, key, video_length=video_length, simulate_days=0, **options).version


def updater_for(key, folder: Path, url: str, budget: int = 100_000_000,
                last_good: Path | None = None) -> ContentUpdater:
    settings = Settings(base_url=url, key=key.public_key(), folder=folder, site="hq", device="door",
                        budget_bytes=budget, check_every=3600, rate_bytes_s=50e6, last_good=last_good)
    updater = ContentUpdater(settings, video_length)
    updater.folder.prepare()
    return updater


def first_release_playing(tmp_path, repo: Path, key, server) -> tuple[Path, ContentUpdater]:
    """A screen's content folder and updater with release 1 of `repo` installed from `server`."""
    folder = tmp_path / "content"
    publish(repo, server.releases, key)
    updater = updater_for(key, folder, server.url)
    updater.step()
    return folder, updater


def events(updater: ContentUpdater) -> list:
    found = []
    while not updater.events.empty():
        found.append(updater.events.get())
    return found


def object_path(releases: Path, version: int, name: str) -> str:
    import json

    manifest = json.loads((releases / str(version) / "manifest.json").read_bytes())
    return f"objects/{manifest['targets']['fleet']['files'][name]['sha256']}"


def test_a_release_is_fetched_checked_and_swapped_in_and_the_next_one_fetches_only_what_changed(
        tmp_path, repo, key, server):
    folder = tmp_path / "kiosk" / "content"
    publish(repo, server.releases, key)
    updater = updater_for(key, folder, server.url)
    updater.step()
    assert updater.state.state == "active" and updater.state.version == 1 and updater.state.target == "fleet"
    assert events(updater) == [ContentInstalled(1, "fleet")]
    current = folder / "current"
    assert os.readlink(current) == "releases/1"
    loaded = load_playlist_set([current], current, video_length=video_length)
    assert loaded.playlist is not None and set(loaded.playlist.creatives) == {"hello", "logo"}

    (repo / "fleet" / "lobby.yaml").write_text(lobby("Welcome back"))
    publish(repo, server.releases, key)
    server.requests.clear()
    updater.step()
    assert updater.state.version == 2
    fetched = [path for path, _ in server.requests if path.startswith("objects/")]
    assert fetched == [object_path(server.releases, 2, "lobby.yaml")], "the logo and filler were not fetched again"
    assert (current / "media" / "logo.png").stat().st_nlink == 3  # one file: the object and both releases
    publish(repo, server.releases, key)  # 3: the same content
    updater.step()
    assert sorted(p.name for p in (folder / "releases").iterdir() if p.is_dir()) == ["2", "3"], \
        "the release playing and the one before are kept, older ones go"
    updater.step()  # nothing newer: nothing fetched
    assert updater.state.state == "active" and updater.state.version == 3


def test_cleaning_up_keeps_the_release_whose_media_the_last_good_playlist_saved_on_disk_plays(
        tmp_path, repo, key, server):
    folder, saved = tmp_path / "content", tmp_path / "state" / "last-good.json"
    publish(repo, server.releases, key)
    updater = updater_for(key, folder, server.url, last_good=saved)
    updater.step()
    current = folder / "current"
    loaded = load_playlist_set([current], current, video_length=video_length)
    assert loaded.playlist is not None and lastgood.save(loaded.playlist, saved)  # as the watcher saves it
    shutil.copy(OTHER_PNG, repo / "fleet" / "media" / "logo.png")  # releases 2 and 3 show another logo
    for text in ("Second", "Third"):
        (repo / "fleet" / "lobby.yaml").write_text(lobby(text))
        publish(repo, server.releases, key)
        updater.step()
    assert updater.state.version == 3
    assert sorted(p.name for p in (folder / "releases").iterdir() if p.is_dir()) == ["1", "2", "3"], \
        "1 is older than the one before current, but the last good playlist plays its media"
    restored = lastgood.restore(saved)  # refused if any of its media were gone or changed
    assert restored.media["logo"].read_bytes() == PNG.read_bytes()


def second_release_with_a_new_filler(repo: Path, releases: Path, key) -> str:
    """Version 2, whose only new file is a filler of FILLER bytes: its object's URL path."""
    (repo / "fleet" / "media" / "filler.bin").write_bytes(os.urandom(FILLER))
    assert publish(repo, releases, key) == 2
    return object_path(releases, 2, "media/filler.bin")


@pytest.mark.parametrize("fault, said", [
    ("short", "200000 of 600000 bytes arrived: the server ended its answer there (it announced Content-Length: "
              "200000)"),
    ("truncate", "200000 of 600000 bytes arrived: the server closed the connection in the middle of the file"),
])
def test_a_truncated_download_is_refused_for_now_and_resumes_with_range_at_the_next_try(
        tmp_path, repo, key, server, fault, said):
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    filler = second_release_with_a_new_filler(repo, server.releases, key)
    server.faults[filler] = (fault, 200_000)
    updater.step()
    state = updater.state
    assert state.state == "refused" and state.version == 1 and state.next_version == 2, state
    assert said in state.reason and "the download resumes from byte 200000 at the next try, in 60 s (" \
        in state.reason, state.reason
    assert os.readlink(folder / "current") == "releases/1", "the last good plays on; nothing swapped"
    assert events(updater) == [ContentInstalled(1, "fleet")], "not refused for good: no error, no problem"
    assert (folder / "partial" / filler.split("/")[1]).stat().st_size == 200_000
    del server.faults[filler]
    restarted = updater_for(key, folder, server.url)  # the kiosk restarted meanwhile: the partial file is kept
    restarted.step()
    assert restarted.state.state == "active" and restarted.state.version == 2
    assert (filler, "bytes=200000-") in server.requests
    assert not any((folder / "partial").iterdir())


def test_the_next_try_of_a_broken_download_is_downloading_again_from_where_it_broke_off(tmp_path, repo, key,
                                                                                         server):
    folder = tmp_path / "content"
    publish(repo, server.releases, key)
    filler = object_path(server.releases, 1, "media/filler.bin")
    server.faults[filler] = ("truncate", 250_000)
    updater = updater_for(key, folder, server.url)
    updater.step()
    assert updater.state.state == "refused"
    del server.faults[filler]
    seen = []
    updater.fetcher.file = spy(updater.fetcher.file, lambda: seen.append(updater.state))
    updater.step()
    assert seen and all(s.state == "downloading" and s.reason is None for s in seen), seen
    assert seen[0].done_bytes >= 250_000, "what arrived before counts as done"
    assert updater.state.state == "active" and updater.state.version == 1


def spy(call, before):
    def spied(*args, **kwargs):
        before()
        return call(*args, **kwargs)
    return spied


def test_a_server_that_dies_mid_file_is_refused_for_now_then_pending_while_away_then_resumed(
        tmp_path, repo, key, server):
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    filler = second_release_with_a_new_filler(repo, server.releases, key)
    server.faults[filler] = ("die", 300_000)
    updater.step()
    assert updater.state.state == "refused" and "300000 of 600000 bytes arrived" in updater.state.reason
    assert "resumes from byte 300000" in updater.state.reason
    updater.step()  # the next try: the server is gone before any byte, nothing was refused
    assert updater.state.state == "pending" and "cannot reach" in updater.state.reason, updater.state
    assert updater.state.version == 1 and os.readlink(folder / "current") == "releases/1"
    assert events(updater) == [ContentInstalled(1, "fleet")], "nothing refused for good"
    back = ReleaseServer(server.releases, port=server.port).start()
    try:
        updater.step()
        assert updater.state.state == "active" and updater.state.version == 2
        assert (filler, "bytes=300000-") in back.requests
    finally:
        back.stop()


def test_a_server_never_reached_leaves_an_announced_release_pending(tmp_path, key):
    updater = updater_for(key, tmp_path / "content", "http://127.0.0.1:9/releases")  # nothing listens
    updater.announce(4)
    updater.step()
    assert updater.state.state == "pending" and updater.state.next_version == 4
    assert "cannot reach http://127.0.0.1:9/releases" in updater.state.reason
    assert events(updater) == []


def test_a_tampered_file_is_refused_and_the_last_good_stays(tmp_path, repo, key, server):
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    (repo / "fleet" / "lobby.yaml").write_text(lobby("Second"))
    publish(repo, server.releases, key)
    lobby_object = server.releases / object_path(server.releases, 2, "lobby.yaml")
    lobby_object.write_bytes(lobby("Evil!!").encode())  # same size, other bytes
    updater.step()
    assert updater.state.state == "refused" and updater.state.version == 1 and updater.state.next_version == 2
    assert "sha256 is not the one the signed manifest names" in updater.state.reason
    refused = events(updater)
    assert len(refused) == 2 and isinstance(refused[1], ContentRefused) and refused[1].version == 2
    assert os.readlink(folder / "current") == "releases/1" and not (folder / "releases" / "2").exists()
    assert not any((folder / "partial").iterdir())
    server.requests.clear()
    updater.step()  # refused for good: not fetched again
    assert not [path for path, _ in server.requests if path.startswith("objects/")]


def test_a_release_the_device_check_rejects_is_refused_when_forced_past_publish(tmp_path, repo, key, server):
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    (repo / "fleet" / "lobby.yaml").write_text("creatives: []\ndefault: [ghost]\n")
    with pytest.raises(release.PublishRefused):  # publish refuses it; one made by hand and signed is tried
        publish(repo, server.releases, key)
    digest = release.sha256_of(repo / "fleet" / "lobby.yaml")
    release._store_objects(server.releases, {digest: repo / "fleet" / "lobby.yaml"})
    first = release.read_release(server.releases, 1, key).targets["fleet"].model_dump(mode="json")
    first["files"]["lobby.yaml"] = {"sha256": digest, "size": (repo / "fleet" / "lobby.yaml").stat().st_size}
    release._write(server.releases, key, {"fleet": first}, 30, None)
    updater.step()
    assert updater.state.state == "refused" and "fails the checks on this screen" in updater.state.reason
    assert "lobby.yaml:2:11: default[0]: unknown creative 'ghost'" in updater.state.reason
    assert os.readlink(folder / "current") == "releases/1"
    assert sorted(p.name for p in (folder / "releases").iterdir()) == ["1", "1.json", "1.sig"], "nothing half-made"


def test_a_release_over_the_budget_is_refused_before_anything_is_downloaded(tmp_path, repo, key, server):
    folder = tmp_path / "content"
    publish(repo, server.releases, key)
    updater = updater_for(key, folder, server.url, budget=300_000)
    updater.step()
    assert updater.state.state == "refused" and "content.budget_mb" in updater.state.reason
    assert not [path for path, _ in server.requests if path.startswith("objects/")]


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_disk_that_fills_during_the_download_is_refused_and_gives_the_space_back(tmp_path, repo, key, server):
    disk = next(tmpfs(tmp_path / "disk", "size=1m"))
    try:
        folder = disk / "content"
        publish(repo, server.releases, key)
        filler = object_path(server.releases, 1, "media/filler.bin")
        server.faults[filler] = ("fill", disk / "someone-else", 600_000)  # another writer takes the space
        updater = updater_for(key, folder, server.url)
        updater.step()
        assert updater.state.state == "refused" and "the disk is full" in updater.state.reason
        assert not (folder / "current").exists() and not any((folder / "partial").iterdir())
    finally:
        os.system(f"umount -l {disk}")


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a tmpfs needs root")
def test_a_release_larger_than_the_free_disk_is_refused_before_downloading(tmp_path, repo, key, server):
    disk = next(tmpfs(tmp_path / "disk", "size=256k"))
    try:
        publish(repo, server.releases, key)
        updater = updater_for(key, disk / "content", server.url)
        updater.step()
        assert updater.state.state == "refused" and "the disk has" in updater.state.reason
        assert not [path for path, _ in server.requests if path.startswith("objects/")]
    finally:
        os.system(f"umount -l {disk}")


def test_an_expired_release_is_refused_and_an_expired_active_one_is_reported(tmp_path, repo, key, server):
    folder = tmp_path / "content"
    publish(repo, server.releases, key, now=time.time() - 40 * 86400)  # expired 10 days ago
    updater = updater_for(key, folder, server.url)
    updater.step()
    assert updater.state.state == "refused" and "expired" in updater.state.reason
    publish(repo, server.releases, key, expires_days=1)
    updater.step()
    assert updater.state.state == "active" and updater.state.version == 2
    later = updater_for(key, folder, server.url)
    later._wall = lambda: time.time() + 2 * 86400  # two days on, nothing newer published (a frozen server)
    later._boot_state()
    assert later.state.state == "expired" and "version 2 expired" in later.state.reason


def test_an_older_version_served_is_refused_in_status_and_a_later_real_one_is_still_taken(
        tmp_path, repo, key, server, caplog):
    folder = tmp_path / "content"
    publish(repo, server.releases, key)
    publish(repo, server.releases, key)
    updater = updater_for(key, folder, server.url)
    updater.step()
    assert updater.state == Rollout("active", 2, "fleet")
    (server.releases / "latest").write_text("1\n")  # a server replaying the past
    updater.announce(1)
    updater.step()
    replayed = "the server offers version 1, older than the active 2: refused (rollback"
    assert updater.state.state == "active" and updater.state.version == 2 and replayed in updater.state.reason
    updater.step()  # still offered: the same status, said once in the journal
    assert updater.state.state == "active" and replayed in updater.state.reason
    assert [r.message for r in caplog.records].count(f"content refused: {updater.state.reason}; the release "
                                                    "playing stays") == 1
    assert os.readlink(folder / "current") == "releases/2" and events(updater) == [ContentInstalled(2, "fleet")]
    (server.releases / "latest").write_text("2\n")
    updater.step()  # the server is honest again: nothing to say
    assert updater.state == Rollout("active", 2, "fleet")
    shutil.copytree(server.releases / "1", server.releases / "3")  # version 1's signed manifest, named 3
    (server.releases / "latest").write_text("3\n")
    updater.step()
    assert updater.state.state == "active" and replayed in updater.state.reason, updater.state
    shutil.rmtree(server.releases / "3")
    (repo / "fleet" / "lobby.yaml").write_text(lobby("Third"))
    assert publish(repo, server.releases, key) == 3  # the real 3: not refused for what was served under its name
    updater.step()
    assert updater.state == Rollout("active", 3, "fleet") and os.readlink(folder / "current") == "releases/3"


def test_files_come_from_the_host_the_signed_manifest_names(tmp_path, repo, key, server):
    elsewhere = ReleaseServer(server.releases / "objects").start()  # a CDN holding a copy of objects/
    try:
        publish(repo, server.releases, key, objects_url=f"{elsewhere.url}/")
        updater = updater_for(key, tmp_path / "content", server.url)
        updater.step()
        assert updater.state.state == "active"
        assert not [path for path, _ in server.requests if path.startswith("objects/")]
        assert len(elsewhere.requests) == 3 and all(len(path) == 64 for path, _ in elsewhere.requests)
    finally:
        elsewhere.stop()


def test_a_screen_whose_clock_is_not_set_takes_the_release_once_it_is(tmp_path, repo, key, server):
    publish(repo, server.releases, key)
    updater = updater_for(key, tmp_path / "content", server.url)
    updater._wall = lambda: 86400.0  # a Pi without a real-time clock, before NTP: 2 January 1970
    updater.step()
    assert updater.state.state == "pending" and "is its clock set (NTP)?" in updater.state.reason
    assert events(updater) == [], "not refused for good"
    updater._wall = time.time  # NTP has set it
    updater.step()
    assert updater.state.state == "active" and updater.state.version == 1


def test_a_forged_announcement_does_not_hold_the_screen_from_the_real_next_release(tmp_path, repo, key, server):
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    updater.announce(99999)  # a compromised broker, retained: it comes again at every start
    updater.step()  # the server's latest says 1: the announcement only woke the thread
    assert updater.state == Rollout("active", 1, "fleet")
    assert not [path for path, _ in server.requests if path.startswith("99999/")]
    (repo / "fleet" / "lobby.yaml").write_text(lobby("Second"))
    publish(repo, server.releases, key)
    updater.announce(99999)
    updater.step()
    assert updater.state == Rollout("active", 2, "fleet") and os.readlink(folder / "current") == "releases/2"


def test_an_announced_version_the_server_does_not_have_is_dropped_while_latest_cannot_be_read(
        tmp_path, repo, key, server):
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    (server.releases / "latest").rename(server.releases / "latest.away")  # latest cannot be read
    updater.announce(99999)
    updater.step()
    assert ("99999/manifest.json", None) in server.requests
    assert updater.state == Rollout("active", 1, "fleet"), "a 404 for the announced version is not waited for"
    server.requests.clear()
    updater.step()
    assert not [path for path, _ in server.requests if path.startswith("99999/")], "dropped, not asked again"
    (repo / "fleet" / "lobby.yaml").write_text(lobby("Second"))
    publish(repo, server.releases, key)
    updater.step()
    assert updater.state == Rollout("active", 2, "fleet")


def test_a_screen_that_cannot_move_forward_says_its_release_expired(tmp_path, repo, key, server):
    folder = tmp_path / "content"
    publish(repo, server.releases, key, expires_days=1)
    updater = updater_for(key, folder, server.url)
    updater.step()
    server.stop()  # the server is gone (or withholds everything); the broker announces a version
    updater.announce(2)
    updater.step()
    assert updater.state.state == "pending" and updater.state.next_version == 2
    updater._wall = lambda: time.time() + 2 * 86400  # two days on, still frozen
    updater.step()
    assert updater.state.state == "expired" and updater.state.version == 1 and updater.state.next_version == 2
    assert updater.state.reason.startswith("version 1 expired; nothing newer was taken: version 2: ")
    assert "cannot reach" in updater.state.reason
    assert os.readlink(folder / "current") == "releases/1"
    if updater._retry is not None:
        updater._retry.cancel()


def test_a_version_the_server_names_but_does_not_have_yet_is_pending_not_refused(tmp_path, repo, key, server):
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    (server.releases / "latest").write_text("2\n")  # a server half-updated: latest first, the release after
    updater.step()
    assert updater.state.state == "pending" and updater.state.next_version == 2 and "404" in updater.state.reason
    assert events(updater) == [ContentInstalled(1, "fleet")], "not refused for good"
    (repo / "fleet" / "lobby.yaml").write_text(lobby("Second"))
    publish(repo, server.releases, key)
    updater.step()
    assert updater.state == Rollout("active", 2, "fleet")
    if updater._retry is not None:
        updater._retry.cancel()


def test_garbage_served_under_a_number_does_not_make_the_screen_skip_the_real_release_of_that_number(
        tmp_path, repo, key, server):
    """A compromised web server serves an unsigned manifest as version 2: refused for good,
    but only that manifest. When the publisher's real version 2 appears under the same
    number, the screen takes it (it does not skip it until version 3)."""
    folder, updater = first_release_playing(tmp_path, repo, key, server)
    forged = server.releases / "2"
    forged.mkdir()
    (forged / "manifest.json").write_bytes(b'{"format": 1, "version": 2}')
    (forged / "manifest.sig").write_bytes(b"\0" * 64)
    (server.releases / "latest").write_text("2\n")
    updater.step()
    assert updater.state.state == "refused" and updater.state.next_version == 2, updater.state
    server.requests.clear()
    updater.step()  # the same manifest again: nothing new to say, nothing fetched beyond it
    assert updater.state.state == "refused" and not [p for p, _ in server.requests if p.startswith("objects/")]
    shutil.rmtree(forged)
    (server.releases / "latest").write_text("1\n")
    (repo / "fleet" / "lobby.yaml").write_text(lobby("The real second"))
    assert publish(repo, server.releases, key) == 2  # the publisher's own version 2
    updater.step()
    assert updater.state.state == "active" and updater.state.version == 2, updater.state
    assert "The real second" in (folder / "current" / "lobby.yaml").read_text()
