"""The speaker encoder's input, computed as Resemblyzer computes it (librosa's defaults): a power mel
spectrogram of 40 Slaney bands, 25 ms periodic Hann windows every 10 ms, frames centred with zero padding,
no logarithm; the audio first brought up to -30 dBFS when it is quieter (never turned down)."""

from __future__ import annotations

import numpy as np

from edge.core.events import SAMPLE_RATE
from edge.ops.mel import mel_filters

N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
TARGET_DBFS = -30.0
INT16_MAX = 2**15 - 1


class MelFrontend:
    """Holds the window and filter bank (computed once per encoder, not per utterance)."""

    def __init__(self) -> None:
        self._window = (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(N_FFT) / N_FFT)).astype(np.float32)
        self._filters = mel_filters(N_MELS, sample_rate=SAMPLE_RATE, n_fft=N_FFT)

    def mels(self, audio: np.ndarray) -> np.ndarray:
        """[frames, 40] float32 for float32 mono 16 kHz audio; frames = len // 160 + 1."""
        padded = np.pad(audio.astype(np.float32), N_FFT // 2)
        n_frames = 1 + (len(padded) - N_FFT) // HOP
        frames = np.lib.stride_tricks.as_strided(
            padded, shape=(n_frames, N_FFT), strides=(padded.strides[0] * HOP, padded.strides[0])
        )
        power = np.abs(np.fft.rfft(frames * self._window, axis=1)) ** 2
        return (power @ self._filters.T).astype(np.float32)


def louder(audio: np.ndarray) -> np.ndarray:
    """Quiet audio raised to -30 dBFS (as the encoder was trained); louder audio unchanged."""
    rms = float(np.sqrt(np.mean(np.square(audio.astype(np.float64) * INT16_MAX)))) if len(audio) else 0.0
    if rms <= 0:
        return audio
    change_db = TARGET_DBFS - 20 * np.log10(rms / INT16_MAX)
    return audio if change_db < 0 else (audio * 10 ** (change_db / 20)).astype(np.float32)
