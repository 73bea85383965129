from __future__ import annotations

import argparse
from pathlib import Path

from edge.core.errors import UserError

HELP = "Generate test and benchmark material (random-weight models of real shapes, composite meetings)."

# The Korean + English composite `make run` replays: Korean, English, then English read speech.
DEV_MEETING_CLIPS = ("audio/leopard/test_ko.wav", "audio/jfk.wav", "audio/leopard/test.wav")


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
    meeting = what.add_parser(
        "meeting",
        help="A composite 'meeting' WAV: real speech clips joined with pauses and low room noise.",
        description="Join speech clips (default: the Korean and English fixture clips) with seeded pauses "
        "of 1-2.5 s and room noise at -60 dBFS into one 16 kHz WAV; the same arguments give the same file. "
        "It is a composite, not a recorded meeting.",
    )
    meeting.add_argument("--out", type=Path, required=True, help="WAV file to write.")
    meeting.add_argument(
        "clips",
        nargs="*",
        type=Path,
        metavar="CLIP",
        help=f"Audio files in order (default: {', '.join(DEV_MEETING_CLIPS)} from the shared fixtures).",
    )
    meeting.add_argument("--fixtures", type=Path, help="Shared fixtures folder for the default clips.")
    meeting.add_argument("--seed", type=int, default=0, help="Seed of the pauses and noise (default 0).")
    transcript = what.add_parser(
        "transcript",
        help="A composite two-hour Korean meeting transcript with planted action items and decisions.",
        description="Write a composite Korean meeting transcript (edge JSON, `edge import` reads it) of six "
        "speakers around ten agenda items, with planted action items and decisions whose owners and due dates "
        "are listed in its `truth` section (`edge eval minutes` scores against it). Composed from sentence "
        "templates, not recorded; the same arguments give the same file.",
    )
    transcript.add_argument("--out", type=Path, required=True, help="JSON file to write.")
    transcript.add_argument("--seed", type=int, default=13, help="Seed (default 13).")
    transcript.add_argument("--segments", type=int, default=1600, help="Segments (default 1600, about two hours).")
    transcript.add_argument("--actions", type=int, default=30, help="Planted action items (default 30).")
    transcript.add_argument("--decisions", type=int, default=12, help="Planted decisions (default 12).")


def run(args: argparse.Namespace) -> int:
    if args.what == "meeting":
        return _meeting(args)
    if args.what == "transcript":
        return _transcript(args)
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


def _meeting(args: argparse.Namespace) -> int:
    from edge.audio.files import write_wav
    from edge.ops.synth.meeting_audio import build_meeting
    from edge.ops.synth.whisper_model import default_stub_path

    fixtures = args.fixtures or default_stub_path().parents[1]
    clips = args.clips or [fixtures / clip for clip in DEV_MEETING_CLIPS]
    for clip in clips:
        if not clip.is_file():
            raise UserError(f"{clip} not found; give existing audio files (or --fixtures for the default clips)")
    meeting = build_meeting(clips, seed=args.seed)
    write_wav(args.out, meeting.audio)
    spans = ", ".join(f"{start:.1f}-{end:.1f}" for start, end in meeting.speech_spans_s)
    print(f"{args.out}: composite of {len(clips)} clips, {meeting.duration_s:.1f} s, speech at {spans} s")
    return 0


def _transcript(args: argparse.Namespace) -> int:
    import json

    from edge.ops.synth.minutes_meeting import compose_meeting

    if args.segments < 100 or args.actions < 1 or args.decisions < 0 or args.actions > args.segments // 20:
        raise UserError("give --segments of at least 100 and at most one action item per 20 segments")
    document = compose_meeting(
        seed=args.seed, segments=args.segments, actions=args.actions, decisions=args.decisions
    )
    args.out.write_text(json.dumps(document, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    hours = document["segments"][-1]["t1_ms"] / 3_600_000
    truth = document["truth"]
    print(
        f"{args.out}: composite Korean meeting, {len(document['segments'])} segments, {hours:.2f} h, "
        f"{len(truth['action_items'])} planted action items, {len(truth['decisions'])} decisions (seed {args.seed})"
    )
    return 0
