"""Silero VAD on a Jetson's GPU through a TensorRT engine; same interface as the onnxruntime backend.

`SileroTensorRt(model_path)` takes 512-sample chunks of 16 kHz float32 audio and returns the speech
probability, keeping the model's recurrent state and the 64 samples of context Silero needs in front
of each chunk. The engine is built once on the device from the Silero ONNX file (`edge models
engines`, or on first use) from a copy `prepare_silero_onnx` simplifies: the export switches between
its 8 and 16 kHz halves with an If on an int64 input (which TensorRT 8.6 cannot take) and keeps
shape-dependent Ifs inside; the prepared graph is the 16 kHz half with static shapes and no control
flow, and gives the same probabilities (tests check it with onnxruntime).
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from edge.core.errors import ModelError
from edge.ops.onnx_graph import onnx_module
from edge.ops.tensorrt_engine import (
    NOT_AVAILABLE,
    EngineRunner,
    build_engine,
    default_cache_dir,
    engine_path,
    file_sha256,
    installed_version,
    tensorrt_usable,
)

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
CHUNK = 512
CONTEXT = 64
STATE_SHAPE = (2, 1, 128)


class Runner(Protocol):
    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]: ...


def engine_available(model_path: Path, cache_dir: Path | None = None, *, root: Path = Path("/")) -> bool:
    """True when this device can run the model on TensorRT and its engine is already built.

    Off a Jetson this is False without importing tensorrt.
    """
    if not tensorrt_usable(root) or not Path(model_path).is_file():
        return False
    version = installed_version(root)
    return version is not None and engine_path(Path(model_path), version, cache_dir).is_file()


def build_silero_engine(model_path: Path, cache_dir: Path | None = None, *, root: Path = Path("/")) -> Path:
    """Build (or find) the engine for this Silero ONNX file and the installed TensorRT."""
    model_path = Path(model_path)
    version = installed_version(root)
    if version is None:
        raise ModelError(NOT_AVAILABLE)
    digest = file_sha256(model_path)
    target = engine_path(model_path, version, cache_dir, sha256=digest)
    if target.is_file():
        return target
    directory = target.parent
    directory.mkdir(parents=True, exist_ok=True)
    prepared = directory / f"{model_path.stem}-{digest[:16]}-sr{SAMPLE_RATE}.onnx"
    if not prepared.is_file():
        prepare_silero_onnx(model_path, prepared)
    log.info("building the TensorRT engine for %s (once per model and TensorRT version)", model_path.name)
    return build_engine(prepared, target, fp16=False, root=root)


def prepare_silero_onnx(source: Path, target: Path, sample_rate: int = SAMPLE_RATE) -> Path:
    """Write a copy of a Silero v5/v6 ONNX model with the sample rate fixed, static shapes, no If nodes.

    The exported graph is `Equal(sr, Constant) -> If(then: one rate, else: the other)`; this keeps the
    branch for `sample_rate` and drops the `sr` input. Inside it, the exporter left Ifs on tensor
    shapes (squeeze a dimension if it is 1, first call of the LSTM or not); with static input shapes
    their conditions are constants, so they are evaluated once and their taken branch inlined too.
    The result has two inputs (audio with context [1, 576], state [2, 1, 128]) and no control flow.
    """
    onnx = onnx_module()
    numpy_helper = onnx.numpy_helper
    model = onnx.load(str(source))
    graph = model.graph
    nodes = list(graph.node)
    by_output = {output: node for node in nodes for output in node.output}
    rate_ifs = [node for node in nodes if node.op_type == "If" and _tests_input(node, by_output, "sr")]
    if len(rate_ifs) != 1:
        raise ModelError(f"{source.name}: expected one If node on the sample rate, found {len(rate_ifs)}")
    equal = by_output[rate_ifs[0].input[0]]
    constant = by_output.get(next(name for name in equal.input if name != "sr"))
    if constant is None or constant.op_type != "Constant":
        raise ModelError(f"{source.name}: the sample-rate comparison is not against a constant")
    rate = int(numpy_helper.to_array(constant.attribute[0].t).reshape(-1)[0])
    _inline_if(model, rate_ifs[0].output[0], rate == sample_rate)
    _drop_unused(model)  # the sample-rate comparison, now unread
    inputs = [onnx.ValueInfoProto.FromString(v.SerializeToString()) for v in graph.input if v.name != "sr"]
    del graph.input[:]
    graph.input.extend(inputs)
    _set_static_shape(graph, "input", (1, CONTEXT + CHUNK))
    _set_static_shape(graph, "state", STATE_SHAPE)
    _fold_shape_ifs(model)
    _drop_unused(model)
    onnx.checker.check_model(model)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=target.name, suffix=".tmp")
    os.close(fd)
    try:
        onnx.save(model, temp)
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    return target


def _tests_input(if_node: Any, by_output: dict[str, Any], name: str) -> bool:
    condition = by_output.get(if_node.input[0])
    return condition is not None and condition.op_type == "Equal" and name in condition.input


def _inline_if(model: Any, first_output: str, take_then: bool) -> None:
    """Replace the If node producing `first_output` by the nodes of the branch it takes."""
    onnx = onnx_module()
    helper = onnx.helper

    graph = model.graph
    # One list of node objects for every lookup: protobuf may hand out new wrappers on each iteration.
    nodes = list(graph.node)
    if_node = next(node for node in nodes if node.op_type == "If" and node.output[0] == first_output)
    branch = next(a.g for a in if_node.attribute if a.name == ("then_branch" if take_then else "else_branch"))
    replacement = list(branch.node) + [
        helper.make_node("Identity", [inner.name], [outer], name=f"inlined_{outer}")
        for inner, outer in zip(branch.output, if_node.output, strict=True)
    ]
    rebuilt = []
    for node in nodes:
        rebuilt.extend(replacement if node is if_node else [node])
    copies = [onnx.NodeProto.FromString(node.SerializeToString()) for node in rebuilt]
    initializers = [onnx.TensorProto.FromString(t.SerializeToString()) for t in branch.initializer]
    del graph.node[:]
    graph.node.extend(copies)
    graph.initializer.extend(initializers)


def _fold_shape_ifs(model: Any, max_rounds: int = 16) -> None:
    """Inline every If whose condition depends only on tensor shapes (constant once shapes are static)."""
    onnx = onnx_module()
    ReferenceEvaluator = onnx.reference.ReferenceEvaluator

    for _ in range(max_rounds):
        nodes = list(model.graph.node)
        ifs = [node for node in nodes if node.op_type == "If"]
        if not ifs:
            return
        by_output = {output: node for node in nodes for output in node.output}
        inputs = {item.name for item in model.graph.input}
        foldable = [node for node in ifs if _shape_only(node.input[0], by_output, inputs, set())]
        if not foldable:
            names = ", ".join(node.name for node in ifs)
            raise ModelError(f"the model keeps data-dependent If nodes ({names}); TensorRT needs them folded")
        probe = onnx.ModelProto.FromString(model.SerializeToString())
        probe.graph.output.extend(onnx.ValueInfoProto(name=node.input[0]) for node in foldable)
        evaluator = ReferenceEvaluator(probe)
        feeds = {
            "input": np.zeros((1, CONTEXT + CHUNK), dtype=np.float32),
            "state": np.zeros(STATE_SHAPE, dtype=np.float32),
        }
        values = evaluator.run([node.input[0] for node in foldable], feeds)
        for node, value in zip(foldable, values, strict=True):
            _inline_if(model, node.output[0], bool(np.asarray(value).reshape(-1)[0]))
    raise ModelError("too many nested If nodes to fold")


def _shape_only(name: str, by_output: dict[str, Any], inputs: set[str], seen: set[str]) -> bool:
    """True when `name` is computed from shapes and constants only, never from input values."""
    if name in seen:
        return True
    seen.add(name)
    node = by_output.get(name)
    if node is None:
        return name not in inputs  # an initializer
    if node.op_type in ("Shape", "Size", "Constant"):
        return True
    if node.op_type == "If":
        return False
    return all(_shape_only(item, by_output, inputs, seen) for item in node.input if item)


def _reads(node: Any) -> set[str]:
    """Names a node reads, including those its If branches read from the enclosing graph."""
    names = {item for item in node.input if item}
    for attribute in node.attribute:
        if attribute.type == attribute.GRAPH:
            for inner in attribute.g.node:
                names |= _reads(inner)
    return names


def _drop_unused(model: Any) -> None:
    """Remove nodes and initializers nothing reads any more (the dropped branches' leftovers)."""
    onnx = onnx_module()

    graph = model.graph
    needed = {output.name for output in graph.output}
    kept = []
    for node in reversed(list(graph.node)):
        if any(output in needed for output in node.output):
            kept.append(node)
            needed.update(_reads(node))
    copies = [onnx.NodeProto.FromString(node.SerializeToString()) for node in reversed(kept)]
    initializers = [
        onnx.TensorProto.FromString(t.SerializeToString()) for t in graph.initializer if t.name in needed
    ]
    del graph.node[:]
    graph.node.extend(copies)
    del graph.initializer[:]
    graph.initializer.extend(initializers)


def _set_static_shape(graph: object, name: str, shape: tuple[int, ...]) -> None:
    for item in graph.input:  # type: ignore[attr-defined]
        if item.name == name:
            dims = item.type.tensor_type.shape.dim
            if len(dims) != len(shape):
                raise ModelError(f"input {name} has {len(dims)} dimensions, expected {len(shape)}")
            for dim, size in zip(dims, shape, strict=True):
                dim.ClearField("dim_param")
                dim.dim_value = size
            return
    raise ModelError(f"the model has no input named {name!r}")


class SileroTensorRt:
    """Speech probability per 512-sample chunk (32 ms at 16 kHz), on the Jetson's GPU."""

    def __init__(self, model_path: Path, *, cache_dir: Path | None = None, runner: Runner | None = None) -> None:
        self.model_path = Path(model_path)
        if runner is None:
            if not self.model_path.is_file():
                raise ModelError(f"vad.model_path = {self.model_path}: no such file; fetch it with `edge models fetch`")
            runner = EngineRunner(build_silero_engine(self.model_path, cache_dir or default_cache_dir(self.model_path)))
        self._runner = runner
        self._state: np.ndarray = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def reset(self) -> None:
        """Forget the recurrent state and context (a new stream, or after a gap in the audio)."""
        self._state = np.zeros(STATE_SHAPE, dtype=np.float32)
        self._context = np.zeros(CONTEXT, dtype=np.float32)

    def __call__(self, chunk512: np.ndarray) -> float:
        chunk = np.asarray(chunk512, dtype=np.float32).reshape(-1)
        if chunk.shape[0] != CHUNK:
            raise ValueError(f"Silero takes {CHUNK} samples at {SAMPLE_RATE} Hz per call, got {chunk.shape[0]}")
        audio = np.concatenate([self._context, chunk])[np.newaxis, :]
        outputs = self._runner.run({"input": audio, "state": self._state})
        self._state = np.asarray(outputs["stateN"], dtype=np.float32).reshape(STATE_SHAPE)
        self._context = chunk[-CONTEXT:].copy()
        return float(np.asarray(outputs["output"]).reshape(-1)[0])
