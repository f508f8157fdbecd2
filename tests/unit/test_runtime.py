import numpy as np
import pytest
from ai_edge_litert import schema_py_generated as schema

from signage.errors import ModelError
from signage.vision.runtime import Model
from tests.support.tflite import as_compiled, requantise_model


def test_int8_model_takes_and_returns_floats():
    model = Model(requantise_model(), num_threads=1)
    (out,) = model.run(np.array([[1.0, -2.0, 3.5, 10.0]], np.float32))
    assert out.dtype == np.float32
    assert np.allclose(out, [[1.0, -2.0, 3.5, 10.0]])


def test_int8_input_is_saturated_not_wrapped():
    model = Model(requantise_model(), num_threads=1)
    (out,) = model.run(np.array([[1000.0, -1000.0, 0.0, 0.0]], np.float32))
    # int8 input holds at most (127 - 3) * 0.5 = 62; the output at most (127 + 2) * 0.25.
    assert out[0, 0] == pytest.approx(32.25) and out[0, 1] < 0


def test_uint8_model_is_handled_too():
    model = Model(requantise_model(in_zero=128, out_zero=128, dtype=schema.TensorType.UINT8), num_threads=1)
    (out,) = model.run(np.array([[1.0, -2.0, 3.5, 10.0]], np.float32))
    assert np.allclose(out, [[1.0, -2.0, 3.5, 10.0]])


def test_edgetpu_with_an_uncompiled_model_runs_on_the_cpu_and_says_why():
    model = Model(requantise_model(), num_threads=1, delegate="edgetpu")
    assert model.delegate == "none" and model.edgetpu.requested and not model.edgetpu.in_use
    assert "not compiled for the Edge TPU" in str(model.edgetpu)
    assert np.allclose(model.run(np.ones((1, 4), np.float32))[0], 1.0)


def test_compiled_model_without_libedgetpu_is_a_model_error_that_says_what_to_check():
    compiled = as_compiled(requantise_model())  # a model that edgetpu_compiler has been over
    with pytest.raises(ModelError, match="needs the Edge TPU, which could not be opened") as caught:
        Model(compiled, num_threads=1, delegate="edgetpu", device="usb")
    assert "libedgetpu.so.1" in str(caught.value) and "vision.edgetpu_device: usb" in str(caught.value)


def test_a_file_that_is_not_a_model_is_a_model_error(tmp_path):
    broken = tmp_path / "broken.tflite"
    broken.write_bytes(b"this is not a flatbuffer")
    with pytest.raises(ModelError, match="cannot load model broken.tflite"):
        Model(broken)


CORTEX_A72 = "processor\t: 0\nBogoMIPS\t: 108.00\nFeatures\t: fp asimd evtstrm crc32 cpuid\nCPU part\t: 0xd08\n"
CORTEX_A76 = "processor\t: 0\nFeatures\t: fp asimd evtstrm aes pmull sha1 sha2 crc32 atomics fphp asimdhp cpuid " \
             "asimdrdm lrcpc dcpop asimddp\nCPU part\t: 0xd0b\n"


@pytest.mark.parametrize("cpuinfo, machine, lacking", [
    (CORTEX_A72, "aarch64", True),  # Raspberry Pi 4
    (CORTEX_A72 * 4, "aarch64", True),
    (CORTEX_A76, "aarch64", False),  # Raspberry Pi 5
    ("processor\t: 0\nflags\t\t: fpu sse2 avx2\n", "x86_64", False),
    ("", "aarch64", False),  # nothing to tell from: the import decides
])
def test_a_cpu_without_armv8_1_atomics_is_told_before_mediapipe_is_loaded(tmp_path, cpuinfo, machine, lacking):
    from signage.vision.mediapipe import lacks_atomics

    (tmp_path / "cpuinfo").write_text(cpuinfo)
    assert lacks_atomics(tmp_path / "cpuinfo", machine) is lacking
    assert lacks_atomics(tmp_path / "absent", machine) is False


def test_the_mediapipe_backend_refuses_such_a_cpu_with_what_to_set_instead(monkeypatch, tmp_path):
    from signage.vision import mediapipe

    monkeypatch.setattr(mediapipe, "lacks_atomics", lambda: True)
    with pytest.raises(ModelError, match="ARMv8.1 atomics, .* set vision.backend: litert"):
        mediapipe.MediaPipeDetector(tmp_path / "model.tflite")
