"""The int8 recipe's steps on the real BlazeFace models."""

import numpy as np
import pytest

from signage import modelfiles
from signage.errors import ModelError
from signage.vision import quantize
from signage.vision.runtime import Model


@pytest.mark.parametrize("name", ["blazeface_full", "blazeface_short"])
def test_folding_and_fusing_change_no_result(models_dir, name):
    original = (models_dir / modelfiles.model(name).file).read_bytes()
    prepared = quantize.prepare_float(original)
    graph = quantize.load(prepared)
    ops = {graph.op_name(op) for op in graph.subgraph.operators}
    assert "DEQUANTIZE" not in ops and "RELU" not in ops, "weights folded, every RELU fused"
    size = quantize.input_size(original)
    batch = np.random.default_rng(0).uniform(-1, 1, (1, size, size, 3)).astype(np.float32)
    for before, after in zip(Model(original, num_threads=1).run(batch), Model(prepared, num_threads=1).run(batch)):
        assert np.allclose(before, after, atol=1e-3)


def test_int8_model_is_integer_inside_and_keeps_the_logit_range(int8_models):
    asset = modelfiles.derived()["blazeface_full_int8"]
    graph = quantize.load((int8_models / asset.file).read_bytes())
    schema = graph.schema
    types = {graph.subgraph.tensors[i].type for op in graph.subgraph.operators for i in op.inputs if i >= 0}
    assert types <= {schema.TensorType.INT8, schema.TensorType.INT32}, "no float tensor left"
    logits = graph.subgraph.tensors[quantize.classifier_output_index((int8_models / asset.file).read_bytes())]
    scale, zero = logits.quantization.scale[0], logits.quantization.zeroPoint[0]
    assert (127 - zero) * scale == pytest.approx(quantize.LOGIT_RANGE, rel=0.01)


def test_an_unknown_op_is_refused_by_name(models_dir):
    emotion = (models_dir / modelfiles.model("fer_mini_xception").file).read_bytes()
    with pytest.raises(ModelError, match="does not know the ops"):
        quantize.load(emotion)
