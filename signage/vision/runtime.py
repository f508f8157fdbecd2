"""The one place that imports a TFLite interpreter: LiteRT, else tflite-runtime.

`Model` wraps an interpreter so callers pass and get float arrays whatever the
model's tensor types: int8/uint8 inputs are quantised and outputs dequantised
with the scale and zero point stored in the model.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Literal

import numpy as np

from signage.errors import ModelError

logger = logging.getLogger(__name__)

Delegate = Literal["none", "edgetpu"]
EDGETPU_LIBRARY = "libedgetpu.so.1"


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


def _edgetpu_delegates(module) -> list:
    try:
        return [module.load_delegate(EDGETPU_LIBRARY)]
    except (ValueError, OSError, RuntimeError) as exc:
        logger.warning(
            "delegate edgetpu needs %s, which could not be loaded (%s); running on the CPU."
            " Install libedgetpu1-std or set vision.delegate: none",
            EDGETPU_LIBRARY, exc,
        )
        return []


class Model:
    """A loaded .tflite model with float-in, float-out `run`."""

    def __init__(self, source: Path | bytes, num_threads: int = 2, delegate: Delegate = "none",
                 batch: int | None = None):
        module = _interpreter_module()
        delegates = _edgetpu_delegates(module) if delegate == "edgetpu" else []
        self.delegate: Delegate = "edgetpu" if delegates else "none"
        self.name = source.name if isinstance(source, Path) else "<memory>"
        try:
            if isinstance(source, Path):
                self._interpreter = module.Interpreter(
                    model_path=str(source), num_threads=num_threads,
                    experimental_delegates=delegates or None,
                )
            else:
                self._interpreter = module.Interpreter(
                    model_content=source, num_threads=num_threads,
                    experimental_delegates=delegates or None,
                )
            self._interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load model {self.name}: {exc}") from exc
        self._input = self._interpreter.get_input_details()[0]
        self._outputs = self._interpreter.get_output_details()
        self._batch = int(self._input["shape"][0])
        if batch is not None:
            self._set_batch(batch)

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

    def invoke_ms(self, batch: np.ndarray) -> float:
        """Milliseconds of the bare set-input + invoke, for `signage bench`."""
        self._set_batch(batch.shape[0])
        quantised = _quantise(batch, self._input)
        start = time.perf_counter()
        self._interpreter.set_tensor(self._input["index"], quantised)
        self._interpreter.invoke()
        return (time.perf_counter() - start) * 1000


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
