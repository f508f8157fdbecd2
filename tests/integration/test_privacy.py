"""Invariant 1: no image leaves the vision stage, and nothing is written while it runs."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from signage.modelfiles import PROJECT_ROOT
from tests.support.waiting import wait_for

IGNORED_PARTS = {".git", ".pytest_cache", "__pycache__", ".hypothesis"}


def tree(root: Path) -> dict[str, int]:
    """Every file under root with its modification time."""
    found = {}
    for path in root.rglob("*"):
        if path.is_file() and not IGNORED_PARTS.intersection(path.relative_to(root).parts):
            found[str(path.relative_to(root))] = path.stat().st_mtime_ns
    return found


@pytest.mark.parametrize("backend", ["litert", "mediapipe"])
def test_processing_videos_writes_no_file_anywhere(tmp_path, models_dir, samples, backend):
    home, temp, cache = (tmp_path / name for name in ("home", "tmp", "cache"))
    for directory in (home, temp, cache):
        directory.mkdir()
    env = dict(os.environ, HOME=str(home), TMPDIR=str(temp), XDG_CACHE_HOME=str(cache),
               PYTHONDONTWRITEBYTECODE="1", SIGNAGE_MODELS_DIR=str(models_dir),
               SIGNAGE_SAMPLES_DIR=str(samples))
    before = tree(PROJECT_ROOT), tree(models_dir), tree(samples)
    for video in ("noface_face.mov", "face_noface.mov"):
        result = subprocess.run(
            [sys.executable, "-m", "signage.cli", "vision", "--source", str(samples / video),
             "--backend", backend, "--json"],
            env=env, capture_output=True, text=True, timeout=300, cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        records = [json.loads(line) for line in result.stdout.splitlines()]
        assert records[-1]["summary"]["passers"] == 1
        assert any(r.get("faces") for r in records)
        assert not any("track" in face for r in records for face in r.get("faces", ())), \
            "track numbers never leave the process"
    after = tree(PROJECT_ROOT), tree(models_dir), tree(samples)
    assert after == before, "files were created or changed in the working tree, models or samples"
    for directory in (home, temp, cache):
        written = [p.relative_to(directory) for p in directory.rglob("*") if not p.is_dir()]
        assert [p for p in written if not is_matplotlib_font_cache(p)] == [], \
            f"no file may appear in {directory.name}"


def is_matplotlib_font_cache(path: Path) -> bool:
    """mediapipe imports matplotlib, which caches the list of installed fonts (names
    and paths, no pixels) once per machine. The only file a run may leave."""
    return path.parent == Path("matplotlib") and path.name.startswith("fontlist-") and path.suffix == ".json"


# Invariant 3: nothing published tells anything about fewer than min_group people.
MIN_GROUP = 3


def interval_with(passers: int, viewers: int, peak: int):
    """An aggregator that saw `passers` people pass, `viewers` of them look for 2 s, and
    at most `peak` in view at once."""
    import datetime as dt

    from signage.audience import AudienceSnapshot, Face, StageTimes, TrackSummary
    from signage.contributors import Contributions
    from signage.telemetry.metrics import Aggregator

    start = dt.datetime(2026, 11, 23, 10, 0, tzinfo=dt.timezone.utc)
    aggregator = Aggregator("lab", "kiosk-1", min_group=MIN_GROUP, now=start, t=0.0)
    faces = tuple(Face(box=(0.1, 0.1, 0.2, 0.3), score=0.9, expressions=None, looking=True, yaw=0, pitch=0,
                       distance_m=2.0, zone="mid", track=n) for n in range(peak))
    ended = tuple(TrackSummary(dwell_s=4.0, looking_s=2.0 if n < viewers else 0.2, expression="happy", zone="mid")
                  for n in range(passers))
    aggregator.add_snapshot(AudienceSnapshot(t=1.0, faces=faces, times=StageTimes(total=5.0)))
    aggregator.add_snapshot(AudienceSnapshot(t=2.0, ended=ended, times=StageTimes(total=5.0)))
    aggregator.add_play("welcome", Contributions(looking={n: 2.0 for n in range(viewers)}))
    return aggregator.flush(start + dt.timedelta(seconds=60), 60.0)


@pytest.mark.parametrize("count", [0, 1, 2, MIN_GROUP, MIN_GROUP + 4])
def test_a_published_interval_says_nothing_about_fewer_than_min_group_people(broker, tmp_path, count):
    """0, 1, 2 and min_group people: passers, viewers and peak_faces as they arrive at a
    subscriber of the real broker. Below min_group each is null, 0 included (null beside
    0 would tell one or two people from nobody), and so is everything drawn from them."""
    from signage.config import MqttConfig
    from signage.telemetry.mqtt import Telemetry
    from signage.wire.messages import Metrics
    from tests.subscriber import Subscriber

    subscriber = Subscriber(broker.url, "signage/#")
    device = Telemetry(MqttConfig(url=broker.url, keepalive=5), "lab", "kiosk-1", tmp_path / "spool.sqlite3")
    device.start()
    try:
        device.send("metrics", interval_with(passers=count, viewers=count, peak=count).payload())
        device.send("metrics", interval_with(passers=max(count, MIN_GROUP), viewers=count, peak=count).payload())
        wait_for(lambda: len(subscriber.on("/metrics")) >= 2, "both intervals published")
        alike, crowd_passing = (m.json() for m in subscriber.on("/metrics"))
    finally:
        device.stop(timeout=5)
        subscriber.close()
    for message in (alike, crowd_passing):
        Metrics.model_validate(message)
    enough = count >= MIN_GROUP
    assert (alike["passers"], alike["viewers"], alike["peak_faces"]) == ((count,) * 3 if enough else (None,) * 3)
    assert crowd_passing["passers"] == max(count, MIN_GROUP), "min_group passers are published"
    assert (crowd_passing["viewers"], crowd_passing["peak_faces"]) == ((count, count) if enough else (None, None))
    if not enough:
        assert alike["conversion"] is None and alike["attraction"] is None
        for key in ("distance", "dwell", "attention", "expressions"):
            assert alike[key] == {"suppressed": True}, key
        # conversion x passers would give the withheld viewers back; attraction is their looking
        assert crowd_passing["conversion"] is None and crowd_passing["attraction"] is None
        assert crowd_passing["attention"] == crowd_passing["expressions"] == {"suppressed": True}
        assert alike["impressions"]["welcome"]["viewed"] is None
        assert crowd_passing["impressions"]["welcome"]["viewed"] is None
    else:
        assert alike["expressions"]["happy"] == count and alike["impressions"]["welcome"]["viewed"] == 1
