"""Text post-processing of a committed segment: the hallucination firewall, then layer b of the
glossary correction. The pipeline holds one `TextPostprocessor` per meeting (it keeps the previous
kept segments as context for the firewall's repeat check)."""

from __future__ import annotations

import unicodedata
from collections import deque
from dataclasses import dataclass

from edge.text.firewall import HallucinationFirewall
from edge.text.glossary import Glossary, GlossaryCorrector
from edge.text.han import han_runs


@dataclass(frozen=True)
class ProcessedText:
    """What post-processing made of one segment. A dropped segment keeps its text unchanged.
    `corrections` are the records stored in `Segment.corrections` (JSON-ready dicts): first the loops
    the firewall cut (`LoopCut.to_dict`, offsets into the NFC form of the input), then layer b's
    (`Correction.to_dict`, offsets into the text left after the cuts), then the Han flags (offsets
    into the output)."""

    text: str
    dropped: bool
    reason: str | None = None
    corrections: tuple[dict, ...] = ()

    def to_json_dict(self) -> dict:
        return {
            "text": self.text,
            "dropped": self.dropped,
            "reason": self.reason,
            "corrections": list(self.corrections),
        }


class TextPostprocessor:
    """Firewall + glossary corrector for one stream of segments (one meeting); not thread-safe."""

    def __init__(
        self, language: str, glossary: Glossary | None = None, *, prompt: str = "", context: int = 3
    ) -> None:
        self.language = language
        self.firewall = HallucinationFirewall(language, prompt=prompt)
        self._corrector = GlossaryCorrector(glossary) if glossary else None
        self._previous: deque[str] = deque(maxlen=max(1, context))

    def set_glossary(self, glossary: Glossary | None) -> None:
        """Use a changed glossary from the next segment on (an accepted suggestion, an edit)."""
        self._corrector = GlossaryCorrector(glossary) if glossary else None

    def reset(self) -> None:
        """Forget the previous segments (a new meeting starts)."""
        self._previous.clear()

    def process(self, text: str, *, duration_ms: int | None = None) -> ProcessedText:
        """The firewall, then `correct`."""
        normalized = unicodedata.normalize("NFC", text)
        verdict = self.firewall.check(normalized, duration_ms=duration_ms, previous=tuple(self._previous))
        if verdict.dropped:
            return ProcessedText(text, True, verdict.reason)
        cuts = tuple(cut.to_dict() for cut in verdict.cuts)
        if verdict.text is not None:
            normalized = verdict.text
        self._previous.append(normalized)
        corrected = self.correct(normalized)
        return ProcessedText(corrected.text, False, None, cuts + corrected.corrections)

    def correct(self, text: str) -> ProcessedText:
        """The deterministic correction alone (no firewall), for text that is kept whatever it says
        (an imported transcript): layer b of the glossary, then in a Korean meeting a record of each
        run of Han characters left (rule "han_flagged", the text unchanged): Whisper writes them
        when it decodes Korean speech as Chinese, and a glossary alias in Han can transliterate them."""
        normalized = unicodedata.normalize("NFC", text)
        records: tuple[dict, ...] = ()
        if self._corrector is not None:
            normalized, corrections = self._corrector.correct(normalized)
            records = tuple(correction.to_dict() for correction in corrections)
        if self.language.lower().startswith("ko"):
            records += tuple(
                {"start": start, "end": end, "original": normalized[start:end], "rule": "han_flagged"}
                for start, end in han_runs(normalized)
            )
        return ProcessedText(normalized, False, None, records)
