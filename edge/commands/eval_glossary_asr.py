"""`edge eval glossary --asr-fixtures DIR`: layer b on what real Whisper wrote for the Korean fixture clips.

Each Korean clip with a reference is transcribed by the box's pipeline with an empty glossary (the raw
text layer b would receive live); layer b then runs on every segment with the given glossary. Every
rewrite is listed with its rule and cost, and the clip's CER is given before and after, so a rewrite
that makes the text worse shows as a higher CER."""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from pathlib import Path

from edge.commands.eval_asr import Clip, load_clips
from edge.core.config import Config
from edge.text.error_rates import edit_distance
from edge.text.glossary import Glossary, GlossaryCorrector


@dataclass
class ClipRewrites:
    clip: Clip
    segments: list[str]
    corrected: list[str]
    rewrites: list[dict] = field(default_factory=list)

    def cer(self, texts: list[str]) -> float:
        reference = self.clip.units(self.clip.reference)
        return edit_distance(reference, self.clip.units(" ".join(texts))) / len(reference)


def glossary_on_asr_output(cfg: Config, fixtures: Path, glossary: Glossary) -> list[ClipRewrites]:
    """Layer b with `glossary` on the box's raw transcript of each Korean fixture clip."""
    from edge.commands.transcribe import transcribe_file

    cfg = cfg.model_copy(deep=True)
    cfg.asr.language, cfg.asr.languages = "ko", []
    corrector = GlossaryCorrector(glossary)
    results = []
    for clip in load_clips(fixtures, {"ko"}):
        print(f"eval: {clip.path}", file=sys.stderr, flush=True)
        segments, _ = transcribe_file(cfg, fixtures / clip.path, glossary=Glossary())
        raw = [segment.text_raw for segment in segments]
        result = ClipRewrites(clip, raw, [])
        for text in raw:
            corrected, corrections = corrector.correct(text)
            result.corrected.append(corrected)
            result.rewrites += [{"text": text, "corrected": corrected, **correction.to_dict()}
                                for correction in corrections]
        results.append(result)
    return results


def summary(results: list[ClipRewrites]) -> dict:
    return {
        "clips": [
            {"clip": r.clip.path, "reference": r.clip.reference, "whisper": " ".join(r.segments),
             "cer_before": round(r.cer(r.segments), 4), "cer_after": round(r.cer(r.corrected), 4),
             "rewrites": r.rewrites}
            for r in results
        ],
        "segments": sum(len(r.segments) for r in results),
        "rewrites": sum(len(r.rewrites) for r in results),
    }
