"""`edge eval asr`: word and character error rates of the box's own pipeline (decode, VAD, whisper.cpp
stage, firewall and glossary, as `edge transcribe` runs it) on the fixture clips that have a reference,
beside faster-whisper on the same CTranslate2 weights when it is installed."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from edge.core.errors import UserError
from edge.text.error_rates import CHARACTER_LANGUAGES, edit_distance, normalised_characters, normalised_words

REFERENCES = "references.json"
LEOPARD_DATA = "audio/leopard/test_data.json"


@dataclass(frozen=True)
class Clip:
    path: str  # relative to the fixtures
    language: str
    reference: str

    @property
    def unit(self) -> str:
        return "CER" if self.language in CHARACTER_LANGUAGES else "WER"

    def units(self, text: str) -> list[str]:
        return normalised_characters(text) if self.unit == "CER" else normalised_words(text)


@dataclass
class Score:
    """Edits against reference length, per system; rates are corpus-level (summed edits / summed length)."""

    edits: int = 0
    length: int = 0

    def add(self, clip: Clip, text: str) -> int:
        reference = clip.units(clip.reference)
        edits = edit_distance(reference, clip.units(text))
        self.edits += edits
        self.length += len(reference)
        return edits

    @property
    def rate(self) -> float | None:
        return self.edits / self.length if self.length else None


def add_arguments(suites: argparse._SubParsersAction) -> None:
    parser = suites.add_parser(
        "asr",
        help="WER (English) and CER (Korean) of the box's pipeline on the fixture clips, beside faster-whisper.",
        description="Run each fixture clip with a reference through the box's own pipeline (as `edge transcribe` "
        "does) and score it: English by words (lowercased, punctuation removed), Korean by characters (spaces "
        "and punctuation removed). With faster-whisper installed, the same clips are transcribed by it on "
        "the CTranslate2 weights the whisper.cpp model was converted from.",
    )
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"), help="Shared fixtures folder.")
    parser.add_argument("--config", type=Path, help="TOML configuration of the box (ASR and VAD settings).")
    parser.add_argument(
        "--model", type=Path, default=Path("build/models/ggml-base.bin"),
        help="whisper.cpp model (default: Whisper base from `make setup`).",
    )
    parser.add_argument(
        "--vad-model", type=Path, help="Silero VAD ONNX model (default: the one in the fixtures)."
    )
    parser.add_argument(
        "--faster-whisper", type=Path, default=Path("build/models/faster-whisper-base"), metavar="DIR",
        help="CTranslate2 model folder for the faster-whisper column (default: Whisper base from `make setup`); "
        "the column is left out when the folder or faster-whisper is missing.",
    )
    parser.add_argument("--fw-beam-size", type=int, default=5, help="faster-whisper beam size (default 5, its own).")
    parser.add_argument(
        "--language", default="reference",
        help='Decoding language: "reference" (each clip\'s own, the default) or "auto" (detected).',
    )
    parser.add_argument(
        "--languages", default="ko,en",
        help='Clips of these reference languages (default "ko,en"; "all" for every one).',
    )
    parser.add_argument("--threads", type=int, help="whisper.cpp and faster-whisper threads (default: the config's).")
    parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")


def load_clips(fixtures: Path, languages: set[str] | None) -> list[Clip]:
    """Clips with a reference text in references.json, then in the leopard test data; one clip per
    (language, reference) so the same speech in another container counts once."""
    try:
        references = json.loads((fixtures / REFERENCES).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{fixtures / REFERENCES} not found; pass --fixtures with the shared fixtures folder") from None
    entries: dict[str, tuple[str, str]] = {}
    for path, entry in references.items():
        text, language = entry.get("text"), entry.get("language")
        if isinstance(text, str) and text and isinstance(language, str):
            entries[path] = (language, text)
    leopard = fixtures / LEOPARD_DATA
    if leopard.is_file():
        tests = json.loads(leopard.read_text(encoding="utf-8")).get("tests", {})
        for test in tests.get("language_tests", []):
            path = f"audio/leopard/{test['audio_file']}"
            text = test.get("transcript_with_punctuation") or test.get("transcript")
            if text:
                entries.setdefault(path, (test["language"], text))
    clips: list[Clip] = []
    seen: set[tuple[str, str]] = set()
    for path, (language, text) in sorted(entries.items(), key=lambda item: (not item[0].endswith(".wav"), item[0])):
        key = (language, " ".join(normalised_words(text)))
        if key in seen or (languages is not None and language not in languages):
            continue
        if not (fixtures / path).is_file():
            raise UserError(f"{fixtures / path} is listed with a reference but missing; restore the shared fixtures")
        seen.add(key)
        clips.append(Clip(path, language, text))
    if not clips:
        raise UserError(f"no fixture clip with a reference in {fixtures} for languages {sorted(languages or [])}")
    return clips


def run(args: argparse.Namespace) -> int:
    from edge.commands.transcribe import transcribe_file
    from edge.core.config import load_config

    languages = None if args.languages == "all" else {code.strip() for code in args.languages.split(",") if code}
    clips = load_clips(args.fixtures, languages)
    if not args.model.is_file():
        raise UserError(f"{args.model} not found; run `make setup` (or pass --model)")
    cfg = load_config(args.config)
    cfg.asr.model_path = args.model.resolve()
    cfg.vad.model_path = (args.vad_model or args.fixtures / "models" / "silero_vad_v6.2.onnx").resolve()
    if args.threads:
        cfg.asr.threads = args.threads
    fw_transcribe = _faster_whisper(args.faster_whisper, cfg.asr.threads)
    by_unit: dict[str, tuple[Score, Score]] = {}
    rows = []
    for clip in clips:
        language = clip.language if args.language == "reference" else args.language
        cfg.asr.language, cfg.asr.languages = language, []
        print(f"eval: {clip.path}", file=sys.stderr, flush=True)
        segments, _ = transcribe_file(cfg, args.fixtures / clip.path)
        text = " ".join(segment.display_text for segment in segments)
        unit_box, unit_peer = by_unit.setdefault(clip.unit, (Score(), Score()))
        row = {"clip": clip.path, "language": clip.language, "unit": clip.unit, "reference": clip.reference}
        row["length"] = len(clip.units(clip.reference))
        row["box"] = {"text": text, "edits": unit_box.add(clip, text)}
        if fw_transcribe is not None:
            fw_language = None if language == "auto" else language
            fw_text = fw_transcribe(args.fixtures / clip.path, fw_language, args.fw_beam_size)
            row["faster_whisper"] = {"text": fw_text, "edits": unit_peer.add(clip, fw_text)}
        rows.append(row)
    summary = {
        unit: {"box": _round(scores[0].rate), "faster_whisper": _round(scores[1].rate) if fw_transcribe else None,
               "length": scores[0].length}
        for unit, scores in sorted(by_unit.items(), reverse=True)
    }
    settings = {
        "model": str(args.model),
        "language": args.language,
        "threads": cfg.asr.threads,
        "faster_whisper": str(args.faster_whisper) if fw_transcribe else None,
        "faster_whisper_beam_size": args.fw_beam_size if fw_transcribe else None,
    }
    if args.json:
        print(json.dumps({"settings": settings, "summary": summary, "clips": rows}, ensure_ascii=False, indent=2))
    else:
        _print_table(rows, summary, settings, fw_transcribe is not None)
    return 0


def _faster_whisper(folder: Path, threads: int):
    from edge.ops.bench.peer import faster_whisper_available, faster_whisper_transcriber

    if not (folder / "model.bin").is_file():
        print(f"eval: no faster-whisper column ({folder / 'model.bin'} not found)", file=sys.stderr)
        return None
    if not faster_whisper_available():
        print("eval: no faster-whisper column (faster-whisper is not installed; it is in the dev extra)",
              file=sys.stderr)
        return None
    return faster_whisper_transcriber(folder, threads=threads)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def _print_table(rows: list[dict], summary: dict, settings: dict, with_peer: bool) -> None:
    def line(name: str, language: str, unit: str, length: int, box: float, peer: float | None) -> None:
        peer_cell = f"{peer:>15.1%}" if peer is not None else ""
        print(f"{name:<34} {language:<4} {unit:<4} {length:>4} {box:>7.1%} {peer_cell}")

    print(f"{'clip':<34} {'lang':<4} {'unit':<4} {'len':>4} {'box':>7} {'faster-whisper' if with_peer else '':>15}")
    for row in rows:
        peer = row["faster_whisper"]["edits"] / row["length"] if with_peer else None
        line(row["clip"], row["language"], row["unit"], row["length"], row["box"]["edits"] / row["length"], peer)
    for unit, figures in summary.items():
        line(f"all ({unit}, corpus)", "", unit, figures["length"], figures["box"], figures["faster_whisper"])
    for row in rows:
        print(f"\n{row['clip']}\n  reference:      {row['reference']}\n  box:            {row['box']['text']}")
        if with_peer:
            print(f"  faster-whisper: {row['faster_whisper']['text']}")
    print(
        f"\nmodel {settings['model']}, language {settings['language']}, {settings['threads']} threads"
        + (f"; faster-whisper beam {settings['faster_whisper_beam_size']}, float32" if with_peer else "")
    )
