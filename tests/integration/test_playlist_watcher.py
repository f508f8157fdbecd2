"""The playlist watcher's own thread against real files: events instead of shared
state, reload as a request, media files watched by stat, nothing read while nothing
changes, and no exception or hostile file that stops the thread."""

from __future__ import annotations

import logging
import queue
import shutil
import time
from pathlib import Path

import pytest

from signage import yamlread
from signage.display.videoinfo import video_length
from signage.playlist import watcher as watcher_module
from signage.playlist.lastgood import restore
from signage.playlist.watcher import PlaylistAccepted, PlaylistRejected, PlaylistWatcher, WatcherFault
from tests.hostile.gallery import build, playlist_members

GOOD = Path(__file__).resolve().parents[1] / "playlists" / "good"
WAIT_S = 30.0  # an upper bound for a loaded machine; events end every wait long before
QUICK_SETTLE_S = 0.2  # these tests are about events, not settling (test_slow_writers.py is)


@pytest.fixture
def folder(tmp_path) -> Path:
    shutil.copytree(GOOD, tmp_path / "playlists")
    return tmp_path / "playlists"


@pytest.fixture
def running(folder, tmp_path):
    watcher = PlaylistWatcher([folder], base=folder, state_file=tmp_path / "state" / "last-good.json", interval=0.05,
                              settle=QUICK_SETTLE_S, video_length=video_length)
    assert watcher.boot().source == "files"
    watcher.start()
    yield watcher
    watcher.stop()
    assert not watcher.alive()


def next_event(watcher, kind=None):
    """The next event (of `kind`), waiting for the watcher thread to post it."""
    while True:
        event = watcher.events.get(timeout=WAIT_S)
        if kind is None or isinstance(event, kind):
            return event


def test_an_edit_arrives_as_an_event(running, folder):
    lobby = folder / "lobby.yaml"
    lobby.write_text(lobby.read_text().replace("text: Hello", "text: Hello there"))
    event = next_event(running)
    assert isinstance(event, PlaylistAccepted) and not event.forced
    assert event.playlist.creatives["hello"].text == "Hello there"
    assert restore(running.state_file) == event.playlist, "the accepted playlist is saved for the next boot"


def test_a_reload_is_a_request_the_watcher_thread_answers(running):
    running.request_reload()
    event = next_event(running)
    assert isinstance(event, PlaylistAccepted) and event.forced


def test_deleting_a_media_file_is_noticed_and_putting_it_back_too(running, folder):
    red = folder / "creatives" / "red.png"
    kept = red.read_bytes()
    red.unlink()
    event = next_event(running)
    assert isinstance(event, PlaylistRejected)
    assert "media file 'creatives/red.png' does not exist" in event.problems
    red.write_bytes(kept)
    assert isinstance(next_event(running), PlaylistAccepted)


def test_a_broken_edit_is_not_saved_as_last_good(running, folder):
    saved = running.state_file.read_bytes()
    (folder / "lobby.yaml").write_text("creatives: [\n")
    assert isinstance(next_event(running), PlaylistRejected)
    assert running.state_file.read_bytes() == saved


def test_the_thread_survives_unexpected_exceptions(folder, monkeypatch):
    real = watcher_module.load_playlist_set
    failures = iter([RuntimeError("injected"), RuntimeError("injected"), KeyError("other")])

    def flaky(*args, **kwargs):
        failure = next(failures, None)
        if failure is not None:
            raise failure
        return real(*args, **kwargs)

    watcher = PlaylistWatcher([folder], base=folder, interval=0.02, settle=0, video_length=video_length)
    monkeypatch.setattr(watcher_module, "load_playlist_set", flaky)
    watcher.start()
    try:
        faults = []
        for _ in range(3):
            watcher.request_reload()
            faults.append(next_event(watcher, WatcherFault))
        assert [f.count for f in faults] == [1, 2, 3]
        assert faults[0].message == "playlist watcher: RuntimeError: injected"
        watcher.request_reload()
        assert isinstance(next_event(watcher, PlaylistAccepted), PlaylistAccepted)
        assert watcher.alive()
    finally:
        watcher.stop()


def test_polls_read_nothing_while_nothing_changes(folder, monkeypatch):
    with (folder / "huge.yaml").open("wb") as handle:
        handle.truncate(1 << 30)
    reads = []  # files whose content was read
    real = yamlread.read_bounded

    def counted(path, *args, **kwargs):
        data = real(path, *args, **kwargs)
        reads.append(path)
        return data
    monkeypatch.setattr(yamlread, "read_bounded", counted)
    watcher = PlaylistWatcher([folder], base=folder, settle=0, video_length=video_length)  # two looks alike
    boot = watcher.boot()
    assert boot.playlist is None and "huge.yaml:1:1: the file is 1024.0 MiB" in boot.problems
    assert [p.name for p in reads] == ["lobby.yaml"], "the huge file is refused by its size, unread"
    reads.clear()
    for _ in range(5):
        assert watcher.poll() is None
    assert reads == []
    (folder / "huge.yaml").unlink()
    watcher.poll()
    assert watcher.poll() is not None and [p.name for p in reads] == ["lobby.yaml"]


@pytest.fixture(scope="module")
def gallery(tmp_path_factory) -> Path:
    return build(tmp_path_factory.mktemp("hostile"))


@pytest.mark.parametrize("name", playlist_members())
def test_no_hostile_file_stops_the_watcher(gallery, name):
    watcher = PlaylistWatcher([gallery / name], base=gallery.parent, interval=0.05, settle=0,
                              video_length=video_length)
    boot = watcher.boot()
    assert boot.playlist is None and boot.source == "none" and f"playlists/{name}:" in boot.problems
    watcher.start()
    try:
        watcher.request_reload()
        event = next_event(watcher)
        assert isinstance(event, PlaylistRejected) and f"playlists/{name}:" in event.problems
        assert watcher.alive()
        with pytest.raises(queue.Empty):
            watcher.events.get_nowait()
    finally:
        watcher.stop()


def test_status_quotes_ten_problems_and_a_count(running, folder):
    creatives = "".join(f"  - {{id: c{i}, type: card, text: x, duration: -{i + 1}}}\n" for i in range(25))
    (folder / "lobby.yaml").write_text(f"creatives:\n{creatives}default: [c0]\n")
    event = next_event(running, PlaylistRejected)
    lines = event.problems.splitlines()
    assert len(lines) == 11 and lines[0].startswith("lobby.yaml:2:")
    assert lines[-1] == "... and 15 more problem(s): run `signage check` to see them all"


def _journal(caplog, folder: Path, tmp_path: Path, awaiting: str | None) -> list[tuple[int, str]]:
    """What a watcher of `folder` writes to the journal at boot."""
    later = time.time() + 3600  # the files look settled at first sight: read at once
    watcher = PlaylistWatcher([folder], base=tmp_path, interval=0.05, settle=QUICK_SETTLE_S, wall=lambda: later,
                              video_length=video_length, awaiting=awaiting)
    with caplog.at_level(logging.INFO, logger="signage.playlist.watcher"):
        assert watcher.boot().playlist is None
    return [(r.levelno, r.getMessage()) for r in caplog.records if r.name == "signage.playlist.watcher"]


def test_no_playlist_files_yet_is_no_error_while_a_first_release_is_awaited(tmp_path, caplog):
    said = _journal(caplog, tmp_path / "content" / "current", tmp_path, "the first release from http://fleet")
    assert [level for level, _ in said] == [logging.INFO], said
    assert "waiting for the first release from http://fleet" in said[0][1]


@pytest.mark.parametrize("awaiting", [None, "the first release from http://fleet"])
def test_rejected_files_are_an_error_in_the_journal_whatever_is_awaited(tmp_path, caplog, awaiting):
    folder = tmp_path / "playlists"
    folder.mkdir()
    (folder / "lobby.yaml").write_text("creatives: [\n")  # broken YAML: rejected, not absent
    said = _journal(caplog, folder, tmp_path, awaiting)
    assert any(level == logging.ERROR and "rejected" in text for level, text in said), said


def test_a_missing_folder_is_an_error_when_nothing_is_awaited(tmp_path, caplog):
    said = _journal(caplog, tmp_path / "nowhere", tmp_path, None)
    assert any(level == logging.ERROR for level, _ in said), said
