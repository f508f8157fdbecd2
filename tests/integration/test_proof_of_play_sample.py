"""The acceptance of docs/privacy.md on real media: the sample video's person, analysed
by the real pipeline, comes by one at a time, every half hour, for six hours, in front
of a screen whose audience rule fires for one viewer (min_group 3). No hour has enough
passers to publish a play on its own; the day has, and attributes every play to its
creative, none as "audience"."""

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
from tests.audience_run import run
from tests.vision import pipeline_for

EVERY, HOURS = 1800.0, 6


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


def test_one_person_at_a_time_every_play_is_attributed_to_its_creative_at_day_level(person):
    assert any(face.looking for s in person for face in s.faces if face.track is not None), "the person looks"
    folder = PROJECT_ROOT / "tests" / "playlists" / "e2e"
    playlist = load_playlist([folder], base=folder, video_length=video_length)
    start = dt.datetime(2026, 11, 23, 8, 0, tzinfo=dt.timezone.utc)
    out = run(playlist, one_at_a_time(person), HOURS * 3600, step=0.5, start=start)
    kinds = {kind for _, kind, _ in out["messages"]}
    assert "play" not in kinds, "two passers an hour: no play is published on its own"
    [day] = [payload for _, kind, payload in out["messages"] if kind == "totals"]
    PlayTotals.model_validate(day)
    assert day["period"] == "day" and "audience" not in day["creatives"]
    assert day["creatives"]["look"]["plays"] >= HOURS * 3600 / EVERY, "the look creative, for each passer"
    assert set(day["creatives"]) == {"idle-a", "idle-b", "look"}
    assert sum(item["seconds"] for item in day["creatives"].values()) == pytest.approx(HOURS * 3600)
