"""The real controller (X server, broker, vision on the sample video) meets every
hostile playlist of the gallery as a hot edit: it stays up, keeps the last good
playlist on screen, status names the file and quotes nothing from outside the
playlist folder, it is back to `ok` once the file is gone, and no member raises the
process's peak memory by more than MEMORY_BOUND_MB (the 1 GiB file is never read, the
60000x60000 images are never decoded)."""

from __future__ import annotations

import os
import re
import shutil
import stat
from pathlib import Path

from tests.hostile.gallery import OUTSIDE_SECRET, build, playlist_members
from tests.kiosk import DEFAULT_LOOP, on_screen, run_with, wait_for

PLAYLIST = DEFAULT_LOOP | {"look"}
MEMORY_BOUND_MB = 50  # measured: at most ~2 MB; a decoded 60000x60000 image would be 10 GB


def peak_rss_mb(reset: bool = False) -> float:
    """This process's peak resident memory since the last reset (Linux VmHWM)."""
    if reset:
        Path("/proc/self/clear_refs").write_text("5")  # resets VmHWM to the current RSS
    return int(re.search(r"VmHWM:\s+(\d+)", Path("/proc/self/status").read_text()).group(1)) / 1024


def place(member: Path, folder: Path) -> Path:
    """A copy of a gallery member in `folder`: links, pipes and sparse files recreated as such."""
    destination = folder / member.name
    mode = member.lstat().st_mode
    if stat.S_ISLNK(mode):
        destination.symlink_to(os.readlink(member))
    elif stat.S_ISFIFO(mode):
        os.mkfifo(destination)
    elif member.stat().st_size > 1 << 20:
        with destination.open("wb") as handle:
            handle.truncate(member.stat().st_size)
    else:
        shutil.copy(member, destination)
    return destination


def test_every_hostile_playlist_edit_leaves_the_controller_playing(controller_for, tmp_path):
    gallery = build(tmp_path / "gallery")
    controller = controller_for()
    folder = tmp_path / "playlists"
    shutil.copytree(gallery / "creatives", folder / "creatives")
    shutil.copytree(gallery / "creatives.png", folder / "creatives.png")
    (tmp_path / "outside.yaml").write_text(f"creatives: [{OUTSIDE_SECRET}]\n")  # for ../outside.yaml
    private = [OUTSIDE_SECRET, "root:x:0:0"]

    def script(c):
        wait_for(lambda: on_screen(c) in PLAYLIST and c.status()["playlist"] == "ok", "the playlist playing")
        for name in playlist_members():
            before = peak_rss_mb(reset=True)
            member = place(gallery / name, folder)
            try:
                status = wait_for(lambda: (lambda s: s if f"{name}:" in s["playlist"] else None)(c.status()),
                                  f"{name} rejected in status")
                assert status["playlist"].startswith("rejected: "), name
                assert not any(secret in str(status) for secret in private), name
                assert on_screen(c) in PLAYLIST, f"{name}: the last good playlist keeps playing"
                assert c.watcher.alive() and c.renderer.stats.state == "ok", name
            finally:
                member.unlink()
            wait_for(lambda: c.status()["playlist"] == "ok", f"ok again after {name}")
            grown = peak_rss_mb() - before
            assert grown < MEMORY_BOUND_MB, f"{name}: peak memory grew {grown:.0f} MB"
        assert c.problems.get("playlist watcher") is None and c.status()["faults"] == 0

    run_with(controller, script)
