"""Hostile creatives against the real things: `signage check` and a real `signage run`
(under Xvfb, with Mosquitto). For every member the kiosk stays up, the screen shows the
last good content or the fallback (read back from the X server), status names the
problem, no traceback is printed and no file content from outside the playlist folder
is published; at the end the kiosk stops cleanly and its peak memory is under a bound."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from signage.modelfiles import PROJECT_ROOT
from tests.support.hostile_creatives import CARD_BACKGROUND, CHECK_PASSES, MEMBERS
from tests.screen import dominant, screenshot
from tests.subscriber import Subscriber
from tests.support.waiting import wait_for

GOOD = """\
creatives:
  - {id: idle, type: card, text: idle, font_size: 12, background: "#333333", duration: 30}
default: [idle]
"""
IDLE = (0x33, 0x33, 0x33)
FALLBACK = (0x20, 0x20, 0x20)
PEAK_RSS_MB = 900  # the kiosk with its models loaded is ~400 MB; a 1-2 GB Pi must never swap


def run_check(folder: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "signage.cli", "check", str(folder)], capture_output=True,
                          text=True, timeout=120, cwd=PROJECT_ROOT)


@pytest.mark.parametrize("member", sorted(MEMBERS))
def test_check_explains_every_member_without_a_traceback(member, tmp_path):
    folder = tmp_path / "playlists"
    folder.mkdir()
    MEMBERS[member](folder)
    result = run_check(folder)
    output = result.stdout + result.stderr
    assert "Traceback" not in output, output
    if member in CHECK_PASSES:
        assert result.returncode == 0, output
    else:
        assert result.returncode == 1 and "hostile.yaml:2:" in output, f"file:line:col of the creative: {output}"
    assert "root:x:0:0" not in output, "no content of a file outside the folder is quoted"


def latest_status(subscriber: Subscriber) -> dict:
    found = subscriber.on("/status")
    return found[-1].json() if found else {}


def clear(folder: Path) -> None:
    for path in folder.iterdir():
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink()


def test_the_kiosk_survives_every_member(xvfb, broker, tmp_path, models_dir, samples):
    playlists = tmp_path / "playlists"
    playlists.mkdir()
    (playlists / "good.yaml").write_text(GOOD)
    config = tmp_path / "config.yaml"
    config.write_text("site: lab\ndevice: hostile\n"
                      f"playlists: {playlists}\n"
                      "display: {fullscreen: false, size: [640, 360], notice: {enabled: false}}\n"
                      f"source: {{kind: video, path: {samples / 'WolfgangLanger_Pexels.mp4'}}}\n"
                      "vision: {max_fps: 5}\n"
                      f"paths: {{spool: {tmp_path / 'spool.sqlite3'}}}\n"
                      f"mqtt: {{url: '{broker.url}', interval: 600}}\n")
    subscriber = Subscriber(broker.url, "signage/lab/hostile/#")
    env = dict(os.environ, DISPLAY=xvfb, SDL_VIDEODRIVER="x11", SIGNAGE_MODELS_DIR=str(models_dir))
    process = subprocess.Popen([sys.executable, "-m", "signage.cli", "run", "--config", str(config)],
                               env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    peak_mb = 0.0
    try:
        wait_for(lambda: latest_status(subscriber).get("playing") == "idle", "the good playlist plays")
        for member in sorted(MEMBERS):
            clear(playlists)
            MEMBERS[member](playlists)
            wait_for(lambda: latest_status(subscriber).get("playlist", "ok") != "ok"
                       or any("x" in p for p in latest_status(subscriber).get("problems", []))
                       or latest_status(subscriber).get("playing") == "x",
                       f"{member}: status says something")
            time.sleep(1.0)  # whatever it does, give it time to do it
            assert process.poll() is None, f"{member}: the kiosk died"
            colour = dominant(screenshot(xvfb))
            assert colour in (IDLE, FALLBACK, CARD_BACKGROUND), f"{member}: screen shows {colour}"
            status = latest_status(subscriber)
            assert "root:x:0:0" not in str(status), f"{member}: file content leaked into status"
            with open(f"/proc/{process.pid}/status") as handle:
                peak_mb = max(peak_mb, *(int(line.split()[1]) / 1024 for line in handle if line.startswith("VmHWM")))
            clear(playlists)
            (playlists / "good.yaml").write_text(GOOD)
            wait_for(lambda: latest_status(subscriber).get("playlist") == "ok"
                       and latest_status(subscriber).get("playing") == "idle", f"{member}: back to good")
        final = latest_status(subscriber)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
        subscriber.close()
    assert process.returncode == 0, output
    assert "Traceback" not in output, output[output.find("Traceback") - 500:][:4000]
    assert final.get("faults") == 0, f"no unforeseen fault: each is handled where it happens ({final})"
    assert peak_mb < PEAK_RSS_MB, f"peak RSS {peak_mb:.0f} MB"
