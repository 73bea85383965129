"""The ASR backends a box can run, by the name in `asr.backend`. A new backend is one module with a
`Transcriber` (see `edge.asr.stage`) and one line in BACKENDS."""

from __future__ import annotations

from collections.abc import Callable

from edge.asr.stage import Transcriber
from edge.core.config import AsrConfig
from edge.core.errors import ConfigError


def _whispercpp(asr: AsrConfig) -> Transcriber:
    from edge.asr.whispercpp import WhisperCppModel

    return WhisperCppModel(
        asr.model_path.resolve(),
        threads=asr.threads,
        language=asr.language,
        initial_prompt=asr.initial_prompt,
        max_tokens=asr.max_tokens,
        temperature_inc=asr.temperature_inc,
        fit_audio_ctx=asr.fit_audio_ctx,
        audio_ctx_margin_s=asr.audio_ctx_margin_s,
        flash_attn=asr.flash_attn,
        single_thread_below_s=asr.single_thread_below_s,
    )


BACKENDS: dict[str, Callable[[AsrConfig], Transcriber]] = {
    "whispercpp": _whispercpp,
}
"""`asr.backend` -> what loads its model from the `[asr]` settings (on the ASR owner thread)."""


def model_factory(asr: AsrConfig) -> Callable[[], Transcriber]:
    """The loader of the configured backend's model; raises ConfigError for an unknown `asr.backend`."""
    try:
        make = BACKENDS[asr.backend]
    except KeyError:
        raise ConfigError(
            f"asr.backend {asr.backend!r} is unknown; use one of {', '.join(sorted(BACKENDS))}"
        ) from None
    return lambda: make(asr)
