"""Boot after a bad edit and a power cut: the controller plays the last good playlist
saved by the previous run, status says so, and the fixed files take over again."""

from __future__ import annotations

import json

from tests.kiosk import DEFAULT_LOOP, on_screen, run_with
from tests.support.waiting import wait_for

PLAYLIST = DEFAULT_LOOP | {"look"}  # the video's person may look at the screen


def test_a_broken_playlist_at_boot_plays_the_last_good(controller_for, tmp_path):
    state = tmp_path / "last-good-playlist.json"  # default: beside the spool
    run_with(controller_for(), lambda c: wait_for(lambda: on_screen(c) in PLAYLIST, "the playlist on screen"))
    saved = json.loads(state.read_text())
    assert {c["id"] for c in saved["creatives"]} >= DEFAULT_LOOP

    playlist = tmp_path / "playlists" / "e2e.yaml"
    good = playlist.read_text()
    playlist.write_text(good.replace("creatives:", "creatives: [", 1))  # the bad edit, then the power cut

    def script(c):
        status = c.status()
        assert status["playlist"].startswith("rejected: playing the last good playlist (saved ")
        assert "e2e.yaml:" in status["playlist"] and "YAML syntax" in status["playlist"]
        wait_for(lambda: on_screen(c) in PLAYLIST, "the last good playlist on screen")
        playlist.write_text(good)  # the operator fixes the file
        wait_for(lambda: c.status()["playlist"] == "ok", "the files in use again")

    run_with(controller_for(), script)
    assert json.loads(state.read_text()) == saved, "the same playlist is not written again"
