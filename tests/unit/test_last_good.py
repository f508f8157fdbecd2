"""The last good playlist on disk: saved atomically and only when it changed, used at
boot when the files are broken, refused when its media changed."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from signage.display.videoinfo import video_length
from signage.playlist import lastgood
from signage.playlist.lastgood import LastGoodError, restore, save
from signage.playlist.loader import load_playlist
from signage.playlist.watcher import PlaylistWatcher

GOOD = Path(__file__).resolve().parents[1] / "playlists" / "good"


def load_at_boot(folder: Path, state: Path | None):
    """The kiosk's boot, on files that have settled (settle=0: these were written by the test)."""
    return PlaylistWatcher([folder], state_file=state, video_length=video_length, settle=0).boot()


@pytest.fixture
def folder(tmp_path) -> Path:
    shutil.copytree(GOOD, tmp_path / "playlists")
    return tmp_path / "playlists"


def test_round_trip_gives_the_same_playlist(folder, tmp_path):
    playlist = load_playlist([folder], video_length=video_length)
    state = tmp_path / "state" / "last-good-playlist.json"
    assert save(playlist, state)
    restored = restore(state)
    assert restored == playlist
    assert restored.media["red"].is_absolute()
    assert json.loads(state.read_text())["media"]["red"]["size"] == (folder / "creatives" / "red.png").stat().st_size


def test_written_only_when_the_playlist_changed(folder, tmp_path, monkeypatch):
    state = tmp_path / "last-good-playlist.json"
    writes = []
    real_replace = os.replace
    monkeypatch.setattr(lastgood.os, "replace", lambda a, b: (writes.append(b), real_replace(a, b)))
    playlist = load_playlist([folder], video_length=video_length)
    assert save(playlist, state) and not save(load_playlist([folder], video_length=video_length), state), \
        "an equal playlist is not rewritten"
    lobby = folder / "lobby.yaml"
    lobby.write_text(lobby.read_text().replace("text: Hello", "text: Hello again"))
    assert save(load_playlist([folder], video_length=video_length), state)
    assert len(writes) == 2
    assert [p.name for p in tmp_path.iterdir()] == ["last-good-playlist.json", "playlists"], "no temp file left"


def test_boot_uses_the_files_and_saves_them(folder, tmp_path):
    state = tmp_path / "state.json"
    boot = load_at_boot(folder, state)
    assert boot.source == "files" and boot.problems is None and state.is_file()


def test_boot_with_broken_files_uses_the_last_good(folder, tmp_path):
    state = tmp_path / "state.json"
    good = load_at_boot(folder, state).playlist
    (folder / "lobby.yaml").write_text("creatives: [\n")  # a bad edit, then a power cut
    boot = load_at_boot(folder, state)
    assert boot.source == "last-good" and boot.playlist == good
    assert boot.problems.startswith("playing the last good playlist (saved ")
    assert "lobby.yaml" in boot.problems and "YAML syntax" in boot.problems


def test_boot_with_missing_files_uses_the_last_good(folder, tmp_path):
    state = tmp_path / "state.json"
    load_at_boot(folder, state)
    (folder / "lobby.yaml").unlink()
    boot = load_at_boot(folder, state)
    assert boot.source == "last-good" and "no playlist files" in boot.problems


@pytest.mark.parametrize("damage,reason", [
    (lambda folder, state: (folder / "creatives" / "red.png").unlink(), "is gone"),
    (lambda folder, state: (folder / "creatives" / "red.png").write_bytes(b"other"), "changed since it was saved"),
    (lambda folder, state: state.write_text("{not json"), "cannot be read"),
    (lambda folder, state: state.write_text('{"format": 99}'), "unknown format"),
    (lambda folder, state: state.write_text('{"format": 1, "creatives": [{"id": "x"}]}'), "does not hold a valid"),
    (lambda folder, state: state.unlink(), "none was saved yet"),
])
def test_an_unusable_last_good_means_none(folder, tmp_path, damage, reason):
    state = tmp_path / "state.json"
    load_at_boot(folder, state)
    (folder / "lobby.yaml").write_text("creatives: [\n")
    damage(folder, state)
    boot = load_at_boot(folder, state)
    assert boot.playlist is None and boot.source == "none"
    assert "YAML syntax" in boot.problems and reason in boot.problems
    with pytest.raises(LastGoodError, match=reason):
        restore(state)


def test_no_state_file_configured(folder):
    (folder / "lobby.yaml").write_text("creatives: [\n")
    boot = load_at_boot(folder, None)
    assert boot.playlist is None and boot.source == "none" and "YAML syntax" in boot.problems
