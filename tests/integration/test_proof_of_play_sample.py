"""The acceptance of docs/privacy.md on real media: the sample video's person, analysed
by the real pipeline, comes by one at a time, every half hour, for six hours, in front
of a screen whose audience rule fires for one viewer (min_group 3). No hour has enough
passers to publish a play on its own; the day has, and attributes every play to its
creative, none as "audience". And no record about a moment depends on that person:
with and without them, every play, interval, status message and log line is the same."""

from __future__ import annotations

import dataclasses
import datetime as dt

import cv2
import pytest

from signage.audience import AudienceSnapshot
from signage.config import VisionConfig
from signage.display.videoinfo import video_length
from signage.modelfiles import PROJECT_ROOT
from signage.playlist.loader import load_playlist
from signage.wire.messages import PlayTotals
from tests.audience_run import run, without_ids
from tests.vision import pipeline_for

EVERY, HOURS = 1800.0, 6
START = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone.utc)


@pytest.fixture(scope="module")
def person(models_dir, samples):
    """The snapshots of the sample video (one person), by media time."""
    pipeline = pipeline_for(VisionConfig(), models_dir)
    video = cv2.VideoCapture(str(samples / "WolfgangLanger_Pexels.mp4"))
    fps = video.get(cv2.CAP_PROP_FPS) or 25.0
    snapshots = []
    try:
        while True:
            ok, frame = video.read()
            if not ok:
                break
            snapshots.append(pipeline.process(frame, len(snapshots) / fps))
    finally:
        video.release()
        pipeline.close()
    return snapshots


def one_at_a_time(person: list[AudienceSnapshot]):
    """Every EVERY seconds, the video's person again: a new passer (their track numbers
    made distinct per visit, as a new person's would be)."""
    length = person[-1].t

    def at(t: float, step: float) -> AudienceSnapshot:
        visit, into = divmod(t, EVERY)
        if into > length:
            return AudienceSnapshot(t=t)
        frames = [s for s in person if into - step < s.t <= into] or [person[0]]
        faces = tuple(dataclasses.replace(face, track=face.track + int(visit) * 10**9)
                      for face in frames[-1].faces if face.track is not None)
        return AudienceSnapshot(t=t, faces=faces, ended=tuple(e for s in frames for e in s.ended))

    return at


@pytest.fixture(scope="module")
def playlist():
    folder = PROJECT_ROOT / "tests" / "playlists" / "e2e"
    return load_playlist([folder], base=folder, video_length=video_length)


@pytest.fixture(scope="module")
def seen(person, playlist):
    """What the kiosk publishes with the person passing, one at a time."""
    return run(playlist, one_at_a_time(person), HOURS * 3600, step=0.5, start=START)


def test_one_person_at_a_time_every_play_is_attributed_to_its_creative_at_day_level(person, seen):
    assert any(face.looking for s in person for face in s.faces if face.track is not None), "the person looks"
    out = seen
    kinds = {kind for _, kind, _ in out["messages"]}
    assert "play" not in kinds, "two passers an hour: no play is published on its own"
    [day] = [payload for _, kind, payload in out["messages"] if kind == "totals"]
    PlayTotals.model_validate(day)
    assert day["period"] == "day" and "audience" not in day["creatives"]
    assert day["creatives"]["look"]["plays"] >= HOURS * 3600 / EVERY, "the look creative, for each passer"
    assert set(day["creatives"]) == {"idle-a", "idle-b", "look"}
    assert sum(item["seconds"] for item in day["creatives"].values()) == pytest.approx(HOURS * 3600)


def moments(out: dict) -> dict:
    """Every record about a moment the run published: all but the day's totals (an
    aggregate over a day in which at least min_group people passed), without message ids."""
    return {"messages": [m for m in without_ids(out["messages"]) if m[1] != "totals"], "log": out["log"]}


def test_no_record_about_a_moment_depends_on_the_person(playlist, seen):
    """Issue 20's acceptance: the same screen with nobody in front of it publishes the same
    plays (none), intervals, status messages and log lines, at the same times."""
    nobody = run(playlist, lambda t, step: AudienceSnapshot(t=t), HOURS * 3600, step=0.5, start=START)
    with_them, without = moments(seen), moments(nobody)
    kinds = {kind for _, kind, _ in with_them["messages"]}
    assert {"metrics", "status"} <= kinds and with_them["log"], "there is something to compare"
    assert with_them == without
