"""The Edge TPU path does not pretend: a model not compiled for it runs on the CPU and
says why; a device that does not open falls back the same way; a stuck inference shows
as a stalled camera. No Coral here: the real libedgetpu load fails on this machine, and
a fake `load_delegate` with LiteRT's interface records what it is asked for."""

import logging
import shutil
import threading

import cv2
import flatbuffers
import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from signage import modelfiles
from signage.config import VisionConfig
from signage.vision.pipeline import Pipeline, compiled_path
from signage.vision.runtime import EDGETPU_OP, Model, compiled_for_edgetpu
from signage.vision.sources import ImageFolderSource, SourceState
from signage.vision.worker import VisionWorker
from tests.vision import detector_for


@pytest.fixture(scope="module")
def int8_dir(models_dir, samples, tmp_path_factory):
    """A models folder with the float and int8 full-range models only."""
    from signage.cli.models import make_int8_models

    make_int8_models([modelfiles.derived()["blazeface_full_int8"]], models_dir, samples)
    folder = tmp_path_factory.mktemp("models")
    for name in ("blazeface_full", "blazeface_full_int8"):
        shutil.copy(models_dir / modelfiles.model(name).file, folder)
    return folder


def as_compiled(model: bytes) -> bytes:
    """The model with an edgetpu-custom-op operator code, as edgetpu_compiler leaves it
    (here unused by any op, so the CPU can still load it)."""
    tree = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model, 0))
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.CUSTOM
    code.customCode, code.version = EDGETPU_OP.decode(), 1
    tree.operatorCodes.append(code)
    builder = flatbuffers.Builder(0)
    builder.Finish(tree.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def warnings_of(caplog):
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_compiled_models_are_told_apart(int8_dir):
    plain = (int8_dir / "face_detection_full_range_int8.tflite").read_bytes()
    assert not compiled_for_edgetpu(plain) and compiled_for_edgetpu(as_compiled(plain))
    assert not compiled_for_edgetpu(b"not a model")


def test_float_model_on_edgetpu_runs_on_the_cpu_and_says_why_once(int8_dir, samples, caplog):
    with caplog.at_level(logging.INFO):
        detector = detector_for(VisionConfig(model="full", delegate="edgetpu"), int8_dir)
    assert not detector.edgetpu.in_use and detector.model.delegate == "none"
    assert "float model" in detector.edgetpu.reason and "full_int8" in detector.edgetpu.reason
    assert len(warnings_of(caplog)) == 1 and "Edge TPU is not in use" in warnings_of(caplog)[0]
    assert len(detector.detect(cv2.imread(str(samples / "multi_face.jpg")))) == 5, "the CPU model runs"


def test_int8_model_without_a_compiled_file_names_the_file_and_the_compiler(int8_dir, caplog):
    with caplog.at_level(logging.WARNING):
        detector = detector_for(VisionConfig(model="full_int8", delegate="edgetpu"), int8_dir)
    assert not detector.edgetpu.in_use
    assert "no face_detection_full_range_int8_edgetpu.tflite" in detector.edgetpu.reason
    assert "edgetpu_compiler" in detector.edgetpu.reason and len(warnings_of(caplog)) == 1


@pytest.mark.parametrize("device", ["usb", "pci:1", "auto"])
def test_compiled_model_whose_device_does_not_open_falls_back_to_the_int8_cpu_model(int8_dir, samples, device):
    source = int8_dir / "face_detection_full_range_int8.tflite"
    compiled = compiled_path(source)
    compiled.write_bytes(as_compiled(source.read_bytes()))
    asked = []

    def load_delegate(library, options=None):  # LiteRT's interface; libedgetpu's failure
        asked.append((library, options))
        raise ValueError(f"Failed to load delegate from {library}\n")

    try:
        detector = detector_for(VisionConfig(model="full_int8", delegate="edgetpu", edgetpu_device=device),
                                 int8_dir, load_delegate=load_delegate)
    finally:
        compiled.unlink()
    assert asked == [("libedgetpu.so.1", {} if device == "auto" else {"device": device})]
    reason = detector.edgetpu.reason
    assert not detector.edgetpu.in_use and "Failed to load delegate" in reason and f"vision.edgetpu_device: {device}" in reason
    assert "1a6e:089a" in reason and "USB 3" in reason and "running face_detection_full_range_int8.tflite on the CPU" \
        in reason
    assert len(detector.detect(cv2.imread(str(samples / "multi_face.jpg")))) == 5


def test_real_libedgetpu_absent_here_is_the_same_fallback(int8_dir):
    source = int8_dir / "face_detection_full_range_int8.tflite"
    compiled = compiled_path(source)
    compiled.write_bytes(as_compiled(source.read_bytes()))
    try:
        detector = detector_for(VisionConfig(model="full_int8", delegate="edgetpu"), int8_dir)
    finally:
        compiled.unlink()
    assert not detector.edgetpu.in_use and "libedgetpu.so.1" in detector.edgetpu.reason


def test_model_level_edgetpu_on_an_uncompiled_model_loads_no_delegate(int8_dir):
    called = []
    model = Model(int8_dir / "face_detection_full_range_int8.tflite", num_threads=1, delegate="edgetpu",
                  load_delegate=lambda *args: called.append(args))
    assert called == [] and model.delegate == "none" and "not compiled for the Edge TPU" in str(model.edgetpu)
    assert model.delegated_partitions() == 1, "XNNPACK runs the whole int8 graph in one partition"


def test_without_edgetpu_status_has_nothing_to_say(int8_dir):
    detector = detector_for(VisionConfig(model="full"), int8_dir)
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


def wait_for(condition, timeout=20.0):
    done = threading.Event()
    for _ in range(int(timeout / 0.02)):
        if condition():
            return True
        done.wait(0.02)
    return condition()


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
            assert wait_for(lambda: worker.state == SourceState.STALLED)
            assert worker.alive(), "the capture thread keeps running and reporting"
            assert wait_for(lambda: any("no inference result" in r.getMessage() for r in caplog.records))
            detector.release.set()
            assert wait_for(lambda: worker.state == SourceState.OK)
        finally:
            detector.release.set()
            worker.stop()
    assert sum("no inference result" in r.getMessage() for r in caplog.records) == 1
    assert worker.hardware == {"camera": None, "edgetpu": None}
