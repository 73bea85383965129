from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

HELP = "Measure the box's ASR and LLM figures on a Korean and English meeting (ratios against the raw libraries)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--fixtures", type=Path, default=Path("../shared/fixtures"), help="Shared fixtures directory.")
    parser.add_argument(
        "--whisper-model", type=Path, default=Path("build/models/ggml-base.bin"),
        help="whisper.cpp model (default: the real Whisper base that `make setup` converts).",
    )
    parser.add_argument(
        "--random-shape", choices=("tiny", "base"),
        help="Instead of --whisper-model, a random-weight model of this shape made for the run (speed only).",
    )
    parser.add_argument(
        "--faster-whisper-model", type=Path, default=Path("build/models/faster-whisper-base"),
        help="CTranslate2 folder of the same weights for the faster-whisper peer (skipped when missing "
        "or when faster-whisper is not installed).",
    )
    parser.add_argument(
        "--llm-model", type=Path, default=Path("build/models/gemma-3-270m-q4_k_m.gguf"),
        help="GGUF model for the LLM figures (skipped when missing).",
    )
    parser.add_argument("--threads", type=int, default=2, help="whisper.cpp and llama.cpp threads.")
    parser.add_argument(
        "--latency-threads", default="1,2", help="Thread counts of the real-time replays, comma-separated."
    )
    parser.add_argument("--json", type=Path, help="Also write the figures to this JSON file.")
    parser.add_argument(
        "--only-upload-priority", action="store_true",
        help="Only the live meeting during a large upload: live drops and latency with and without it.",
    )
    parser.add_argument("--live-minutes", type=float, default=3.0,
                        help="Length of that live meeting, replayed in real time (default 3).")
    parser.add_argument(
        "--upload-mb", type=float, default=100.0, help="Size of the WAV uploaded meanwhile (default 100)."
    )


def run(args: argparse.Namespace) -> int:
    from edge.core.errors import ModelError, UserError
    from edge.ops.bench.peer import faster_whisper_available
    from edge.ops.bench.report import table
    from edge.ops.bench.suite import VAD_MODEL, BenchSetup, run_benchmarks

    try:
        latency_threads = tuple(int(part) for part in args.latency_threads.split(","))
    except ValueError:
        raise UserError(f"--latency-threads {args.latency_threads!r}: give thread counts like 1,2") from None
    if args.threads < 1 or min(latency_threads) < 1:
        raise UserError("--threads and --latency-threads must be at least 1")
    if not (0 < args.live_minutes <= 120 and 0 < args.upload_mb <= 2000):
        raise UserError("--live-minutes must be in (0, 120] and --upload-mb in (0, 2000]")
    if not (args.fixtures / VAD_MODEL).is_file():
        raise ModelError(f"{args.fixtures / VAD_MODEL} not found; keep ../shared/fixtures beside the project")
    if args.random_shape is None and not args.whisper_model.is_file():
        raise ModelError(f"{args.whisper_model} not found; run `make setup` (it converts the real Whisper base)")

    def progress(line: str) -> None:
        print(f"bench: {line}", file=sys.stderr, flush=True)

    peer = args.faster_whisper_model if args.faster_whisper_model.is_dir() else None
    if peer is not None and not faster_whisper_available():
        progress("faster-whisper is not installed (pip install -e '.[dev]'): no peer figure")
        peer = None
    llm = args.llm_model.resolve() if args.llm_model.is_file() else None
    if llm is None:
        progress(f"{args.llm_model} not found: no LLM figures")
    with tempfile.TemporaryDirectory(prefix="edge-bench-") as workdir:
        whisper_model = args.whisper_model
        if args.random_shape is not None:
            from edge.ops.synth.whisper_model import write_random_whisper_model

            stub = args.fixtures / "models" / "ggml-tiny-vocab-only-stub.bin"
            whisper_model = write_random_whisper_model(stub, Path(workdir) / f"ggml-{args.random_shape}-random.bin",
                                                       shape=args.random_shape)
        setup = BenchSetup(
            fixtures=args.fixtures,
            whisper_model=whisper_model.resolve(),
            workdir=Path(workdir),
            threads=args.threads,
            latency_threads=latency_threads,
            faster_whisper_model=None if args.random_shape else peer,
            llm_model=llm,
            random_weights=args.random_shape is not None,
            live_minutes=args.live_minutes,
            upload_mb=args.upload_mb,
            only_upload_priority=args.only_upload_priority,
        )
        figures = run_benchmarks(setup, progress=progress)
    text = json.dumps(figures, indent=2, ensure_ascii=False)
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(text + "\n", encoding="utf-8")
    print(table(figures))
    return 0
