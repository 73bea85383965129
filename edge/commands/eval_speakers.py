"""`edge eval speakers`: diarization error rate (0.25 s collar), speaker count and the speaker encoder's CPU
cost on the fixtures with speaker references, and on a composite meeting of fixture voices.

References:
- `audio/leopard/diarization_test.wav`: the human speaker tags of its words, in order, on the file's speech
  regions (the VAD without padding finds one region per tagged turn; a different count is an error).
- `audio/fw/stereo_diarization.wav`: one speaker per channel, their speech where the VAD finds it in that
  channel; the box hears the channels mixed to mono (the two voices overlap).
- A composite meeting (edge/ops/synth/speaker_meeting.py): fixture voices' phrases taking turns.

`--mode vad` runs the box's VAD and speaker stage alone (one stretch per utterance, as the box labels
an utterance of one segment); `--mode box` runs each file through the whole box (`edge transcribe`'s
path, Whisper included), so whisper's segment times and the split of long utterances count too, and the
ASR's CPU time is measured beside the speaker encoder's.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.core.errors import UserError
from edge.core.events import SAMPLE_RATE, AsrSegment, AudioFrame
from edge.pipeline.speakers import speaker_attribution
from edge.speaker.der import DerResult, Turn, diarization_error

LEOPARD = "audio/leopard/diarization_test.wav"
LEOPARD_DATA = "audio/leopard/test_data.json"
STEREO = "audio/fw/stereo_diarization.wav"
# Voices of the composite: clips of different people (JFK; a LibriSpeech reader; the Korean, Spanish and German
# readers of the leopard test set).
COMPOSITE_VOICES = (
    ("jfk", "audio/jfk.wav"),
    ("librispeech", "audio/leopard/test.wav"),
    ("ko", "audio/leopard/test_ko.wav"),
    ("es", "audio/leopard/test_es.wav"),
    ("de", "audio/leopard/test_de.wav"),
)
COMPOSITE_TURNS = 40


def add_arguments(suites: argparse._SubParsersAction) -> None:
    parser = suites.add_parser(
        "speakers",
        help="Diarization error rate and speaker count on the fixtures with speaker references and a composite.",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"), help="Shared fixtures folder.")
    parser.add_argument("--config", type=Path, help="TOML configuration of the box (VAD, ASR and speaker settings).")
    parser.add_argument(
        "--model", type=Path, default=Path("build/models/speaker_resemblyzer.onnx"),
        help="Speaker encoder ONNX model (default: the one `make setup` converts).",
    )  # fmt: skip
    parser.add_argument("--vad-model", type=Path, help="Silero VAD ONNX model (default: the one in the fixtures).")
    parser.add_argument(
        "--mode", choices=("vad", "box"), default="vad",
        help="vad: the VAD and speaker stage alone (fast); box: the whole box with Whisper (slower).",
    )  # fmt: skip
    parser.add_argument(
        "--asr-model", type=Path, default=Path("build/models/ggml-base.bin"),
        help="whisper.cpp model for --mode box and --asr-cpu (default: Whisper base from `make setup`).",
    )  # fmt: skip
    parser.add_argument(
        "--asr-cpu", action="store_true",
        help="In --mode vad, also transcribe each utterance, for the CPU time of ASR on the same speech.",
    )  # fmt: skip
    parser.add_argument("--turns", type=int, default=COMPOSITE_TURNS, help="Phrases in the composite meeting.")
    parser.add_argument("--seed", type=int, default=0, help="Seed of the composite meeting.")
    parser.add_argument("--collar", type=float, default=0.25, help="Collar around reference boundaries, s.")
    parser.add_argument(
        "--max-der", type=float, default=0.20, help="Exit 1 when the composite's DER is above this (default 0.20)."
    )
    parser.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")


@dataclass(frozen=True)
class Case:
    name: str
    audio: np.ndarray
    reference: list[Turn]
    composite: bool = False


def run(args: argparse.Namespace) -> int:
    from edge.core.config import load_config

    cfg = load_config(args.config)
    cfg.vad.model_path = (args.vad_model or args.fixtures / "models" / "silero_vad_v6.2.onnx").resolve()
    if not args.model.is_file():
        raise UserError(f"{args.model} not found; run `make setup` (or `edge models convert-speaker`, or pass --model)")
    cfg.speaker.enabled, cfg.speaker.model_path = True, args.model.resolve()
    if args.mode == "box":
        if not args.asr_model.is_file():
            raise UserError(f"{args.asr_model} not found; run `make setup` (or pass --asr-model)")
        cfg.asr.model_path = args.asr_model.resolve()
    if args.mode == "box" and args.asr_cpu:
        raise UserError("--asr-cpu measures ASR beside the speaker stage in --mode vad; leave it out of --mode box")
    transcriber = None
    if args.asr_cpu:
        from edge.asr.backends import model_factory

        if not args.asr_model.is_file():
            raise UserError(f"{args.asr_model} not found; run `make setup` (or pass --asr-model)")
        cfg.asr.model_path = args.asr_model.resolve()
        transcriber = model_factory(cfg.asr)()
    cases = load_cases(args.fixtures, cfg, turns=args.turns, seed=args.seed)
    rows = []
    for case in cases:
        print(f"eval: {case.name}", file=sys.stderr, flush=True)
        outcome = diarize_box(cfg, case) if args.mode == "box" else diarize_vad(cfg, case, transcriber)
        online = None
        if outcome.online_turns is not None:
            online = diarization_error(case.reference, outcome.online_turns, collar_s=args.collar)
        refined = diarization_error(case.reference, outcome.refined_turns, collar_s=args.collar)
        rows.append(_row(case, online, refined, outcome))
    composite_der = max((row["refined"]["der"] for row in rows if row["composite"]), default=0.0)
    report = {"mode": args.mode, "model": str(args.model), "collar_s": args.collar, "cases": rows}
    if args.json:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        _print_table(report)
    return 1 if composite_der > args.max_der else 0


def load_cases(fixtures: Path, cfg, *, turns: int, seed: int) -> list[Case]:
    from edge.audio.files import decode_audio, decode_channels
    from edge.audio.vad import detect_speech, load_vad_model
    from edge.ops.synth.speaker_meeting import build_speaker_meeting, phrases

    def need(path: str) -> Path:
        if not (fixtures / path).is_file():
            raise UserError(f"{fixtures / path} is missing; pass --fixtures with the shared fixtures folder")
        return fixtures / path

    model = load_vad_model(cfg.vad)
    tight = cfg.vad.model_copy(update={"speech_pad_ms": 0})
    cases = []
    audio = decode_audio(need(LEOPARD))
    regions = detect_speech(audio, tight, model)
    tags = _leopard_turns(need(LEOPARD_DATA))
    if len(regions) != len(tags):
        raise UserError(f"{LEOPARD}: the VAD finds {len(regions)} speech regions for {len(tags)} tagged turns")
    cases.append(Case("leopard diarization_test (3 speakers, English)", audio,
                      [Turn(start, end, tag) for (start, end), tag in zip(regions, tags, strict=True)]))  # fmt: skip
    left, right = decode_channels(need(STEREO))[:2]
    reference = [Turn(s, e, "left") for s, e in detect_speech(left, tight, model)]
    reference += [Turn(s, e, "right") for s, e in detect_speech(right, tight, model)]
    cases.append(Case("faster-whisper stereo_diarization (2 overlapping speakers, mixed to mono)",
                      ((left + right) / 2).astype(np.float32), reference))  # fmt: skip
    voices = []
    for name, path in COMPOSITE_VOICES:
        clip = decode_audio(need(path))
        voices.append((name, phrases(clip, detect_speech(clip, tight, model))))
    meeting = build_speaker_meeting(voices, turns=turns, seed=seed)
    name = f"composite: {len(voices)} fixture voices, {turns} turns, {meeting.duration_s:.0f} s"
    cases.append(Case(name, meeting.audio, meeting.turns, composite=True))
    return cases


def _leopard_turns(data: Path) -> list[str]:
    tests = json.loads(data.read_text(encoding="utf-8"))["tests"]["diarization_tests"]
    words = next(t["words"] for t in tests if t["audio_file"] == Path(LEOPARD).name)
    turns: list[str] = []
    for word in words:
        speaker = f"speaker{word['speaker_tag']}"
        if not turns or turns[-1] != speaker:
            turns.append(speaker)
    return turns


@dataclass(frozen=True)
class Diarized:
    online_turns: list[Turn] | None  # as first published (not kept by the box: --mode vad only)
    refined_turns: list[Turn]  # after the end-of-meeting pass
    speaker_cpu_s: float
    asr_cpu_s: float | None
    audio_s: float


def diarize_vad(cfg, case: Case, transcriber=None) -> Diarized:
    """The box's VAD and speaker stage on `case.audio`, as it would hear it live: one stretch per utterance.
    With `transcriber`, each utterance is also transcribed, for the CPU time of ASR on the same speech."""
    from edge.audio.vad import VadStage, load_vad_model

    attribution = speaker_attribution(cfg.speaker)
    model = load_vad_model(cfg.vad)
    model.reset()
    stage = VadStage(model, cfg.vad)
    utterances = []
    block = SAMPLE_RATE // 10
    for first in range(0, len(case.audio), block):
        utterances += stage.feed(AudioFrame(case.audio[first : first + block], first * 1000 // SAMPLE_RATE))
    utterances += stage.flush()
    online = []
    asr_cpu_s = 0.0
    for utterance in (dataclasses.replace(u, meeting_id="eval") for u in utterances if u.final):
        start = utterance.speech_start_ms if utterance.speech_start_ms is not None else utterance.start_ms
        end = utterance.speech_end_ms if utterance.speech_end_ms is not None else utterance.end_ms
        (labelled,) = attribution.label(utterance, [AsrSegment(start, end, "", "")])
        online.append(Turn(start / 1000, end / 1000, labelled.speaker or "?"))
        if transcriber is not None:
            began = time.process_time()  # whisper.cpp's threads are this process's
            transcriber.transcribe(utterance.audio, offset_ms=utterance.start_ms, language=cfg.asr.language)
            asr_cpu_s += time.process_time() - began
    refined = attribution.finish("eval")
    refined_turns = [
        Turn(t.start_s, t.end_s, refined.get((round(t.start_s * 1000), round(t.end_s * 1000)), t.speaker))
        for t in online
    ]
    audio_s = len(case.audio) / SAMPLE_RATE
    return Diarized(online, refined_turns, attribution.stats.cpu_s, asr_cpu_s if transcriber else None, audio_s)


def diarize_box(cfg, case: Case) -> Diarized:
    """The whole box on `case.audio` (written to a scratch WAV), as `edge transcribe` runs a file: the stored
    segments' speakers after the end-of-meeting pass. Its "ASR" CPU time is the whole run's but the speaker
    encoder's (ASR with the VAD, commits and the store: ASR is nearly all of it)."""
    import tempfile

    from edge.audio.files import write_wav
    from edge.commands.transcribe import transcribe_file

    health: dict = {}
    with tempfile.TemporaryDirectory(prefix="edge-eval-speakers-") as scratch:
        wav = Path(scratch) / "case.wav"
        write_wav(wav, case.audio)
        began = time.process_time()
        segments, _ = transcribe_file(cfg, wav, health=health.update)
        total_cpu_s = time.process_time() - began
    refined = [Turn(s.t0_ms / 1000, s.t1_ms / 1000, s.speaker or "?") for s in segments]
    speaker_cpu_s = float((health.get("speakers") or {}).get("cpu_s", 0.0))
    return Diarized(None, refined, speaker_cpu_s, total_cpu_s - speaker_cpu_s, len(case.audio) / SAMPLE_RATE)


def _row(case: Case, online: DerResult | None, refined: DerResult, outcome: Diarized) -> dict:
    return {
        "case": case.name,
        "composite": case.composite,
        "audio_s": round(outcome.audio_s, 1),
        "online": online.to_dict() if online else None,
        "refined": refined.to_dict(),
        "speaker_cpu_per_audio_s": round(outcome.speaker_cpu_s / outcome.audio_s, 4),
        "asr_cpu_per_audio_s": round(outcome.asr_cpu_s / outcome.audio_s, 4) if outcome.asr_cpu_s else None,
        "speaker_cpu_share_of_asr": round(outcome.speaker_cpu_s / outcome.asr_cpu_s, 4) if outcome.asr_cpu_s else None,
    }


def _print_table(report: dict) -> None:
    print(f"speaker diarization ({report['mode']} mode), collar {report['collar_s']} s, model {report['model']}")
    print(f"{'case':<78} {'DER online':>10} {'DER end':>8} {'speakers':>9} {'CPU/audio s':>11} {'of ASR':>7}")
    for row in report["cases"]:
        refined = row["refined"]
        count = f"{refined['hypothesis_speakers']}/{refined['reference_speakers']}"
        share = f"{row['speaker_cpu_share_of_asr']:.1%}" if row["speaker_cpu_share_of_asr"] is not None else "-"
        online = f"{row['online']['der']:.1%}" if row["online"] else "-"
        print(f"{row['case']:<78} {online:>10} {refined['der']:>8.1%} {count:>9} "
              f"{row['speaker_cpu_per_audio_s']:>11.4f} {share:>7}")  # fmt: skip
    print("DER = (missed + false alarm + confusion) / scored reference speech; speakers = found/true (end of meeting)")
