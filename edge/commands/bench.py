from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path

HELP = "Measure VAD, ASR and pipeline figures on a synthetic meeting (ratios against raw whisper.cpp)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"), help="Shared fixtures directory.")
    parser.add_argument(
        "--whisper-model", type=Path, default=Path("build/models/ggml-tiny-random.bin"),
        help="whisper.cpp model (default: the random-weight tiny model from `make random-models`).",
    )
    parser.add_argument(
        "--threads", type=int, default=max(1, (os.cpu_count() or 2) - 1),
        help="whisper.cpp threads (default: one core left for capture and VAD, as on the box).",
    )
    parser.add_argument("--max-tokens", type=int, default=32, help="Token cap per segment.")
    parser.add_argument("--repeats", type=int, default=1, help="Times the clip set is repeated in the meeting.")
    parser.add_argument("--rounds", type=int, default=3, help="Alternating pipeline/raw rounds (median reported).")
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")


def run(args: argparse.Namespace) -> int:
    from edge.core.errors import ModelError
    from edge.ops.bench import BenchSetup, run_benchmarks

    vad_model = args.fixtures / "models" / "silero_vad_v6.2.onnx"
    for path in (vad_model, args.whisper_model):
        if not path.is_file():
            raise ModelError(
                f"{path} not found; run `make random-models` and keep ../shared/fixtures beside the project"
            )
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as workdir:
        setup = BenchSetup(
            fixtures=args.fixtures,
            whisper_model=args.whisper_model.resolve(),
            vad_model=vad_model.resolve(),
            workdir=Path(workdir),
            threads=args.threads,
            max_tokens=args.max_tokens,
            repeats=args.repeats,
            rounds=args.rounds,
        )
        figures = run_benchmarks(setup, progress=lambda line: print(f"bench: {line}", file=sys.stderr, flush=True))
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    print(text)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    return 0
