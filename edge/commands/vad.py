"""`edge vad FILE`: where the speech is, by the same segmenter the live pipeline uses."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

HELP = "Print the speech segments the VAD finds in an audio file."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, metavar="FILE", help="Audio file (WAV, FLAC, MP3, OGG, ...).")
    parser.add_argument("--json", action="store_true", help='Print {"segments": [{"start": s, "end": s}]}.')
    parser.add_argument("--config", type=Path, default=None, help="Configuration file (TOML).")
    parser.add_argument("--model", type=Path, default=None, help="Silero VAD ONNX model (overrides vad.model_path).")


def run(args: argparse.Namespace) -> int:
    from edge.audio.files import iter_audio_blocks
    from edge.audio.vad import load_vad_model, speech_segments
    from edge.core.config import load_config
    from edge.core.events import SAMPLE_RATE

    cfg = load_config(args.config).vad
    if args.model is not None:
        cfg = cfg.model_copy(update={"model_path": args.model})
    model = load_vad_model(cfg)
    blocks = iter_audio_blocks(args.file, 10 * SAMPLE_RATE)
    segments = speech_segments(blocks, cfg, model)
    if args.json:
        payload = {"segments": [{"start": round(start, 3), "end": round(end, 3)} for start, end in segments]}
        print(json.dumps(payload))
        return 0
    if not segments:
        print(f"{args.file}: no speech found")
        return 0
    print(f"{'#':>3}  {'start s':>9}  {'end s':>9}  {'length s':>8}")
    for number, (start, end) in enumerate(segments, 1):
        print(f"{number:>3}  {start:>9.3f}  {end:>9.3f}  {end - start:>8.3f}")
    total = sum(end - start for start, end in segments)
    print(f"{len(segments)} segments, {total:.3f} s of speech")
    return 0
