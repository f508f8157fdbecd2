"""Until a screen's first release from the fleet is installed (kiosk/playlists.py), its
playlists folder (the content folder's `current` link) is not there: status says it waits
for that release and what plays meanwhile, not that its playlist was rejected; once a
release is there, a bad playlist reads as rejected again."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.config import Config
from signage.content.signing import public_text
from signage.contentconfig import ContentConfig
from signage.display.videoinfo import video_length
from signage.kiosk import playlists
from signage.kiosk.problems import Problems
from signage.playlist.lastgood import save
from signage.playlist.loader import Playlist, load_playlist_set
from signage.playlist.player import Player
from signage.playlist.watcher import PlaylistRejected

URL = "http://fleet.example:8080/releases"


def config_for(tmp_path: Path, url: str | None = URL) -> Config:
    folder = tmp_path / "content"
    content = ContentConfig(url=url, folder=str(folder),
                            public_key=public_text(Ed25519PrivateKey.generate().public_key()) if url else None)
    return Config(site="hq", device="door", playlists=str(folder / "current"), content=content,
                  paths={"state": str(tmp_path / "state")})


def booted(config: Config, problems: Problems) -> Playlist:
    return playlists.boot(playlists.watcher_for(config), problems, playlists.first_release(config))


def test_before_the_first_release_status_says_the_screen_waits_for_it_and_plays_the_fallback(tmp_path):
    problems = Problems()
    playing = booted(config_for(tmp_path), problems)
    assert playing.creatives == {}, "the fallback card"
    assert problems.get("playlist") == f"waiting for its first release from {URL} (playing the fallback card)"
    assert "rejected" not in problems.last


def test_before_the_first_release_a_saved_last_good_playlist_plays_and_status_says_so(tmp_path):
    config = config_for(tmp_path)
    local = tmp_path / "local"
    local.mkdir()
    (local / "lobby.yaml").write_text("creatives:\n  - {id: hello, type: card, text: hi}\ndefault: [hello]\n")
    saved = load_playlist_set([local], local, video_length=video_length).playlist
    config.paths.last_good_playlist.parent.mkdir(parents=True, exist_ok=True)
    save(saved, config.paths.last_good_playlist)
    problems = Problems()
    assert set(booted(config, problems).creatives) == {"hello"}
    assert problems.get("playlist") == (f"waiting for its first release from {URL} "
                                        "(playing the last good playlist saved earlier)")


def test_without_content_from_the_fleet_a_missing_folder_is_still_a_rejected_playlist(tmp_path):
    problems = Problems()
    booted(config_for(tmp_path, url=None), problems)
    assert problems.get("playlist").startswith("rejected: ")


@pytest.fixture
def parts(tmp_path):
    config = config_for(tmp_path)
    problems = Problems()
    part = playlists.Playlists(problems, Player(Playlist.nothing()), uplink=None, screen=None, now=None)
    problems.set("playlist", f"waiting for its first release from {URL} (playing the fallback card)")
    part.follow(config)
    return config, problems, part


def test_the_watchers_rejections_while_waiting_leave_the_waiting_text(parts):
    config, problems, part = parts
    part.take(PlaylistRejected(f"{config.playlists}:1:1: cannot read the file: No such file or directory"))
    assert problems.get("playlist").startswith("waiting for its first release")


def test_once_a_release_is_there_a_bad_playlist_reads_as_rejected(parts, tmp_path):
    config, problems, part = parts
    (tmp_path / "content" / "releases" / "1").mkdir(parents=True)
    os.symlink("releases/1", config.playlists)  # the first release swapped in
    part.take(PlaylistRejected("lobby.yaml:2:11: default[0]: unknown creative 'ghost'"))
    assert problems.get("playlist") == "rejected: lobby.yaml:2:11: default[0]: unknown creative 'ghost'"
