"""Full-integer (int8) BlazeFace, derived from the pinned float model, reproducibly.

Why our own quantiser: the published BlazeFace files keep float16 weights behind
DEQUANTIZE ops and have no signature def; ai-edge-quantizer needs both patched first,
and its default static recipe then clipped the classifier logits (scores stuck at 0.61)
and left a model that XNNPACK ran far slower than the float one (docs/models.md). The graph uses
nine ops (CONV_2D, DEPTHWISE_CONV_2D, ADD, RELU, PAD, MAX_POOL_2D, RESIZE_BILINEAR,
RESHAPE, CONCATENATION), all with int8 kernels in TFLite, XNNPACK and the Edge TPU, so
the recipe is short enough to write over the flatbuffer schema LiteRT ships:

1. fold DEQUANTIZE: float16 weights become float32 constants;
2. fuse each RELU into the op before it (what TFLite's converter does; XNNPACK and the
   Edge TPU then run one op, and the int8 range of the result starts at 0);
3. calibrate: run the float model with TFLite's reference kernels (no XNNPACK, so every
   intermediate tensor is visible and the arithmetic is the same on every x86/ARM
   machine) on real frames from the pinned sample media, record each tensor's min/max;
4. quantise: activations int8 per tensor (asymmetric), weights int8 per output channel
   (symmetric, zero point 0, as TFLite requires), biases int32 at input x weight scale;
   ops that only move values (PAD, MAX_POOL_2D, RESHAPE, RESIZE_BILINEAR,
   CONCATENATION) share one scale between input and output, as their int8 kernels need.
   The output heads keep their own calibrated ranges: the classifier's logits are
   calibrated over (-LOGIT_RANGE, +LOGIT_RANGE) so scores between 0.5 and 0.99 stay
   resolved instead of being clipped.

Ranges are rounded outward to a coarse grid (RANGE_STEPS per power of two) so that
last-bit differences between machines cannot change the bytes: the result's sha256 is
pinned in models/models.yaml and checked like any fetched file (`signage.modelfiles.derive`;
this module is given paths and bytes, never the manifest).
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable

import cv2
import flatbuffers
import numpy as np

from signage.errors import ModelError
from signage.fields import IMAGE_SUFFIXES

logger = logging.getLogger(__name__)

RECIPE = "signage-int8-v1"  # change when the recipe changes: the pinned hashes follow it
RANGE_STEPS = 64  # range ends rounded outward to span / 64 (at most ~3% wider)
LOGIT_RANGE = 16.0  # classifier logits kept in [-16, 16]: sigmoid(±16) is 0 or 1 to 1e-7
VIDEO_EVERY = 15  # calibration takes every 15th frame of each sample video

# Ops whose int8 kernels need the output on the input's scale and zero point.
SAME_SCALE = {"PAD", "MAX_POOL_2D", "RESHAPE", "RESIZE_BILINEAR", "CONCATENATION"}
FUSABLE = {"CONV_2D", "DEPTHWISE_CONV_2D", "ADD"}
# Versions the TFLite converter writes for the int8 (per-channel) form of each op.
INT8_VERSIONS = {"CONV_2D": 3, "DEPTHWISE_CONV_2D": 3, "ADD": 2, "PAD": 2, "MAX_POOL_2D": 2,
                 "RESHAPE": 1, "RESIZE_BILINEAR": 2, "CONCATENATION": 2}
SUPPORTED = set(INT8_VERSIONS) | {"RELU", "DEQUANTIZE"}


def _schema():
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ModuleNotFoundError as exc:
        raise ModelError("quantising needs ai-edge-litert (its flatbuffer schema): pip install ai-edge-litert") from exc
    return schema


def _interpreter_module():
    from ai_edge_litert import interpreter
    return interpreter


@dataclass
class Graph:
    """The model as mutable objects, plus name lookups used below."""

    model: Any  # schema_py_generated.ModelT: LiteRT's generated schema has no types
    schema: Any  # the schema_py_generated module

    @property
    def subgraph(self):
        return self.model.subgraphs[0]

    def op_name(self, op) -> str:
        code = self.model.operatorCodes[op.opcodeIndex]
        number = max(code.builtinCode, code.deprecatedBuiltinCode)
        for name, value in vars(self.schema.BuiltinOperator).items():
            if value == number and not name.startswith("_"):
                return name
        return str(number)

    def buffer_array(self, tensor_index: int) -> np.ndarray | None:
        tensor = self.subgraph.tensors[tensor_index]
        data = self.model.buffers[tensor.buffer].data
        if data is None or len(data) == 0:
            return None
        dtype = {self.schema.TensorType.FLOAT32: np.float32, self.schema.TensorType.FLOAT16: np.float16,
                 self.schema.TensorType.INT32: np.int32, self.schema.TensorType.INT8: np.int8}[tensor.type]
        return np.frombuffer(np.asarray(data, np.uint8).tobytes(), dtype).reshape(tensor.shape)

    def constant_array(self, tensor_index: int) -> np.ndarray:
        """A convolution's weights or bias: data the model holds."""
        array = self.buffer_array(tensor_index)
        if array is None:
            raise ModelError(f"tensor {tensor_index} has no data in the model: the int8 recipe needs the weights "
                             "and bias of every convolution there")
        return array

    def set_buffer(self, tensor_index: int, array: np.ndarray, tensor_type: int) -> None:
        tensor = self.subgraph.tensors[tensor_index]
        buffer = self.schema.BufferT()
        buffer.data = np.frombuffer(np.ascontiguousarray(array).tobytes(), np.uint8)
        self.model.buffers.append(buffer)
        tensor.buffer = len(self.model.buffers) - 1
        tensor.type = tensor_type

    def consumers(self) -> dict[int, list]:
        found: dict[int, list] = {}
        for op in self.subgraph.operators:
            for index in op.inputs:
                if index >= 0:
                    found.setdefault(index, []).append(op)
        return found

    def to_bytes(self) -> bytes:
        builder = flatbuffers.Builder(1 << 20)
        builder.Finish(self.model.Pack(builder), file_identifier=b"TFL3")
        return bytes(builder.Output())


def load(model_bytes: bytes) -> Graph:
    schema = _schema()
    model = schema.ModelT.InitFromObj(schema.Model.GetRootAs(model_bytes, 0))
    if len(model.subgraphs) != 1:
        raise ModelError(f"expected one subgraph, found {len(model.subgraphs)}")
    graph = Graph(model, schema)
    unknown = {graph.op_name(op) for op in graph.subgraph.operators} - SUPPORTED
    if unknown:
        raise ModelError(f"the int8 recipe does not know the ops {', '.join(sorted(unknown))}")
    return graph


def fold_dequantize(graph: Graph) -> None:
    """Replace DEQUANTIZE(float16 constant) by the float32 constant it produces."""
    kept = []
    for op in graph.subgraph.operators:
        if graph.op_name(op) == "DEQUANTIZE":
            values = graph.buffer_array(op.inputs[0])
            if values is None:
                raise ModelError("DEQUANTIZE of a non-constant tensor: not a weight, cannot fold it")
            graph.set_buffer(op.outputs[0], values.astype(np.float32), graph.schema.TensorType.FLOAT32)
            continue
        kept.append(op)
    graph.subgraph.operators = kept


def fuse_relu(graph: Graph) -> None:
    """RELU after CONV_2D / DEPTHWISE_CONV_2D / ADD becomes that op's fused activation,
    when nothing else reads the value before the RELU."""
    consumers = graph.consumers()
    producer = {op.outputs[0]: op for op in graph.subgraph.operators}
    outputs = set(graph.subgraph.outputs)
    kept = []
    removed = set()
    for op in graph.subgraph.operators:
        if graph.op_name(op) == "RELU":
            before = producer.get(op.inputs[0])
            if (before is not None and graph.op_name(before) in FUSABLE and op.inputs[0] not in outputs
                    and len(consumers.get(op.inputs[0], [])) == 1
                    and before.builtinOptions.fusedActivationFunction == graph.schema.ActivationFunctionType.NONE):
                before.builtinOptions.fusedActivationFunction = graph.schema.ActivationFunctionType.RELU
                before.outputs = [op.outputs[0]]
                removed.add(id(op))
                continue
        kept.append(op)
    graph.subgraph.operators = [op for op in kept if id(op) not in removed]


def compact(graph: Graph) -> None:
    """Drop tensors and buffers nothing refers to any more (the float16 weights)."""
    sub = graph.subgraph
    used = sorted({i for op in sub.operators for i in list(op.inputs) + list(op.outputs) if i >= 0}
                  | set(sub.inputs) | set(sub.outputs))
    remap = {old: new for new, old in enumerate(used)}
    sub.tensors = [sub.tensors[i] for i in used]
    for op in sub.operators:
        op.inputs = [remap[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
    sub.inputs = [remap[i] for i in sub.inputs]
    sub.outputs = [remap[i] for i in sub.outputs]
    buffers = [graph.model.buffers[0]]  # buffer 0 stays the empty sentinel
    for tensor in sub.tensors:
        if tensor.buffer:
            buffers.append(graph.model.buffers[tensor.buffer])
            tensor.buffer = len(buffers) - 1
    graph.model.buffers = buffers
    graph.model.metadata = None  # pointed at buffers by index; the MediaPipe metadata is float-only
    graph.model.signatureDefs = None


def prepare_float(model_bytes: bytes) -> bytes:
    """The float model with weights folded to float32 and RELUs fused: same results,
    the graph the int8 model is made from (and calibrated on)."""
    graph = load(model_bytes)
    fold_dequantize(graph)
    fuse_relu(graph)
    compact(graph)
    return graph.to_bytes()


# ----- calibration -----------------------------------------------------------------------


def calibration_frames(paths: Iterable[Path]) -> list[np.ndarray]:
    """Real frames from the pinned sample media, in name order: every still, and every
    VIDEO_EVERY-th frame of every video (faces, no faces, the cartoon)."""
    frames = []
    for path in sorted(paths, key=lambda p: p.name):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            image = cv2.imread(str(path), cv2.IMREAD_COLOR)
            if image is not None:
                frames.append(image)
        else:
            capture = cv2.VideoCapture(str(path))
            index = 0
            while True:
                ok, image = capture.read()
                if not ok:
                    break
                if index % VIDEO_EVERY == 0:
                    frames.append(image)
                index += 1
            capture.release()
    if not frames:
        raise ModelError("no calibration frames: run `signage models fetch --samples`")
    return frames


def calibrate(float_bytes: bytes, inputs: Iterable[np.ndarray]) -> dict[int, tuple[float, float]]:
    """Min and max of every non-constant tensor over the inputs, on reference kernels."""
    module = _interpreter_module()
    interpreter = module.Interpreter(
        model_content=float_bytes, num_threads=1, experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=module.OpResolverType.BUILTIN_REF)
    interpreter.allocate_tensors()
    graph = load(float_bytes)
    variable = [i for i, t in enumerate(graph.subgraph.tensors)
                if not t.buffer or graph.model.buffers[t.buffer].data is None]
    input_index = interpreter.get_input_details()[0]["index"]
    lows = {i: math.inf for i in variable}
    highs = {i: -math.inf for i in variable}
    for tensor in inputs:
        interpreter.set_tensor(input_index, tensor.astype(np.float32))
        interpreter.invoke()
        for i in variable:
            values = interpreter.get_tensor(i)
            lows[i] = min(lows[i], float(values.min()))
            highs[i] = max(highs[i], float(values.max()))
    return {i: (lows[i], highs[i]) for i in variable}


def _rounded(low: float, high: float) -> tuple[float, float]:
    """The range widened to include 0 and rounded outward to the grid."""
    low, high = min(low, 0.0), max(high, 0.0)
    span = max(high - low, 1e-6)
    step = 2.0 ** (math.floor(math.log2(span)) - int(math.log2(RANGE_STEPS)))
    return math.floor(low / step) * step, math.ceil(high / step) * step


def _int8_params(low: float, high: float) -> tuple[float, int]:
    scale = (high - low) / 255.0
    zero_point = int(np.clip(round(-128 - low / scale), -128, 127))
    return scale, zero_point


# ----- quantisation ----------------------------------------------------------------------


class _Groups:
    """Union-find over tensors that must share int8 parameters."""

    def __init__(self):
        self.parent: dict[int, int] = {}

    def find(self, i: int) -> int:
        self.parent.setdefault(i, i)
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def join(self, a: int, b: int) -> None:
        self.parent[self.find(a)] = self.find(b)


def quantize(float_bytes: bytes, ranges: dict[int, tuple[float, float]], classifier_output: int | None) -> bytes:
    """The int8 model of a prepared float model (see prepare_float) given its ranges."""
    graph = load(float_bytes)
    schema, sub = graph.schema, graph.subgraph
    T = schema.TensorType
    input_index = sub.inputs[0]
    groups = _Groups()
    for op in sub.operators:
        name = graph.op_name(op)
        if name in SAME_SCALE:
            for i in op.inputs[:1] if name != "CONCATENATION" else op.inputs:
                groups.join(i, op.outputs[0])
    group_range: dict[int, tuple[float, float]] = {}
    for index, (low, high) in ranges.items():
        root = groups.find(index)
        old = group_range.get(root, (math.inf, -math.inf))
        group_range[root] = (min(old[0], low), max(old[1], high))
    params = {index: _int8_params(*_rounded(*group_range[groups.find(index)])) for index in ranges}
    # Fixed ranges, not calibrated ones, where the meaning of the values is known:
    # logits keep 0.5..0.99 resolved (and everything sharing their scale with them);
    # the input is pixels: x = q / 127.5 with q = pixel - 128.
    fixed = {}
    if classifier_output is not None:
        fixed[groups.find(classifier_output)] = _int8_params(-LOGIT_RANGE, LOGIT_RANGE)
    fixed[groups.find(input_index)] = (1.0 / 127.5, 0)
    for index in params:
        params[index] = fixed.get(groups.find(index), params[index])

    def set_quant(index: int, scales, zero_points, dimension: int = 0) -> None:
        q = schema.QuantizationParametersT()
        q.scale = [float(s) for s in np.atleast_1d(scales)]
        q.zeroPoint = [int(z) for z in np.atleast_1d(zero_points)]
        q.quantizedDimension = dimension
        sub.tensors[index].quantization = q

    for index, (scale, zero_point) in params.items():
        sub.tensors[index].type = T.INT8
        set_quant(index, scale, zero_point)

    for op in sub.operators:
        name = graph.op_name(op)
        if name not in ("CONV_2D", "DEPTHWISE_CONV_2D"):
            continue
        weights = graph.constant_array(op.inputs[1]).astype(np.float64)
        axis = 0 if name == "CONV_2D" else 3
        reduce_axes = tuple(a for a in range(weights.ndim) if a != axis)
        w_scale = np.abs(weights).max(axis=reduce_axes) / 127.0
        w_scale = np.where(w_scale > 0, w_scale, 1.0).astype(np.float32)
        shape = [1] * weights.ndim
        shape[axis] = -1
        q_weights = np.clip(np.round(weights / w_scale.reshape(shape)), -127, 127).astype(np.int8)
        graph.set_buffer(op.inputs[1], q_weights, T.INT8)
        set_quant(op.inputs[1], w_scale, np.zeros_like(w_scale, np.int64), axis)
        if len(op.inputs) > 2 and op.inputs[2] >= 0:
            bias = graph.constant_array(op.inputs[2]).astype(np.float64)
            b_scale = params[op.inputs[0]][0] * w_scale.astype(np.float64)
            q_bias = np.clip(np.round(bias / b_scale), -2**31, 2**31 - 1).astype(np.int32)
            graph.set_buffer(op.inputs[2], q_bias, T.INT32)
            set_quant(op.inputs[2], b_scale, np.zeros_like(b_scale, np.int64), 0)

    for code in graph.model.operatorCodes:
        for name, version in INT8_VERSIONS.items():
            if max(code.builtinCode, code.deprecatedBuiltinCode) == getattr(schema.BuiltinOperator, name):
                code.version = max(code.version, version)
    compact(graph)
    return graph.to_bytes()


def classifier_output_index(graph_bytes: bytes) -> int:
    """The output with one value per anchor (the score logits)."""
    graph = load(graph_bytes)
    for index in graph.subgraph.outputs:
        if graph.subgraph.tensors[index].shape[-1] == 1:
            return index
    raise ModelError("no classifier output (one value per anchor) in the model")


def input_size(model_bytes: bytes) -> int:
    graph = load(model_bytes)
    return int(graph.subgraph.tensors[graph.subgraph.inputs[0]].shape[1])


def make_int8(float_model: bytes, frames: list[np.ndarray]) -> bytes:
    """The whole recipe: prepare, calibrate on the letterboxed frames, quantise."""
    from signage.vision.blazeface import letterbox

    prepared = prepare_float(float_model)
    size = input_size(prepared)
    ranges = calibrate(prepared, [letterbox(frame, size)[0] for frame in frames])
    return quantize(prepared, ranges, classifier_output_index(prepared))


def int8_maker(samples: list[Path]) -> Callable[[Path], bytes]:
    """`make` for the model manifest's derive: the float model file in, int8 bytes out,
    calibrated on frames of `samples` (read once, on the first model made)."""
    frames: list[np.ndarray] = []

    def make(float_model: Path) -> bytes:
        if not frames:
            frames.extend(calibration_frames(samples))
        return make_int8(float_model.read_bytes(), frames)

    return make
