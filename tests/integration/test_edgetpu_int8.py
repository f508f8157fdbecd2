"""The Edge TPU fallback on the real int8 BlazeFace model: a compiled model whose device
does not open falls back to the int8 model on the CPU, which still finds the faces, and
the uncompiled int8 graph runs whole on XNNPACK. No Coral here: a fake `load_delegate`
with LiteRT's interface records what it is asked for."""

import shutil

import cv2
import pytest

from signage import modelfiles
from signage.config import VisionConfig
from signage.vision.pipeline import compiled_path
from signage.vision.runtime import Model
from tests.support.tflite import as_compiled
from tests.vision import detector_for


@pytest.fixture(scope="module")
def int8_dir(int8_models, tmp_path_factory):
    """A models folder of its own (compiled files are written beside the model) with the
    float and int8 full-range models only."""
    folder = tmp_path_factory.mktemp("models")
    for name in ("blazeface_full", "blazeface_full_int8"):
        shutil.copy(int8_models / modelfiles.model(name).file, folder)
    return folder


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
    assert not detector.edgetpu.in_use and "Failed to load delegate" in reason \
        and f"vision.edgetpu_device: {device}" in reason
    assert "1a6e:089a" in reason and "USB 3" in reason and "running face_detection_full_range_int8.tflite on the CPU" \
        in reason
    assert len(detector.detect(cv2.imread(str(samples / "multi_face.jpg")))) == 5


def test_model_level_edgetpu_on_an_uncompiled_model_loads_no_delegate(int8_dir):
    called = []
    model = Model(int8_dir / "face_detection_full_range_int8.tflite", num_threads=1, delegate="edgetpu",
                  load_delegate=lambda *args: called.append(args))
    assert called == [] and model.delegate == "none" and "not compiled for the Edge TPU" in str(model.edgetpu)
    assert model.delegated_partitions() == 1, "XNNPACK runs the whole int8 graph in one partition"
