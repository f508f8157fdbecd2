"""Content end to end: two real kiosks (`signage run` under Xvfb) of two sites each get their
own target from a real `signage fleet`; the first gets its site's release through Mosquitto
(the announcement) and HTTP (the files), switches
to the next release with no black or fallback frame in between (read back from the X
screen), reports the version in status, and refuses a tampered release while the last
good keeps playing, saying why in status and on <root>/error."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.content import release, signing
from signage.display.videoinfo import video_length
from signage.modelfiles import PROJECT_ROOT
from tests.fleet.server import FleetServer
from tests.screen import dominant, screenshot
from tests.subscriber import Subscriber

RED, BLUE = (0xAA, 0x00, 0x00), (0x00, 0x00, 0xAA)


def site_playlist(repo: Path, colour: str) -> None:
    folder = repo / "sites" / "lab"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "lobby.yaml").write_text(
        f"creatives:\n  - {{id: main, type: card, text: hello, font_size: 12, background: '{colour}', duration: 3}}\n"
        "default: [main]\n")


def content_of(status) -> dict:
    return status.json().get("content") or {}


def ours(message, **fields) -> bool:
    """A status of the first kiosk (lab/content) whose content has these fields."""
    return message.topic == "signage/lab/content/status" and all(
        content_of(message).get(name) == value for name, value in fields.items())


def start_kiosk(folder: Path, site: str, device: str, size: str, broker_url: str, fleet_url: str, key, xvfb: str,
                models_dir: Path, samples: Path) -> subprocess.Popen:
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text("\n".join([
        f"site: {site}", f"device: {device}",
        f"display: {{fullscreen: false, size: {size}, notice: {{enabled: false}}}}",
        "vision: {max_fps: 5}",
        f"paths: {{spool: {folder / 'spool.sqlite3'}}}",
        f"mqtt: {{url: '{broker_url}', interval: 600, keepalive: 5}}",
        f"playlists: {folder / 'content' / 'current'}",
        f"content: {{url: '{fleet_url}/releases', folder: {folder / 'content'}, check_every: 3600, "
        f"public_key: {signing.public_text(key.public_key())}}}",
    ]) + "\n")
    env = dict(os.environ, DISPLAY=xvfb, SDL_VIDEODRIVER="x11", PYTHONDONTWRITEBYTECODE="1",
               SIGNAGE_MODELS_DIR=str(models_dir))
    return subprocess.Popen([sys.executable, "-m", "signage.cli", "run", "--config", str(config),
                             "--source", str(samples / "WolfgangLanger_Pexels.mp4"), "--windowed"],
                            env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_two_kiosks_get_their_own_target_and_one_switches_without_a_black_frame_and_refuses_tampering(
        xvfb, broker, tmp_path, models_dir, samples):
    key = Ed25519PrivateKey.generate()
    repo, releases = tmp_path / "repo", tmp_path / "releases"
    (repo / "fleet").mkdir(parents=True)
    (repo / "fleet" / "lobby.yaml").write_text("creatives:\n  - {id: other, type: card, text: x}\ndefault: [other]\n")
    site_playlist(repo, "#aa0000")
    publish = lambda: release.publish(repo, releases, key, video_length=video_length, simulate_days=0).version  # noqa: E731
    assert publish() == 1
    fleet = FleetServer(tmp_path / "fleet", broker.url, releases=str(releases)).started()
    subscriber = Subscriber(broker.url, "signage/+/+/#")
    process = start_kiosk(tmp_path / "kiosk", "lab", "content", "[320, 180]", broker.url, fleet.url, key, xvfb,
                          models_dir, samples)
    # A second screen, of another site: the fleet's target is its own (a small window, so the
    # first one's colour still fills most of the X screen).
    other = start_kiosk(tmp_path / "other", "north", "door", "[64, 36]", broker.url, fleet.url, key, xvfb,
                        models_dir, samples)

    def watch(until, timeout: float, what: str) -> list:
        seen, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline and process.poll() is None:
            try:
                seen.append(dominant(screenshot(xvfb)))
            except ValueError:
                pass
            if until(seen):
                return seen
            time.sleep(0.05)
        raise AssertionError(f"{what}: not within {timeout} s; saw {sorted(set(seen))}")

    try:
        watch(lambda seen: seen and seen[-1] == RED, 90, "release 1 on screen")
        subscriber.wait_for(lambda m: ours(m, version=1), 30)
        site_playlist(repo, "#0000aa")
        assert publish() == 2  # the fleet announces it within seconds; the kiosk looks at once
        seen = watch(lambda seen: seen and seen[-1] == BLUE, 90, "release 2 on screen")
        first = seen.index(RED) if RED in seen else 0
        assert set(seen[first:]) <= {RED, BLUE}, f"a frame that was neither release: {sorted(set(seen[first:]))}"
        status = subscriber.wait_for(lambda m: ours(m, version=2), 30)
        assert content_of(status)["state"] == "active" and content_of(status)["target"] == "site/lab"

        site_playlist(repo, "#00aa00")
        assert publish() == 3
        lobby = release.read_release(releases, 3, key).targets["site/lab"].files["lobby.yaml"]
        (releases / "objects" / lobby.sha256).write_bytes(b"x" * lobby.size)  # a compromised web server
        status = subscriber.wait_for(lambda m: ours(m, state="refused"), 60)
        assert "sha256" in content_of(status)["reason"] and content_of(status)["version"] == 2
        error = subscriber.wait_for(lambda m: m.topic == "signage/lab/content/error", 30).json()
        assert error["topic"] == "content" and "version 3" in error["error"]
        assert set(watch(lambda seen: len(seen) >= 20, 30, "the screen after the refusal")) == {BLUE}
        theirs = subscriber.wait_for(lambda m: m.topic == "signage/north/door/status" and
                                     content_of(m).get("state") == "active", 60)
        assert content_of(theirs)["target"] == "fleet", "the other site's screen plays the fleet's target"
    finally:
        outputs = []
        for running in (process, other):
            if running.poll() is None:
                running.send_signal(signal.SIGTERM)
            outputs.append(running.communicate(timeout=60)[0])
        subscriber.close()
        fleet.stop()
    assert process.returncode == 0 and other.returncode == 0, "\n".join(o[-2000:] for o in outputs)
