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
from tests.kiosk import DEFAULT_LOOP, on_screen, run_with
from tests.support.waiting import wait_for

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
                status = wait_for(lambda name=name: (lambda s: s if f"{name}:" in s["playlist"] else None)(c.status()),
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


def test_every_hostile_config_as_a_reload_changes_nothing(controller_for, tmp_path):
    """Each hostile config of the gallery, written over the running kiosk's config.yaml and
    reloaded (SIGHUP): nothing of it applies, the playlist keeps playing, status names
    file:line:col and the key that `signage check` names, and quotes no value from the
    file; the original file reloads cleanly afterwards."""
    from signage.kiosk.reload import key_of
    from tests.hostile.gallery import EXPECTED, HERE, config_members

    controller = controller_for()
    config_file = tmp_path / "config.yaml"
    original = config_file.read_text()
    where = re.compile(r"^configs/[^:]+:(\d+):(\d+): (?:(\S+): )?")
    secrets = re.compile(r"hunter2[\w-]*")  # the gallery's keys that carry a secret (no space after a colon)

    def script(c):
        wait_for(lambda: on_screen(c) in PLAYLIST and c.status()["broker"] == "connected", "playing, connected")
        running = c.config
        for name in config_members():
            line, column, key = where.match(EXPECTED["configs"][name][0]).groups()
            # status shows a key only as far as it is the config models' (an unknown key may hold a secret)
            named = f"{config_file}:{line}:{column}" + (f" ({key_of(key)})" if key else "")
            shutil.copy(HERE / "configs" / name, config_file)
            c.reload()
            status = wait_for(lambda named=named: (lambda s: s if named in (s["last_error"] or "") else None)(
                                  c.status()),
                              f"{name}: the reload rejected at {named}")
            assert status["last_error"].startswith("config reload rejected: "), name
            values = [v for problem in EXPECTED["configs"][name] for v in re.findall(r"'([^']{5,})'", problem)]
            values += [v for problem in EXPECTED["configs"][name] for v in secrets.findall(problem)]
            assert not any(value in str(status) for value in [*values, "s3cret"]), f"{name}: a value was quoted"
            assert c.config is running and status["device"] == "faults", f"{name}: nothing of it applied"
            assert on_screen(c) in PLAYLIST and c.renderer.stats.state == "ok", name
        config_file.write_text(original)
        c.reload()
        wait_for(lambda: c.status()["last_error"] is None, "the original reloads cleanly")
        assert c.status()["device"] == "faults" and on_screen(c) in PLAYLIST

    run_with(controller, script)
