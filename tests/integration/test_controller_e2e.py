"""End to end: `signage run` on a real video, under Xvfb, with a real Mosquitto."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from signage.modelfiles import PROJECT_ROOT
from signage.wire.messages import Metrics, Play, PlayTotals, Status
from tests.screen import dominant, screenshot
from tests.subscriber import Subscriber

IDLE = {(0x33, 0x33, 0x33), (0x44, 0x44, 0x44)}
LOOK = (0x00, 0xAA, 0x00)
FORBIDDEN_KEYS = {"track", "box", "x", "y", "w", "h", "keypoints", "landmarks", "image", "pixels", "crop",
                  "embedding", "yaw", "pitch", "distance_m"}


def write_config(folder: Path, **extra) -> Path:
    lines = ["site: lab", "device: e2e",
             "display: {fullscreen: false, size: [640, 360], notice: {enabled: false}}",
             "vision: {max_fps: 15}",
             f"paths: {{spool: {folder / 'spool.sqlite3'}}}",
             "mqtt: {interval: 600, keepalive: 5}"]
    lines += [f"{key}: {value}" for key, value in extra.items()]
    path = folder / "config.yaml"
    path.write_text("\n".join(lines) + "\n")
    return path


def files_under(root: Path) -> set[str]:
    ignored = {".git", "__pycache__", ".pytest_cache", ".hypothesis"}
    return {str(p) for p in root.rglob("*") if p.is_file() and not ignored.intersection(p.parts)}


def walk(value, path=""):
    """Every (key path, value) in a JSON document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield f"{path}.{key}", key, item
            yield from walk(item, f"{path}.{key}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from walk(item, f"{path}[{index}]")


def test_face_appears_the_screen_reacts_and_only_aggregates_go_out(xvfb, broker, tmp_path, models_dir, samples):
    config = write_config(tmp_path)
    subscriber = Subscriber(broker.url, "signage/#")
    temp, cache = tmp_path / "tmp", tmp_path / "cache"
    temp.mkdir(), cache.mkdir()
    before = files_under(PROJECT_ROOT)
    env = dict(os.environ, DISPLAY=xvfb, SDL_VIDEODRIVER="x11", TMPDIR=str(temp), XDG_CACHE_HOME=str(cache),
               PYTHONDONTWRITEBYTECODE="1", SIGNAGE_MODELS_DIR=str(models_dir))
    process = subprocess.Popen(
        [sys.executable, "-m", "signage.cli", "run", "--config", str(config),
         "--source", str(samples / "noface_face.mov"), "--mqtt", broker.url,
         "--playlists", str(PROJECT_ROOT / "tests" / "playlists" / "e2e"), "--windowed"],
        env=env, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen = []
    try:
        deadline = time.monotonic() + 90
        while process.poll() is None and time.monotonic() < deadline:
            try:
                seen.append(dominant(screenshot(xvfb)))
            except (subprocess.CalledProcessError, ValueError):
                pass
            time.sleep(0.15)
        output = process.communicate(timeout=30)[0]
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0, output
    # The screen: the default loop first, then the creative for someone looking.
    shown = [colour for colour in seen if colour in IDLE | {LOOK}]
    assert shown and shown[0] in IDLE, f"started with {seen[:5]}"
    assert LOOK in shown, f"never showed the look creative: {sorted(set(seen))}\n{output}"
    assert all(colour == LOOK for colour in shown[shown.index(LOOK):]), "stayed on it once it appeared"

    # MQTT: metrics, proof of play, and nothing about any individual: one passer and one
    # viewer are below min_group, so not even their count is published (null, as for 0).
    metrics = subscriber.wait_for(lambda m: m.topic == "signage/lab/e2e/metrics").json()
    assert (metrics["passers"], metrics["viewers"], metrics["peak_faces"]) == (None, None, None)
    # The playlist has an audience rule: every play of an hour is held until the hour is
    # over, and one passer all day leaves only the seconds on screen, under "audience".
    assert not subscriber.on("/play"), "no play of an hour with one passer is published on its own"
    [totals] = [m.json() for m in subscriber.on("/totals")]
    assert (totals["period"], list(totals["creatives"])) == ("day", ["audience"])
    assert totals["creatives"]["audience"]["plays"] is None and totals["creatives"]["audience"]["seconds"] > 0
    # Neither the name of what the audience rule chose nor the moment it fired is anywhere:
    # not in proof of play, not in the interval's impressions, not in the live status.
    for message in subscriber.on("/metrics"):
        assert "look" not in message.json()["impressions"]
    statuses = [m.json() for m in subscriber.on("/status")]
    assert statuses and {s["playing"] for s in statuses} <= {"idle-a", "idle-b", None}, \
        "the status never changes when an audience rule fires"
    assert subscriber.wait_for(lambda m: m.topic.endswith("/available")).payload in (b"online", b"stopped")
    schemas = {"status": Status, "metrics": Metrics, "play": Play, "totals": PlayTotals}
    for message in subscriber.messages:
        kind = message.topic.rsplit("/", 1)[-1]
        if kind in schemas:
            schemas[kind].model_validate(message.json())  # every payload matches docs/mqtt.md
        assert len(message.payload) < 20_000, f"{message.topic}: suspiciously large payload"
        try:
            document = json.loads(message.payload)
        except json.JSONDecodeError:
            assert message.payload in (b"online", b"offline", b"stopped", b"ON", b"OFF"), message.topic
            continue
        for path, key, _ in walk(document):
            assert key not in FORBIDDEN_KEYS, f"{message.topic}: {path} must not be published"
    subscriber.close()

    # No file appeared in the working tree, the temp dir or the cache (the spool lives in tmp_path).
    assert files_under(PROJECT_ROOT) == before
    assert not any(temp.rglob("*")) and not [p for p in cache.rglob("*") if p.is_file()]
