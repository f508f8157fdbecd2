"""Content end to end: two real kiosks of two sites each get their own target from a real
`signage fleet`; the first (run in this process, so that its renderer can be watched) gets
its site's release through Mosquitto (the announcement) and HTTP (the files), switches to
the next release with no black or fallback frame in between (every frame it presents read
back through the renderer, and the X screen as another client sees it), reports the
version in status, and refuses a tampered release while the last good keeps playing,
saying why in status and on <root>/error. The second is `signage run` under Xvfb."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from signage.config import load_config
from signage.content import release, signing
from signage.display import readback
from signage.display.events import RenderObserver
from signage.display.videoinfo import video_length
from signage.kiosk.app import Kiosk, Observer
from signage.modelfiles import PROJECT_ROOT
from tests.fleet.server import FleetServer
from tests.kiosk import run_with
from tests.screen import dominant, screenshot
from tests.subscriber import Subscriber
from tests.support.waiting import wait_for

RED, BLUE = (0xAA, 0x00, 0x00), (0x00, 0x00, 0xAA)


class Frames(RenderObserver):
    """Every picture the kiosk presents, as the colour that fills most of it, read back at
    each present (main thread): a single black or fallback frame cannot fall between samples."""

    def __init__(self):
        self.kiosk: Kiosk | None = None
        self.colours: list[tuple[int, int, int]] = []

    def presented(self, t, spent_s, late):
        renderer = self.kiosk.renderer if self.kiosk is not None else None
        if renderer is not None:
            self.colours.append(filling(readback.pixels(renderer)))

    def seen(self) -> list[tuple[int, int, int]]:
        return list(self.colours)  # a copy: the main thread appends meanwhile


def filling(pixels: np.ndarray) -> tuple[int, int, int]:
    """The colour of most of the picture, black included."""
    flat = pixels.reshape(-1, 3).astype(np.uint32)
    values, counts = np.unique((flat[:, 0] << 16) | (flat[:, 1] << 8) | flat[:, 2], return_counts=True)
    code = int(values[counts.argmax()])
    return code >> 16, (code >> 8) & 0xFF, code & 0xFF


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


def kiosk_config(folder: Path, site: str, device: str, size: str, broker_url: str, fleet_url: str, key,
                 samples: Path) -> Path:
    folder.mkdir()
    config = folder / "config.yaml"
    config.write_text("\n".join([
        f"site: {site}", f"device: {device}",
        f"display: {{fullscreen: false, size: {size}, notice: {{enabled: false}}}}",
        "vision: {max_fps: 5}",
        f"source: {{kind: video, path: '{samples / 'WolfgangLanger_Pexels.mp4'}'}}",
        f"paths: {{spool: {folder / 'spool.sqlite3'}}}",
        f"mqtt: {{url: '{broker_url}', interval: 600, keepalive: 5}}",
        f"playlists: {folder / 'content' / 'current'}",
        f"content: {{url: '{fleet_url}/releases', folder: {folder / 'content'}, check_every: 3600, "
        f"public_key: {signing.public_text(key.public_key())}}}",
    ]) + "\n")
    return config


def start_kiosk(config: Path, xvfb: str, models_dir: Path) -> subprocess.Popen:
    env = dict(os.environ, DISPLAY=xvfb, SDL_VIDEODRIVER="x11", PYTHONDONTWRITEBYTECODE="1",
               SIGNAGE_MODELS_DIR=str(models_dir))
    return subprocess.Popen([sys.executable, "-m", "signage.cli", "run", "--config", str(config), "--windowed"],
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
    path = kiosk_config(tmp_path / "kiosk", "lab", "content", "[320, 180]", broker.url, fleet.url, key, samples)
    frames = Frames()

    class Watching(Observer):
        screen = frames

    kiosk = frames.kiosk = Kiosk(load_config(path), config_path=path, observer=Watching())
    # A second screen, of another site: the fleet's target is its own (a small window, so the
    # first one's colour still fills most of the X screen).
    other = start_kiosk(kiosk_config(tmp_path / "other", "north", "door", "[64, 36]", broker.url, fleet.url, key,
                                     samples), xvfb, models_dir)

    def script(_):
        wait_for(lambda: RED in frames.seen(), "release 1 on screen", 90)
        subscriber.wait_for(lambda m: ours(m, version=1), 30)
        site_playlist(repo, "#0000aa")
        assert publish() == 2  # the fleet announces it within seconds; the kiosk looks at once
        wait_for(lambda: BLUE in frames.seen(), "release 2 on screen", 90)
        seen = frames.seen()
        swap = seen.index(BLUE)
        assert set(seen[seen.index(RED):swap]) == {RED}, f"release 1 until the swap: {sorted(set(seen))}"
        wait_for(lambda: dominant(screenshot(xvfb)) == BLUE, "release 2 on the X screen", 10)
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
        theirs = subscriber.wait_for(lambda m: m.topic == "signage/north/door/status" and
                                     content_of(m).get("state") == "active", 60)
        assert content_of(theirs)["target"] == "fleet", "the other site's screen plays the fleet's target"
        assert dominant(screenshot(xvfb)) == BLUE
        after = frames.seen()[swap:]
        assert set(after) == {BLUE}, f"every frame since the swap is release 2's: {sorted(set(after))}"

    try:
        run_with(kiosk, script)
    finally:
        if other.poll() is None:
            other.send_signal(signal.SIGTERM)
        output = other.communicate(timeout=60)[0]
        subscriber.close()
        fleet.stop()
    assert other.returncode == 0, output[-2000:]
