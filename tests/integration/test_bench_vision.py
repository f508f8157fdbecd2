"""`signage bench vision` observes through a wrapper it puts on its own pipelines, and
reports every ratio as a spread with a verdict. No timing is asserted here: only that
the figures exist, come from the bench's own objects, and are judged."""

from __future__ import annotations

import re

import cv2

from signage.cli import bench_vision
from signage.config import VisionConfig
from tests.vision import pipeline_for

SPREAD = r"\d+\.\d\d / \d+\.\d\d / \d+\.\d\d"


def test_the_invoke_timer_sees_only_the_bench_pipeline(models_dir, samples):
    frame = cv2.imread(str(samples / "multi_face.jpg"))
    timed = bench_vision.Timed.build(VisionConfig(model="full"))
    production = pipeline_for(VisionConfig(model="full"), models_dir)
    try:
        snapshot = timed.pipeline.process(frame, 0.0)
        detector_ms, expressions_ms = timed.detector.take(), timed.expressions.take()
        assert snapshot.face_count == 5 and detector_ms > 0 and expressions_ms > 0
        assert detector_ms + expressions_ms <= snapshot.times.total, "the invokes happen inside the frame"
        production.process(frame, 0.0)
        assert timed.detector.take() == 0 and timed.expressions.take() == 0
        assert "run" not in vars(production.detector.model), "nothing is wrapped in a pipeline the bench did not build"
    finally:
        timed.pipeline.close()
        production.close()


def test_a_mediapipe_pipeline_has_no_detector_timer_and_no_second_interpreter(models_dir):
    from signage.vision.runtime import Model

    timed = bench_vision.Timed.build(VisionConfig(backend="mediapipe", model="full"))
    try:
        assert timed.detector is None
        assert not [value for value in vars(timed.pipeline.detector).values() if isinstance(value, Model)]
    finally:
        timed.pipeline.close()


def test_every_ratio_is_a_spread_over_repeats_with_a_verdict(int8_models):  # the int8 report needs them
    text = bench_vision.main(frames=3, repeats=3)
    rows = [line for line in text.splitlines() if re.match(r"(short|full|full_sparse) +(5 faces|1 person)", line)]
    assert len(rows) == 6 and all(len(re.findall(SPREAD, row)) == 5 for row in rows)
    verdicts = [line for line in text.splitlines() if re.search(r"  (met|MISSED)\b", line)]
    assert len(verdicts) >= 3 + 4 + 2, text  # overhead per model, backends x 4, int8 per model
    int8 = [line for line in text.splitlines() if line.startswith(("full_int8", "short_int8"))]
    assert len(int8) == 2 and all(len(re.findall(SPREAD, line)) == 2 and "boxes agree" in line for line in int8)
