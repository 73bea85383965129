from __future__ import annotations

import argparse
from pathlib import Path

from edge.core.errors import UserError

HELP = "Generate test and benchmark material (random-weight models of real shapes)."


def add_arguments(parser: argparse.ArgumentParser) -> None:
    what = parser.add_subparsers(dest="what", metavar="WHAT", required=True)
    whisper = what.add_parser(
        "whisper",
        help="A whisper.cpp model of the real tiny or base shape with random weights (for speed tests).",
        description="Write a whisper.cpp ggml model of the real tiny or base shape with random weights, "
        "built from whisper.cpp's vocab-only test model; it runs at the real cost but its text is nonsense.",
    )
    whisper.add_argument("--shape", choices=("tiny", "base"), default="tiny", help="Model shape (default tiny).")
    whisper.add_argument("--out", type=Path, required=True, help="Model file to write.")
    whisper.add_argument(
        "--stub",
        type=Path,
        help="whisper.cpp's vocab-only test model ggml-tiny-vocab-only-stub.bin "
        "(default: the shared fixtures beside this checkout, or $EDGE_FIXTURES_DIR/models).",
    )
    whisper.add_argument("--seed", type=int, default=0, help="Random seed; the same seed gives the same file.")
    whisper.add_argument(
        "--no-verify", action="store_true", help="Skip the test transcription of the new file (in a subprocess)."
    )


def run(args: argparse.Namespace) -> int:
    from edge.ops.synth.whisper_model import default_stub_path, verify_whisper_model, write_random_whisper_model

    stub = args.stub or default_stub_path()
    out = write_random_whisper_model(stub, args.out, shape=args.shape, seed=args.seed)
    if not args.no_verify:
        try:
            verify_whisper_model(out.absolute())
        except UserError:
            out.unlink(missing_ok=True)
            raise
    size_mb = out.stat().st_size / 1e6
    print(
        f"{out}: random-weight whisper {args.shape} ({size_mb:.1f} MB, seed {args.seed})"
        + ("" if args.no_verify else ", verified")
    )
    return 0
