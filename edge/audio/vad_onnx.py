"""Silero VAD through onnxruntime on the CPU."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.audio.onnx_runtime import cpu_session
from edge.core.errors import ModelError
from edge.core.events import SAMPLE_RATE

CHUNK_SAMPLES = 512  # what Silero v5/v6 take at 16 kHz (32 ms)
CONTEXT_SAMPLES = 64  # the tail of the previous chunk; without it every probability stays near 0
REQUIRED_INPUTS = ("input", "state", "sr")
FETCH_HINT = "run `edge models fetch silero-vad` or pass --model"


class SileroOnnx:
    """Speech probability of consecutive 512-sample chunks of one 16 kHz stream.

    Stateful: call `reset()` between unrelated streams. One instance belongs to one thread.
    """

    chunk_samples = CHUNK_SAMPLES

    def __init__(self, model_path: Path) -> None:
        model_path = Path(model_path)
        self._session: Any = cpu_session(model_path, what="VAD model", hint=FETCH_HINT)
        inputs = {item.name: item for item in self._session.get_inputs()}
        if not all(name in inputs for name in REQUIRED_INPUTS):
            raise ModelError(
                f"VAD model {model_path} has inputs {sorted(inputs)}, not Silero v5/v6's "
                f"{list(REQUIRED_INPUTS)}; use silero_vad v5 or v6 ({FETCH_HINT})"
            )
        state_shape = inputs["state"].shape
        self._state_shape = (
            int(state_shape[0]) if isinstance(state_shape[0], int) else 2,
            1,
            int(state_shape[2]) if isinstance(state_shape[2], int) else 128,
        )
        self._sr = np.array(SAMPLE_RATE, dtype=np.int64)
        self.model_path = model_path
        self.reset()

    def reset(self) -> None:
        self._state = np.zeros(self._state_shape, dtype=np.float32)
        self._context = np.zeros(CONTEXT_SAMPLES, dtype=np.float32)

    def __call__(self, chunk: np.ndarray) -> float:
        if chunk.shape != (CHUNK_SAMPLES,):
            raise ValueError(f"Silero VAD takes {CHUNK_SAMPLES} samples at 16 kHz, got shape {chunk.shape}")
        chunk = np.asarray(chunk, dtype=np.float32)
        window = np.concatenate((self._context, chunk))[np.newaxis, :]
        output, state = self._session.run(None, {"input": window, "state": self._state, "sr": self._sr})
        self._state = state
        self._context = chunk[-CONTEXT_SAMPLES:].copy()
        return float(output.reshape(-1)[0])
