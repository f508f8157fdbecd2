"""Tiny TFLite models built in the test, so a test of how models are told apart and
loaded needs neither a converter nor the real (slow to make) int8 models."""

from __future__ import annotations

import flatbuffers
from ai_edge_litert import schema_py_generated as schema

from signage.vision.runtime import EDGETPU_OP


def requantise_model(in_scale=0.5, in_zero=3, out_scale=0.25, out_zero=-2, dtype=schema.TensorType.INT8) -> bytes:
    """A one-op TFLite model with quantised input and output (QUANTIZE requantises)."""
    def tensor(name, buffer, scale, zero):
        t = schema.TensorT()
        t.name, t.shape, t.type, t.buffer = name, [1, 4], dtype, buffer
        t.quantization = schema.QuantizationParametersT()
        t.quantization.scale, t.quantization.zeroPoint = [scale], [zero]
        return t

    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.QUANTIZE
    code.version = 1
    op = schema.OperatorT()
    op.opcodeIndex, op.inputs, op.outputs = 0, [0], [1]
    graph = schema.SubGraphT()
    graph.tensors = [tensor("in", 1, in_scale, in_zero), tensor("out", 2, out_scale, out_zero)]
    graph.inputs, graph.outputs, graph.operators = [0], [1], [op]
    model = schema.ModelT()
    model.version, model.operatorCodes, model.subgraphs = 3, [code], [graph]
    model.buffers = [schema.BufferT() for _ in range(3)]
    builder = flatbuffers.Builder(0)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


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
