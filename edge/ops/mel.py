"""Mel filter banks as librosa computes them (Slaney's scale, area normalisation): Whisper was trained with
80 or 128 of them over a 400-point FFT, the speaker encoder with 40."""

from __future__ import annotations

import numpy as np

from edge.core.events import SAMPLE_RATE

N_FFT = 400


def _hz_to_mel(freqs: np.ndarray) -> np.ndarray:
    """Slaney's mel scale: linear below 1 kHz, logarithmic above (librosa's default, htk=False)."""
    f_sp = 200.0 / 3
    mels = freqs / f_sp
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    log_part = freqs >= min_log_hz
    mels[log_part] = min_log_mel + np.log(freqs[log_part] / min_log_hz) / logstep
    return mels


def _mel_to_hz(mels: np.ndarray) -> np.ndarray:
    f_sp = 200.0 / 3
    freqs = f_sp * mels
    min_log_hz, logstep = 1000.0, np.log(6.4) / 27.0
    min_log_mel = min_log_hz / f_sp
    log_part = mels >= min_log_mel
    freqs[log_part] = min_log_hz * np.exp(logstep * (mels[log_part] - min_log_mel))
    return freqs


def mel_filters(n_mels: int, *, sample_rate: int = SAMPLE_RATE, n_fft: int = N_FFT) -> np.ndarray:
    """The mel filter bank Whisper was trained with: librosa.filters.mel(sr, n_fft, n_mels) with
    Slaney's scale and area normalisation, float32, shape (n_mels, n_fft // 2 + 1)."""
    fft_freqs = np.fft.rfftfreq(n_fft, d=1.0 / sample_rate)
    edges = np.array([0.0, sample_rate / 2.0])
    mel_min, mel_max = _hz_to_mel(edges)
    mel_f = _mel_to_hz(np.linspace(mel_min, mel_max, n_mels + 2))
    fdiff = np.diff(mel_f)
    ramps = np.subtract.outer(mel_f, fft_freqs)
    weights = np.zeros((n_mels, len(fft_freqs)))
    for i in range(n_mels):
        lower = -ramps[i] / fdiff[i]
        upper = ramps[i + 2] / fdiff[i + 1]
        weights[i] = np.maximum(0, np.minimum(lower, upper))
    weights *= (2.0 / (mel_f[2 : n_mels + 2] - mel_f[:n_mels]))[:, np.newaxis]
    return weights.astype(np.float32)
