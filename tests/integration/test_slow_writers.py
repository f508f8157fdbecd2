"""Playlists written slowly, by real writers in their own processes (tests/slow_writer.py),
against the watcher's own thread with its real settle time: a pause mid-file, a
truncate then a write, many small chunks, a rename onto the file. On every path (polls,
forced reloads as SIGHUP and MQTT RELOAD ask for them, the boot, a real SIGHUP to a
real kiosk) only the complete file is read, nothing half-written is rejected, and only
the complete playlist is saved as the last good."""

from __future__ import annotations

import json
import logging
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from signage.display.videoinfo import video_length
from signage.modelfiles import PROJECT_ROOT
from signage.playlist.lastgood import restore
from signage.playlist.watcher import SETTLE_S, PlaylistAccepted, PlaylistWatcher
from tests.kiosk import run_with
from tests.support.waiting import wait_for

GOOD = Path(__file__).resolve().parents[1] / "playlists" / "good"
WAIT_S = 30.0  # an upper bound for a loaded machine; events end every wait long before
PAUSE_S = 1.5  # the red team's writer paused this long mid-file; the settle time is longer

HEAD = """creatives:
  - {id: red, type: image, media: creatives/red.png, duration: 5}
  - {id: hello, type: card, text: Hello, duration: 5}
  - {id: look, type: card, text: Thanks for looking, duration: 4}
  - {id: fresh, type: card, text: Brand new, duration: 5}
default: [fresh, hello]
"""
TAIL = """rules:
  - id: lookers
    priority: 10
    when:
      looking: {min: 1}
    play: look
  - id: always-fresh
    play: fresh
"""
LINES = (HEAD + TAIL).splitlines(keepends=True)
CHUNKS = ["".join(LINES[i:i + 3]) for i in range(0, len(LINES), 3)]  # most of them cut a rule in half

WRITERS = {  # name: (the file written, relative to the folder; the steps)
    "a pause mid-file": ("lobby.yaml", [["open", "w"], ["write", HEAD], ["pause", PAUSE_S], ["write", TAIL]]),
    "truncate, then write": ("lobby.yaml", [["open", "r+"], ["truncate"], ["pause", PAUSE_S], ["write", HEAD],
                                            ["pause", PAUSE_S], ["write", TAIL]]),
    "many small chunks": ("lobby.yaml", [["open", "w"]] + [step for chunk in CHUNKS
                                                           for step in (["write", chunk], ["pause", 1.0])]),
    "a rename onto the file": (".lobby.yaml.part", [["open", "w"], ["write", HEAD], ["pause", PAUSE_S],
                                                    ["write", TAIL], ["rename", "lobby.yaml"]]),
}


def complete(playlist) -> bool:
    return playlist is not None and [rule.id for rule in playlist.rules] == ["lookers", "always-fresh"]


def start_writer(folder: Path, name: str, steps: list | None = None) -> subprocess.Popen:
    target, plan = WRITERS[name]
    plan = [[kind, str(folder / value[0])] if kind == "rename" else [kind, *value] for kind, *value in steps or plan]
    return subprocess.Popen([sys.executable, "-m", "tests.slow_writer", str(folder / target), json.dumps(plan)],
                            cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)


def finish(writer: subprocess.Popen) -> None:
    out, _ = writer.communicate(timeout=60)
    assert writer.returncode == 0 and out == "done\n"


@pytest.fixture
def folder(tmp_path) -> Path:
    shutil.copytree(GOOD, tmp_path / "playlists")
    return tmp_path / "playlists"


def watcher_on(folder: Path, state: Path, **settings) -> PlaylistWatcher:
    return PlaylistWatcher([folder], base=folder, state_file=state, video_length=video_length, **settings)


def until_complete(watcher) -> list:
    """Every event up to the complete playlist's acceptance."""
    seen = []
    while not (seen and isinstance(seen[-1], PlaylistAccepted) and complete(seen[-1].playlist)):
        seen.append(watcher.events.get(timeout=WAIT_S))
    return seen


@pytest.mark.parametrize("how", ["polls", "reloads"])
@pytest.mark.parametrize("name", WRITERS)
def test_a_slow_write_is_read_only_once_complete(folder, tmp_path, name, how):
    state = tmp_path / "state" / "last-good.json"
    # The copied files count as a settle time old: boot reads them at once (boot has its own test).
    watcher = watcher_on(folder, state, wall=lambda: time.time() + SETTLE_S)
    original = watcher.boot().playlist
    assert original is not None and restore(state) == original
    watcher.start()
    try:
        writer = start_writer(folder, name)
        while how == "reloads" and writer.poll() is None:  # SIGHUP, MQTT RELOAD: all through the write
            watcher.request_reload()
            time.sleep(0.1)
        finish(writer)
        events = until_complete(watcher)
    finally:
        watcher.stop()
    whole = (original, events[-1].playlist)
    half_read = [e for e in events if not (isinstance(e, PlaylistAccepted) and e.playlist in whole)]
    assert half_read == [], "only the file as it was and the complete file are read"
    assert restore(state) == events[-1].playlist, "the complete playlist is the last good"


def test_boot_waits_for_a_file_being_written(folder, tmp_path):
    state = tmp_path / "last-good.json"
    writer = start_writer(folder, "a pause mid-file")
    wait_for(lambda: (folder / "lobby.yaml").read_text() == HEAD, "the first half written")
    boot = watcher_on(folder, state).boot()  # in the writer's pause
    finish(writer)
    assert boot.source == "files" and complete(boot.playlist), "boot read the complete file"
    assert restore(state) == boot.playlist


def test_files_still_changing_at_boot_are_left_to_the_watcher_thread(folder, tmp_path):
    state = tmp_path / "last-good.json"
    earlier = watcher_on(folder, state, settle=0).boot().playlist  # an earlier run saved the last good
    steps = [["open", "w"]] + [step for chunk in CHUNKS for step in (["write", chunk], ["pause", 0.3])]
    writer = start_writer(folder, "many small chunks", steps)
    wait_for(lambda: (folder / "lobby.yaml").read_text() == CHUNKS[0], "the first chunk written")
    watcher = watcher_on(folder, state, boot_wait=1.0)  # shorter than the settle time: it cannot settle in it
    boot = watcher.boot()
    assert boot.source == "last-good" and boot.playlist == earlier
    assert "the playlist files are still being written" in boot.problems
    watcher.start()
    try:
        finish(writer)
        events = until_complete(watcher)
    finally:
        watcher.stop()
    assert len(events) == 1, "read once, when complete"
    assert restore(state) == events[-1].playlist


@pytest.mark.parametrize("age, read", [(SETTLE_S, True), (0.0, False), (-3600.0, False)],
                         ids=["settled", "just-written", "clock-stepped-back"])
def test_at_boot_the_ctime_says_whether_files_have_settled(folder, tmp_path, age, read):
    """boot_wait=0: the first look alone decides; a ctime in the future (the wall clock
    stepped back since the write) proves nothing, so the files are watched first."""
    watcher = watcher_on(folder, tmp_path / "last-good.json", boot_wait=0, wall=lambda: time.time() + age)
    boot = watcher.boot()
    assert (boot.source == "files") is read
    assert read or "still being written" in boot.problems


E2E_RULES = """rules:
  - id: someone-looking
    priority: 10
    when:
      looking: {min: 1}
      hold: 1
    play: look
  - id: added
    play: idle-b
"""


def test_sighup_during_a_slow_write_reads_only_the_complete_file(controller_for, tmp_path, caplog):
    """A real kiosk, real SIGHUPs all through a writer's pause."""
    caplog.set_level(logging.INFO, logger="signage")
    controller = controller_for()
    playlist = tmp_path / "playlists" / "e2e.yaml"
    head = playlist.read_text().split("rules:")[0]  # valid on its own: creatives and the default loop
    plan = [["open", "w"], ["write", head], ["pause", PAUSE_S], ["write", E2E_RULES]]

    def script(c):
        wait_for(lambda: c.status()["playlist"] == "ok", "the playlist in use")
        caplog.clear()
        writer = subprocess.Popen([sys.executable, "-m", "tests.slow_writer", str(playlist), json.dumps(plan)],
                                  cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
        while writer.poll() is None:
            os.kill(os.getpid(), signal.SIGHUP)
            time.sleep(0.2)
        finish(writer)
        wait_for(lambda: [r.id for r in c.player.playlist.rules] == ["someone-looking", "added"], "the new playlist")

    run_with(controller, script)
    messages = [record.getMessage() for record in caplog.records]
    assert sum(m.startswith("saved the last good playlist") for m in messages) == 1, "only the complete file is saved"
    assert not [m for m in messages if "rejected" in m]
    assert sum(m.startswith("SIGHUP") for m in messages) >= 2
