"""Speaker embeddings through onnxruntime: a 256-value unit vector per stretch of speech, from the ONNX model
`edge models dev-weights` (or `edge models convert-speaker`) made of Resemblyzer's voice encoder.

As Resemblyzer does, audio is cut into 1.6 s windows, 1.3 a second (so they overlap), each embedded, and
their mean normalised; the last window is zero-padded when it is at least three quarters full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from edge.audio.onnx_runtime import cpu_session
from edge.core.errors import ModelError
from edge.core.events import SAMPLE_RATE
from edge.speaker.features import HOP, N_MELS, MelFrontend, louder

EXPECTED_FEATURES = "resemblyzer-power-mel-40"
WINDOW_FRAMES = 160  # 1.6 s
WINDOWS_PER_S = 1.3
MIN_COVERAGE = 0.75
EMBEDDING_SIZE = 256
HINT = "make it with `edge models convert-speaker` (or `make setup` for development), or set speaker.model_path"


def window_starts(n_samples: int) -> list[int]:
    """First mel frame of each 1.6 s window of `n_samples` of audio (Resemblyzer's partial slices)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLE_RATE / WINDOWS_PER_S) / HOP))
    starts = list(range(0, max(1, n_frames - WINDOW_FRAMES + step + 1), step))
    last = starts[-1] * HOP
    if len(starts) > 1 and (n_samples - last) / (WINDOW_FRAMES * HOP) < MIN_COVERAGE:
        starts.pop()
    return starts


class SpeakerEncoder:
    """One instance belongs to one thread (an onnxruntime session with one thread)."""

    def __init__(self, model_path: Path) -> None:
        self.model_path = Path(model_path)
        self._session: Any = cpu_session(self.model_path, what="speaker model", hint=HINT)
        meta = self._session.get_modelmeta().custom_metadata_map
        if meta.get("features") != EXPECTED_FEATURES:
            raise ModelError(
                f"speaker model {self.model_path} expects features {meta.get('features')!r}, not "
                f"{EXPECTED_FEATURES!r}; {HINT}"
            )
        self._frontend = MelFrontend()

    def embed(self, audio: np.ndarray) -> np.ndarray:
        """The unit-length embedding of 16 kHz mono float32 speech (any length; short speech is padded)."""
        audio = louder(audio)
        starts = window_starts(len(audio))
        needed = (starts[-1] + WINDOW_FRAMES) * HOP
        padded = np.pad(audio, (0, needed - len(audio))) if needed > len(audio) else audio
        mels = self._frontend.mels(padded)
        batch = np.stack([mels[s : s + WINDOW_FRAMES] for s in starts]).astype(np.float32)
        assert batch.shape[1:] == (WINDOW_FRAMES, N_MELS)
        windows = self._session.run(["embedding"], {"mels": batch})[0]
        mean = windows.mean(axis=0)
        norm = float(np.linalg.norm(mean))
        return (mean / norm if norm > 0 else mean).astype(np.float32)
