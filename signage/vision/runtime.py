"""The one place that imports a TFLite interpreter: LiteRT, else tflite-runtime.

`Model` wraps an interpreter so callers pass and get float arrays whatever the
model's tensor types: int8/uint8 inputs are quantised and outputs dequantised
with the scale and zero point stored in the model.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Literal

import numpy as np

from signage.errors import ModelError

logger = logging.getLogger(__name__)

Delegate = Literal["none", "edgetpu"]
EDGETPU_LIBRARY = "libedgetpu.so.1"
EDGETPU_OP = b"edgetpu-custom-op"  # what edgetpu_compiler puts in place of the ops it maps
EDGETPU_HELP = ("check: libedgetpu1-std (or -max) installed from Coral's apt repository and built for this"
                " LiteRT version; the USB accelerator plugged into a USB 3 port (USB 2 is slow and some ports"
                " cannot power it) and readable by this user (udev rule for 1a6e:089a and 18d1:9302);"
                " for PCIe/M.2, the gasket/apex driver loaded and /dev/apex_0 present")


def _interpreter_module():
    """ai_edge_litert is the maintained runtime; tflite_runtime is the older wheel
    some Raspberry Pi images ship (and the only one on Python < 3.12 for armv7)."""
    try:
        from ai_edge_litert import interpreter
    except ModuleNotFoundError:
        try:
            from tflite_runtime import interpreter
        except ModuleNotFoundError as exc:
            raise ModelError(
                "no TFLite interpreter installed: pip install ai-edge-litert"
                " (or tflite-runtime on Python < 3.12)"
            ) from exc
    return interpreter


@dataclass(frozen=True)
class EdgeTpu:
    """Whether a model runs on the Edge TPU and, if not, why (for logs and status)."""

    requested: bool
    in_use: bool = False
    reason: str = ""

    def __str__(self) -> str:
        if not self.requested:
            return "not requested"
        return f"in use ({self.reason})" if self.in_use else f"not in use: {self.reason}"


def compiled_for_edgetpu(model: bytes) -> bool:
    """True when edgetpu_compiler mapped (some of) the model to the Edge TPU: its ops
    then sit inside a custom op only libedgetpu can run."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ModuleNotFoundError:  # tflite-runtime ships no schema: look for the op's name
        return EDGETPU_OP in model
    try:
        root = schema.Model.GetRootAs(model, 0)
        return any(root.OperatorCodes(i).CustomCode() == EDGETPU_OP for i in range(root.OperatorCodesLength()))
    except Exception:  # not a flatbuffer: the interpreter says so with a better message
        return False


def edgetpu_options(device: str) -> dict[str, str]:
    """libedgetpu's delegate options: {"device": "usb" | "usb:N" | "pci" | "pci:N"}, none for auto."""
    return {} if device == "auto" else {"device": device}


class Model:
    """A loaded .tflite model with float-in, float-out `run`.

    With delegate "edgetpu" the model must be compiled for the Edge TPU; a model that is
    not (a float model, or our int8 model before edgetpu_compiler) runs on the CPU and
    `edgetpu` says why, instead of a delegate that silently leaves every op on the CPU.
    `load_delegate` is the interpreter module's; tests pass one with its interface."""

    def __init__(self, source: Path | bytes, num_threads: int = 2, delegate: Delegate = "none",
                 batch: int | None = None, device: str = "auto",
                 load_delegate: Callable[..., object] | None = None):
        module = _interpreter_module()
        self.name = source.name if isinstance(source, Path) else "<memory>"
        if isinstance(source, Path):
            try:
                content = source.read_bytes()
            except OSError as exc:
                raise ModelError(f"cannot read model {source}: {exc}") from exc
        else:
            content = source
        delegates = []
        self.edgetpu = EdgeTpu(requested=delegate == "edgetpu")
        if delegate == "edgetpu":
            if not compiled_for_edgetpu(content):
                self.edgetpu = EdgeTpu(True, False, f"{self.name} is not compiled for the Edge TPU (it has no"
                                       f" {EDGETPU_OP.decode()}), so it runs on the CPU")
            else:
                failure = None
                try:
                    delegates = [(load_delegate or module.load_delegate)(EDGETPU_LIBRARY, edgetpu_options(device))]
                except (ValueError, OSError, RuntimeError) as exc:
                    # Only the text: the traceback would keep LiteRT's half-made Delegate alive,
                    # and its __del__ then fails later at some random garbage collection.
                    failure = str(exc).strip()
                if failure is not None:
                    raise ModelError(f"{self.name} needs the Edge TPU, which could not be opened"
                                     f" (vision.edgetpu_device: {device}): {failure}; {EDGETPU_HELP}")
                self.edgetpu = EdgeTpu(True, True, f"{self.name} on device {device}")
        self.delegate: Delegate = "edgetpu" if delegates else "none"
        try:
            self._interpreter = module.Interpreter(
                model_content=content, num_threads=num_threads, experimental_delegates=delegates or None)
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load model {self.name}: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._interpreter.get_output_details()
        self._batch = int(self._input["shape"][0])
        if batch is not None:
            self._set_batch(batch)

    def delegated_partitions(self) -> int:
        """How many delegate kernels (XNNPACK or Edge TPU) the graph was split into:
        1 means one delegate runs the whole graph, 0 that every op runs on TFLite's own."""
        ops = self._interpreter._get_ops_details()  # the only place LiteRT lists its nodes
        return sum(1 for op in ops if op["op_name"] == "DELEGATE")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(int(d) for d in self._input["shape"])

    def _set_batch(self, batch: int) -> None:
        """Resize the input's first dimension; re-allocates only when it changes."""
        if batch == self._batch:
            return
        shape = list(self.input_shape)
        shape[0] = batch
        self._interpreter.resize_tensor_input(self._input["index"], shape)
        self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._interpreter.get_output_details()
        self._batch = batch

    def run(self, batch: np.ndarray) -> list[np.ndarray]:
        """Invoke on a float32 batch shaped like the input; returns float32 outputs."""
        self._set_batch(batch.shape[0])
        self._interpreter.set_tensor(self._input["index"], _quantise(batch, self._input))
        self._interpreter.invoke()
        return [_dequantise(self._interpreter.get_tensor(d["index"]), d) for d in self._outputs]


def _quantise(values: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if dtype == np.float32:
        return np.ascontiguousarray(values, dtype=np.float32)
    scale, zero_point = detail["quantization"]
    if not scale:
        raise ModelError(f"input tensor {detail['name']} is {np.dtype(dtype).name} without quantisation parameters")
    info = np.iinfo(dtype)
    quantised = np.round(values / scale) + zero_point
    return np.clip(quantised, info.min, info.max).astype(dtype)


def _dequantise(values: np.ndarray, detail: dict) -> np.ndarray:
    if values.dtype == np.float32:
        return values.copy()  # the interpreter reuses its buffers on the next invoke
    scale, zero_point = detail["quantization"]
    if not scale:
        return values.astype(np.float32)
    return (values.astype(np.float32) - zero_point) * scale
