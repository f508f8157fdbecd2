"""The Edge TPU path does not pretend: a model not compiled for it runs on the CPU and
says why; a device that does not open falls back the same way; a stuck inference shows
as a stalled camera. No Coral here: the real libedgetpu load fails on this machine.
The int8 model is a tiny one built here (how models are told apart and the fallback
need no real int8 BlazeFace); what needs the real int8 model is in
tests/integration/test_edgetpu_int8.py."""

import logging
import threading

import cv2
import numpy as np
import pytest

from signage.config import VisionConfig
from signage.vision.pipeline import Pipeline, compiled_path, make_detector
from signage.vision.runtime import compiled_for_edgetpu
from signage.vision.sources import ImageFolderSource, SourceState
from signage.vision.worker import VisionWorker
from tests.support.tflite import as_compiled, requantise_model
from tests.support.waiting import wait_for
from tests.vision import detector_for

INT8_FILE = "face_detection_full_range_int8.tflite"  # the messages name it, and its compiled file beside it


@pytest.fixture
def int8_file(tmp_path):
    """A small int8 model under the int8 detector's file name."""
    path = tmp_path / INT8_FILE
    path.write_bytes(requantise_model())
    return path


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_compiled_models_are_told_apart(int8_file):
    plain = int8_file.read_bytes()
    assert not compiled_for_edgetpu(plain) and compiled_for_edgetpu(as_compiled(plain))
    assert not compiled_for_edgetpu(b"not a model")


def test_float_model_on_edgetpu_runs_on_the_cpu_and_says_why_once(models_dir, samples, caplog):
    with caplog.at_level(logging.INFO):
        detector = detector_for(VisionConfig(model="full", delegate="edgetpu"), models_dir)
    assert not detector.edgetpu.in_use and detector.model.delegate == "none"
    assert "float model" in detector.edgetpu.reason and "full_int8" in detector.edgetpu.reason
    assert len(warnings_of(caplog)) == 1 and "Edge TPU is not in use" in warnings_of(caplog)[0]
    assert len(detector.detect(cv2.imread(str(samples / "multi_face.jpg")))) == 5, "the CPU model runs"


def test_int8_model_without_a_compiled_file_names_the_file_and_the_compiler(int8_file, caplog):
    with caplog.at_level(logging.WARNING):
        detector = make_detector(VisionConfig(model="full_int8", delegate="edgetpu"), int8_file)
    assert not detector.edgetpu.in_use
    assert "no face_detection_full_range_int8_edgetpu.tflite" in detector.edgetpu.reason
    assert "edgetpu_compiler" in detector.edgetpu.reason and len(warnings_of(caplog)) == 1


def test_real_libedgetpu_absent_here_is_the_same_fallback(int8_file):
    compiled = compiled_path(int8_file)
    compiled.write_bytes(as_compiled(int8_file.read_bytes()))
    try:
        detector = make_detector(VisionConfig(model="full_int8", delegate="edgetpu"), int8_file)
    finally:
        compiled.unlink()
    assert not detector.edgetpu.in_use and "libedgetpu.so.1" in detector.edgetpu.reason


def test_without_edgetpu_status_has_nothing_to_say(models_dir):
    detector = detector_for(VisionConfig(model="full"), models_dir)
    assert not detector.edgetpu.requested and str(detector.edgetpu) == "not requested"


class StuckDetector:
    """A detector whose invoke never returns until released, as a stuck USB accelerator."""

    name = "stuck"

    def __init__(self):
        self.entered, self.release = threading.Event(), threading.Event()

    def detect(self, frame):
        self.entered.set()
        self.release.wait(30)
        return []


def test_an_inference_that_does_not_return_is_a_stalled_camera(tmp_path, caplog):
    cv2.imwrite(str(tmp_path / "a.png"), np.zeros((48, 64, 3), np.uint8))
    detector = StuckDetector()
    pipeline = Pipeline(detector, None, VisionConfig())
    worker = VisionWorker(pipeline, ImageFolderSource(tmp_path, loop=True, fps=30), lambda s: None,
                          stall_after_s=0.2)
    with caplog.at_level(logging.INFO, logger="signage.vision.worker"):
        worker.start()
        try:
            assert detector.entered.wait(20)
            assert wait_for(lambda: worker.state == SourceState.STALLED, "the camera stalled")
            assert worker.alive(), "the capture thread keeps running and reporting"
            assert wait_for(lambda: any("no inference result" in r.getMessage() for r in caplog.records),
                            "the stall logged")
            detector.release.set()
            assert wait_for(lambda: worker.state == SourceState.OK, "the camera ok again")
        finally:
            detector.release.set()
            worker.stop()
    assert sum("no inference result" in r.getMessage() for r in caplog.records) == 1
    assert worker.hardware == {"camera": None, "edgetpu": None}
