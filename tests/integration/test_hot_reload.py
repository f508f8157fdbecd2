"""Hot reload with a real file being rewritten on disk, a partial write included. The
watcher's clock is a fake one: how long the files stayed unchanged is what the test says."""

from __future__ import annotations

import datetime as dt
import shutil
import time
from pathlib import Path

from signage.audience import AudienceState
from signage.display.videoinfo import video_length
from signage.playlist.player import Player
from signage.playlist.rules import Now
from signage.playlist.watcher import SETTLE_S, PlaylistAccepted, PlaylistRejected, PlaylistWatcher
from tests.fakes import FakeClock

GOOD = Path(__file__).resolve().parents[1] / "playlists" / "good"
NOON = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.timezone.utc)

EDITED_HEAD = """creatives:
  - {id: red, type: image, media: creatives/red.png, duration: 5}
  - {id: hello, type: card, text: Hello, duration: 5}
  - {id: fresh, type: card, text: Brand new, duration: 5}
default: [fresh, hello]
"""
EDITED_TAIL = """rules:
  - id: always-fresh
    play: fresh
"""


def at(t: float) -> Now:
    return Now(t, NOON + dt.timedelta(seconds=t))


def setup(tmp_path):
    shutil.copytree(GOOD, tmp_path, dirs_exist_ok=True)
    clock = FakeClock()
    # The wall clock a settle time ahead: the copied files are read at boot, no waiting.
    watcher = PlaylistWatcher([tmp_path], base=tmp_path, video_length=video_length, clock=clock,
                              wall=lambda: time.time() + SETTLE_S)
    player = Player(watcher.boot().playlist)
    return watcher, player, tmp_path / "lobby.yaml", clock


def settled_poll(watcher, clock):
    """A poll that sees the change, then one a settle time later."""
    assert watcher.poll() is None, "a change is not read at once"
    clock.sleep(SETTLE_S)
    return watcher.poll()


def events(watcher) -> list:
    return [watcher.events.get_nowait() for _ in range(watcher.events.qsize())]


def test_a_partial_write_is_never_loaded(tmp_path):
    watcher, player, path, clock = setup(tmp_path)
    assert player.tick(AudienceState(), at(0)).creative == "red"

    path.write_text(EDITED_HEAD)  # the editor has written the first half: valid on its own
    assert watcher.poll() is None, "a file that just changed is not loaded yet"
    for _ in range(3):  # the writer pauses for most of the settle time
        clock.sleep(SETTLE_S / 4)
        assert watcher.poll() is None, "unchanged on several polls, but not for the settle time"
    with path.open("a") as handle:
        handle.write(EDITED_TAIL)
    assert watcher.poll() is None, "it changed again: still being written"
    clock.sleep(SETTLE_S * 3 / 4)
    assert watcher.poll() is None
    clock.sleep(SETTLE_S / 4)
    loaded = watcher.poll()  # unchanged for the settle time: complete
    assert loaded is not None and [r.id for r in loaded.rules] == ["always-fresh"]
    assert watcher.poll() is None, "loaded once"

    player.replace_playlist(loaded, at(2))
    assert player.tick(AudienceState(), at(3)).creative == "red", "the playing creative finishes"
    decision = player.tick(AudienceState(), at(5))
    assert (decision.action, decision.creative, decision.rule) == ("start", "fresh", "always-fresh")


def test_removing_the_playing_creative_switches_at_once(tmp_path):
    watcher, player, path, clock = setup(tmp_path)
    player.tick(AudienceState(), at(0))
    path.write_text(path.read_text().replace("default: [red, hello]", "default: [hello]")
                    .replace("  - id: red\n    type: image\n    media: creatives/red.png\n    duration: 5\n", ""))
    loaded = settled_poll(watcher, clock)
    assert loaded is not None and "red" not in loaded.creatives
    player.replace_playlist(loaded, at(1))
    decision = player.tick(AudienceState(), at(1))
    assert (decision.action, decision.creative) == ("start", "hello")
    assert player.records[-1].creative == "red" and player.records[-1].ended == "removed"


def test_a_broken_edit_keeps_the_last_good_playlist_running(tmp_path):
    watcher, player, path, clock = setup(tmp_path)
    good = player.playlist
    player.tick(AudienceState(), at(0))
    path.write_text(path.read_text().replace("looking: {min: 1}", "looking: {min: one}"))
    assert settled_poll(watcher, clock) is None
    assert events(watcher) == [PlaylistRejected(
        "lobby.yaml:19:22: rules[0].when.looking.min: expected a whole number, got 'one'")]
    assert player.playlist is good
    assert player.tick(AudienceState(), at(5)).creative == "hello", "the show goes on"

    path.write_text(path.read_text().replace("{min: one}", "{min: 1}"))  # fixed
    fixed = settled_poll(watcher, clock)
    assert fixed is not None and events(watcher) == [PlaylistAccepted(fixed)]


def test_a_new_file_in_the_folder_is_noticed(tmp_path):
    watcher, _, _, clock = setup(tmp_path)
    (tmp_path / "extra.yaml").write_text("creatives:\n  - {id: extra, type: card, text: More}\n")
    loaded = settled_poll(watcher, clock)
    assert loaded is not None and "extra" in loaded.creatives
