"""Writes small ONNX models for Malt's ONNX runtime tests and prints, as JSON, the inputs the
tests feed them and the outputs numpy computes for those inputs (an independent reference).

Usage: make_onnx_model.py OUT_DIR
Writes OUT_DIR/<name>/model.onnx for each model below; prints {name: {"inputs": {...}, "outputs": {...}}}.
- mlp:   features FP32 [batch, 4] -> Gemm -> Relu -> Gemm -> Softmax -> probabilities FP32 [batch, 3]
- int64: ids INT64 [batch, 3] -> doubled INT64 (ids * 2), positive BOOL (ids > 0),
         score FP64 [batch, 1] (float64(ids) @ w)
- fp16:  half FP16 [batch, 2] -> scaled FP16 (half * [0.5, 3])
"""
import json
import os
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 13
# IR version 8 is what opset 13 shipped with; every ONNX Runtime since 1.10 reads it.
IR_VERSION = 8


def save(out_dir, name, graph):
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="malt-tests")
    model.ir_version = IR_VERSION
    onnx.checker.check_model(model)
    os.makedirs(os.path.join(out_dir, name), exist_ok=True)
    onnx.save(model, os.path.join(out_dir, name, "model.onnx"))


def mlp(out_dir, rng):
    w1 = rng.normal(0, 0.5, (4, 8)).astype(np.float32)
    b1 = rng.normal(0, 0.1, (8,)).astype(np.float32)
    w2 = rng.normal(0, 0.5, (8, 3)).astype(np.float32)
    b2 = rng.normal(0, 0.1, (3,)).astype(np.float32)
    graph = helper.make_graph(
        [
            helper.make_node("Gemm", ["features", "w1", "b1"], ["hidden"]),
            helper.make_node("Relu", ["hidden"], ["activated"]),
            helper.make_node("Gemm", ["activated", "w2", "b2"], ["logits"]),
            helper.make_node("Softmax", ["logits"], ["probabilities"], axis=1),
        ],
        "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["batch", 4])],
        [helper.make_tensor_value_info("probabilities", TensorProto.FLOAT, ["batch", 3])],
        [numpy_helper.from_array(w1, "w1"), numpy_helper.from_array(b1, "b1"), numpy_helper.from_array(w2, "w2"), numpy_helper.from_array(b2, "b2")],
    )
    save(out_dir, "mlp", graph)
    features = rng.normal(0, 1, (5, 4)).astype(np.float32)
    # The reference in float64 from the same float32 weights: ORT's float32 result is within 1e-6 of it.
    x = features.astype(np.float64)
    logits = np.maximum(x @ w1 + b1, 0) @ w2 + b2
    exp = np.exp(logits - logits.max(axis=1, keepdims=True))
    probabilities = exp / exp.sum(axis=1, keepdims=True)
    return {"inputs": {"features": features.tolist()}, "outputs": {"probabilities": probabilities.tolist()}}


def int64(out_dir, rng):
    w = rng.normal(0, 1, (3, 1)).astype(np.float64)
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["ids", "two"], ["doubled"]),
            helper.make_node("Greater", ["ids", "zero"], ["positive"]),
            helper.make_node("Cast", ["ids"], ["ids_f64"], to=TensorProto.DOUBLE),
            helper.make_node("MatMul", ["ids_f64", "w"], ["score"]),
        ],
        "int64",
        [helper.make_tensor_value_info("ids", TensorProto.INT64, ["batch", 3])],
        [
            helper.make_tensor_value_info("doubled", TensorProto.INT64, ["batch", 3]),
            helper.make_tensor_value_info("positive", TensorProto.BOOL, ["batch", 3]),
            helper.make_tensor_value_info("score", TensorProto.DOUBLE, ["batch", 1]),
        ],
        [numpy_helper.from_array(np.array(2, np.int64), "two"), numpy_helper.from_array(np.array(0, np.int64), "zero"), numpy_helper.from_array(w, "w")],
    )
    save(out_dir, "int64", graph)
    # 3e9 and -4e9 do not fit in int32: a runtime that narrows INT64 gets them wrong.
    ids = np.array([[1, -2, 3], [3_000_000_000, 0, -7], [-4_000_000_000, 5, 6]], dtype=np.int64)
    return {
        "inputs": {"ids": ids.tolist()},
        "outputs": {"doubled": (ids * 2).tolist(), "positive": (ids > 0).tolist(), "score": (ids.astype(np.float64) @ w).tolist()},
    }


def fp16(out_dir, _rng):
    factors = np.array([0.5, 3.0], dtype=np.float16)
    graph = helper.make_graph(
        [helper.make_node("Mul", ["half", "factors"], ["scaled"])],
        "fp16",
        [helper.make_tensor_value_info("half", TensorProto.FLOAT16, ["batch", 2])],
        [helper.make_tensor_value_info("scaled", TensorProto.FLOAT16, ["batch", 2])],
        [numpy_helper.from_array(factors, "factors")],
    )
    save(out_dir, "fp16", graph)
    # Values that halves cannot hold exactly (0.1, 1000.1) and a subnormal (1e-6): the runtime's
    # float32 -> half rounding must agree with numpy's.
    sent = [[1.5, -2.25], [0.1, 1000.1], [1e-6, -3.3]]
    half = np.array(sent, dtype=np.float32).astype(np.float16)
    return {"inputs": {"half": sent}, "outputs": {"scaled": (half * factors).astype(np.float32).tolist()}}


def main():
    out_dir = sys.argv[1]
    rng = np.random.default_rng(20240531)
    print(json.dumps({"mlp": mlp(out_dir, rng), "int64": int64(out_dir, rng), "fp16": fp16(out_dir, rng)}))


if __name__ == "__main__":
    main()
