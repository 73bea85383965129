"""`edge models convert-speaker`: Resemblyzer's speaker encoder (a GE2E d-vector model: three LSTM layers
of 256 over 40 mel bands, a linear layer, ReLU and L2 normalisation) from its PyTorch checkpoint to ONNX,
written with the onnx package's helpers and read by onnxruntime like the VAD.

PyTorch's LSTM orders its gates input, forget, cell, output; ONNX's LSTM input, output, forget, cell.
The two biases stay separate (ONNX takes Wb and Rb side by side). The model's metadata names the
features it expects, which `edge.speaker.features` computes.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

import numpy as np

from edge.core.errors import ModelError
from edge.ops.model_fetch import sha256_of
from edge.ops.onnx_graph import onnx_module
from edge.ops.torch_checkpoint import read_legacy_checkpoint

N_MELS = 40
HIDDEN = 256
LAYERS = 3
OPSET = 17
# Resemblyzer's features: power mel spectrogram, 25 ms Hann windows every 10 ms, no logarithm.
FEATURES = "resemblyzer-power-mel-40"
TORCH_TO_ONNX_GATES = (0, 3, 1, 2)  # i, f, g, o -> i, o, f, c


def _gates(weight: np.ndarray) -> np.ndarray:
    blocks = np.split(weight, 4, axis=0)
    return np.concatenate([blocks[i] for i in TORCH_TO_ONNX_GATES], axis=0)


def _state(checkpoint: dict[str, Any], source: Path) -> dict[str, np.ndarray]:
    state = checkpoint.get("model_state", checkpoint)
    expected = {
        **{f"lstm.weight_ih_l{n}": (4 * HIDDEN, N_MELS if n == 0 else HIDDEN) for n in range(LAYERS)},
        **{f"lstm.weight_hh_l{n}": (4 * HIDDEN, HIDDEN) for n in range(LAYERS)},
        **{f"lstm.bias_{kind}_l{n}": (4 * HIDDEN,) for kind in ("ih", "hh") for n in range(LAYERS)},
        "linear.weight": (HIDDEN, HIDDEN),
        "linear.bias": (HIDDEN,),
    }
    for name, shape in expected.items():
        tensor = state.get(name) if isinstance(state, dict) else None
        if not isinstance(tensor, np.ndarray) or tensor.shape != shape:
            found = "missing" if tensor is None else f"shape {getattr(tensor, 'shape', type(tensor).__name__)}"
            raise ModelError(f"{source} is not Resemblyzer's voice encoder: {name} is {found}, expected shape {shape}")
    return {name: state[name].astype(np.float32) for name in expected}


def build_speaker_onnx(state: dict[str, np.ndarray], *, source_sha256: str) -> Any:
    """The ONNX model: mels [batch, frames, 40] -> embedding [batch, 256], unit length."""
    onnx = onnx_module()
    helper, numpy_helper = onnx.helper, onnx.numpy_helper
    initializers = []
    nodes = [helper.make_node("Transpose", ["mels"], ["x0"], perm=[1, 0, 2])]  # time major
    for n in range(LAYERS):
        w = _gates(state[f"lstm.weight_ih_l{n}"])[np.newaxis]
        r = _gates(state[f"lstm.weight_hh_l{n}"])[np.newaxis]
        b = np.concatenate([_gates(state[f"lstm.bias_ih_l{n}"]), _gates(state[f"lstm.bias_hh_l{n}"])])[np.newaxis]
        initializers += [numpy_helper.from_array(a, f"{name}{n}") for a, name in ((w, "W"), (r, "R"), (b, "B"))]
        nodes.append(
            helper.make_node(
                "LSTM", [f"x{n}", f"W{n}", f"R{n}", f"B{n}"], [f"y{n}", f"h{n}"], hidden_size=HIDDEN, name=f"lstm{n}"
            )
        )
        # Y is [time, directions, batch, hidden]: the next layer takes it without the direction axis.
        nodes.append(helper.make_node("Squeeze", [f"y{n}", "axis1"], [f"x{n + 1}"]))
    initializers += [
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
        numpy_helper.from_array(np.array([0], dtype=np.int64), "axis0"),
        numpy_helper.from_array(np.ascontiguousarray(state["linear.weight"].T), "linear_wt"),
        numpy_helper.from_array(state["linear.bias"], "linear_b"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "tiny"),
    ]
    last = f"h{LAYERS - 1}"
    nodes += [
        helper.make_node("Squeeze", [last, "axis0"], ["hidden"]),  # the last layer's final hidden state
        helper.make_node("Gemm", ["hidden", "linear_wt", "linear_b"], ["projected"]),
        helper.make_node("Relu", ["projected"], ["raw"]),
        helper.make_node("ReduceL2", ["raw"], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Max", ["norm", "tiny"], ["safe_norm"]),
        helper.make_node("Div", ["raw", "safe_norm"], ["embedding"]),
    ]
    graph = helper.make_graph(
        nodes,
        "resemblyzer_voice_encoder",
        [helper.make_tensor_value_info("mels", onnx.TensorProto.FLOAT, ["batch", "frames", N_MELS])],
        [helper.make_tensor_value_info("embedding", onnx.TensorProto.FLOAT, ["batch", HIDDEN])],
        initializers,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="edge")
    model.ir_version = 8
    for key, value in (("features", FEATURES), ("source_sha256", source_sha256), ("source", "Resemblyzer 0.1.4")):
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    return model


def convert_speaker_encoder(source: Path, target: Path) -> Path:
    """Convert `source` (Resemblyzer's pretrained.pt, or another checkpoint of its architecture) to `target`."""
    state = _state(read_legacy_checkpoint(source), source)
    model = build_speaker_onnx(state, source_sha256=sha256_of(source))
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        tmp.write_bytes(model.SerializeToString())
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
    return target


def converter_fingerprint() -> str:
    from edge.ops import torch_checkpoint

    digest = hashlib.sha256()
    for path in (Path(__file__), Path(torch_checkpoint.__file__)):
        digest.update(path.read_bytes())
    return digest.hexdigest()
