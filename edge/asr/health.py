"""The ASR part of the box's health report."""

from __future__ import annotations

from dataclasses import asdict

from edge.asr.stage import AsrStats

__all__ = ["asr_health"]


def asr_health(stats: AsrStats) -> dict:
    """Every ASR counter, the real-time factor and the end-of-speech -> commit latency (JSON-ready)."""
    report = asdict(stats)
    for key in ("audio_seconds", "compute_seconds", "partial_compute_seconds"):
        report[key] = round(report[key], 3)
    rtf = stats.real_time_factor
    report["real_time_factor"] = None if rtf is None else round(rtf, 3)
    return report
