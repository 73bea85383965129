"""TensorRT: never imported off the device, engines cached per TensorRT version and model sha256, the
TensorRT 8/10 differences in one helper, and the Silero graph prepared for it (checked with onnxruntime)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from edge.audio.vad_tensorrt import CHUNK, SileroTensorRt, engine_available, prepare_silero_onnx
from edge.core.errors import ModelError
from edge.ops.tensorrt_engine import TensorInfo, TrtApi, engine_path, file_sha256, tensorrt_usable

REPO = Path(__file__).resolve().parent.parent


def test_importing_the_tensorrt_modules_and_asking_does_not_import_tensorrt(fixture_file):
    model = fixture_file("models/silero_vad_v6.2.onnx")
    script = (
        "import sys; from pathlib import Path\n"
        "from edge.ops import tensorrt_engine\n"
        "from edge.audio import vad_tensorrt\n"
        f"assert vad_tensorrt.engine_available(Path({str(model)!r})) is False\n"
        "assert tensorrt_engine.installed_version() is None\n"
        "assert 'tensorrt' not in sys.modules, 'tensorrt was imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_off_the_device_the_tensorrt_backend_refuses_with_a_clear_error(fixture_file, tmp_path):
    model = fixture_file("models/silero_vad_v6.2.onnx")
    assert not tensorrt_usable()
    with pytest.raises(ModelError, match="only used on a Jetson"):
        SileroTensorRt(model, cache_dir=tmp_path)


def test_a_jetson_without_tensorrt_bindings_is_not_usable(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "nv_tegra_release").write_text("# R36 (release), REVISION: 4.3\n")
    if "tensorrt" in sys.modules or _has_tensorrt():
        pytest.skip("this machine has TensorRT's Python bindings")
    assert not tensorrt_usable(tmp_path)
    assert not engine_available(tmp_path / "x.onnx", root=tmp_path)


def _has_tensorrt() -> bool:
    import importlib.util

    return importlib.util.find_spec("tensorrt") is not None


def test_engine_cache_is_keyed_by_model_bytes_and_tensorrt_version(tmp_path):
    model = tmp_path / "silero_vad.onnx"
    model.write_bytes(b"model one")
    first = engine_path(model, "10.3.0", tmp_path / "cache")
    assert first.parent == tmp_path / "cache"
    assert file_sha256(model)[:16] in first.name and "trt10.3.0" in first.name
    assert engine_path(model, "8.6.2", tmp_path / "cache") != first
    model.write_bytes(b"model two")
    assert engine_path(model, "10.3.0", tmp_path / "cache") != first
    assert engine_path(model, "10.3.0").parent == tmp_path / "tensorrt"


# --- the TensorRT 8 / 10 helper, with stand-ins for the two APIs --------------------------------------


def _fake_trt(version: str) -> SimpleNamespace:
    return SimpleNamespace(
        __version__=version,
        NetworkDefinitionCreationFlag=SimpleNamespace(EXPLICIT_BATCH=0),
        TensorIOMode=SimpleNamespace(INPUT="in", OUTPUT="out"),
        nptype=lambda dtype: dtype,
    )


class Engine10:
    num_io_tensors = 2

    def get_tensor_name(self, index: int) -> str:
        return ["input", "output"][index]

    def get_tensor_mode(self, name: str) -> str:
        return "in" if name == "input" else "out"

    def get_tensor_shape(self, name: str) -> tuple[int, ...]:
        return (1, 576) if name == "input" else (1, 1)

    def get_tensor_dtype(self, name: str) -> type:
        return np.float32


class Engine8:
    num_bindings = 2

    def get_binding_name(self, index: int) -> str:
        return ["input", "output"][index]

    def binding_is_input(self, index: int) -> bool:
        return index == 0

    def get_binding_shape(self, index: int) -> tuple[int, ...]:
        return [(1, 576), (1, 1)][index]

    def get_binding_dtype(self, index: int) -> type:
        return np.float32


class Context10:
    def __init__(self) -> None:
        self.addresses: dict[str, int] = {}
        self.streams: list[int] = []

    def set_tensor_address(self, name: str, address: int) -> None:
        self.addresses[name] = address

    def execute_async_v3(self, stream: int) -> bool:
        self.streams.append(stream)
        return True


class Context8:
    def __init__(self) -> None:
        self.calls: list[tuple[list[int], int]] = []

    def execute_async_v2(self, bindings: list[int], stream: int) -> bool:
        self.calls.append((bindings, stream))
        return True


def test_both_engine_apis_describe_the_same_tensors():
    expected = [
        TensorInfo("input", True, (1, 576), np.dtype(np.float32)),
        TensorInfo("output", False, (1, 1), np.dtype(np.float32)),
    ]
    assert TrtApi(_fake_trt("10.3.0")).io_tensors(Engine10()) == expected
    assert TrtApi(_fake_trt("8.2.1")).io_tensors(Engine8()) == expected


def test_network_flags_and_execution_per_version():
    trt10, trt8 = TrtApi(_fake_trt("10.3.0")), TrtApi(_fake_trt("8.6.2"))
    assert trt10.network_flags() == 0
    assert trt8.network_flags() == 1 << 0
    tensors = TrtApi(_fake_trt("10.3.0")).io_tensors(Engine10())
    addresses = {"input": 0x1000, "output": 0x2000}
    context10 = Context10()
    trt10.execute(context10, tensors, addresses, stream=7)
    assert context10.addresses == addresses and context10.streams == [7]
    context8 = Context8()
    trt8.execute(context8, tensors, addresses, stream=9)
    assert context8.calls == [([0x1000, 0x2000], 9)]


# --- the Silero graph TensorRT gets ------------------------------------------------------------------


@pytest.mark.parametrize("name", ["models/silero_vad_v6.2.onnx", "models/silero_vad_v5.1.2.onnx"])
def test_prepared_silero_model_gives_the_same_probabilities(fixture_file, tmp_path, name):
    """The sample-rate branch is inlined and shapes are static; run it through onnxruntime in the
    SileroTensorRt wrapper and compare with the original model driven by hand."""
    pytest.importorskip("onnx")
    ort = pytest.importorskip("onnxruntime")
    import soundfile

    source = fixture_file(name)
    prepared = prepare_silero_onnx(source, tmp_path / "prepared.onnx")
    session = ort.InferenceSession(str(prepared), providers=["CPUExecutionProvider"])
    assert [(i.name, i.shape) for i in session.get_inputs()] == [("input", [1, 576]), ("state", [2, 1, 128])]
    import onnx

    assert not [n for n in onnx.load(str(prepared)).graph.node if n.op_type == "If"]

    class OnnxRunner:
        def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
            output, state = session.run(None, inputs)
            return {"output": output, "stateN": state}

    reference = ort.InferenceSession(str(source), providers=["CPUExecutionProvider"])
    audio, rate = soundfile.read(fixture_file("audio/silero_test.wav"), dtype="float32")
    assert rate == 16000
    vad = SileroTensorRt(source, runner=OnnxRunner())
    state = np.zeros((2, 1, 128), dtype=np.float32)
    context = np.zeros(64, dtype=np.float32)
    ours, theirs = [], []
    for start in range(0, min(len(audio), 16000 * 20) - CHUNK, CHUNK):
        chunk = audio[start : start + CHUNK]
        ours.append(vad(chunk))
        out, state = reference.run(
            None, {"input": np.concatenate([context, chunk])[None], "state": state, "sr": np.array(16000)}
        )
        context = chunk[-64:]
        theirs.append(float(out.reshape(-1)[0]))
    assert max(theirs) > 0.9 and min(theirs) < 0.1, "the clip has speech and silence"
    np.testing.assert_allclose(ours, theirs, atol=1e-5)

    vad.reset()
    first = vad(audio[:CHUNK])
    assert first == pytest.approx(theirs[0], abs=1e-5)
    with pytest.raises(ValueError, match="512 samples"):
        vad(audio[:100])


def test_prepare_rejects_a_model_that_is_not_silero(tmp_path):
    onnx = pytest.importorskip("onnx")
    from onnx import TensorProto, helper

    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["y"])],
        "not-silero",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    path = tmp_path / "other.onnx"
    onnx.save(helper.make_model(graph), str(path))
    with pytest.raises(ModelError, match="expected one If node"):
        prepare_silero_onnx(path, tmp_path / "out.onnx")
