from __future__ import annotations

import argparse
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from edge.core.config import Config, load_config
from edge.core.events import Segment
from edge.text.glossary import Glossary
from edge.transcripts.formats import FORMATS, render

HELP = (
    "Transcribe an audio file with the box's own pipeline (VAD, whisper.cpp, firewall, the team glossary) "
    "and print it."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("file", type=Path, help="Audio file: WAV, FLAC, MP3 or OGG.")
    parser.add_argument("--format", choices=FORMATS, default="txt", help="Output format (default txt).")
    parser.add_argument("--config", type=Path, help="TOML configuration (models, VAD and ASR settings).")
    parser.add_argument("--model", type=Path, help="whisper.cpp model file (overrides asr.model_path).")
    parser.add_argument("--vad-model", type=Path, help="Silero VAD ONNX model (overrides vad.model_path).")
    parser.add_argument("--language", help='Decoding language such as "ko", "en" or "auto".')
    parser.add_argument("--output", "-o", type=Path, help="Write here instead of standard output.")
    parser.add_argument(
        "--glossary",
        type=Path,
        metavar="FILE.csv",
        help="Glossary CSV to correct with (default: the team glossary in the configured database).",
    )


def run(args: argparse.Namespace) -> int:
    cfg = load_config(args.config)
    if args.model:
        cfg.asr.model_path = args.model
    if args.vad_model:
        cfg.vad.model_path = args.vad_model
    if args.language:
        cfg.asr.language = args.language
    glossary = Glossary.from_csv(args.glossary) if args.glossary is not None else None
    segments, meeting = transcribe_file(cfg, args.file, glossary=glossary)
    text = render(segments, args.format, meeting=meeting)
    if args.output:
        args.output.write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


def transcribe_file(
    cfg: Config, path: Path, *, glossary: Glossary | None = None, health: Callable[[dict], object] | None = None
) -> tuple[list[Segment], dict]:
    """The committed segments and the meeting record of `path` run through the box as `cfg` sets it up,
    as fast as it goes (no real-time pacing, partial text, archive, MQTT or API; storage in a scratch
    folder). Segments are corrected with `glossary`, by default the team glossary of `cfg`'s database.
    `health` is given the box's health once the meeting has ended (its counters of the run)."""
    from edge.app import Box
    from edge.audio.files import audio_duration
    from edge.store import Store

    duration_s = audio_duration(path)
    if glossary is None:
        glossary = team_glossary(cfg)
    cfg = cfg.model_copy(deep=True)
    with tempfile.TemporaryDirectory(prefix="edge-transcribe-") as scratch:
        cfg.storage.path = Path(scratch)
        if len(glossary):
            scratch_store = Store(cfg.database_path, outbox=False)
            try:
                scratch_store.import_glossary(glossary)
            finally:
                scratch_store.close()
        cfg.audio.source = f"file:{path.resolve()}"
        cfg.audio.realtime = False
        cfg.audio.archive = False
        cfg.asr.partial_interval_ms = 0
        cfg.mqtt.enabled = False
        cfg.api.enabled = False
        box = Box(cfg)
        box.open()
        try:
            meeting = box.start_meeting(title=path.name)
            show = duration_s > 0 and (sys.stderr.isatty() or duration_s > 60)
            _wait_with_progress(box, duration_s, show)
            box.stop_meeting()  # the last utterance, if the file ends in speech
            if show:
                _show_progress(duration_s, duration_s)
                print("", file=sys.stderr)
            segments = box.store.segments(meeting.id, limit=1_000_000)
            record = box.store.meeting(meeting.id).to_dict()
            if health is not None:
                health(box.health())
        finally:
            box.close()
    return segments, record


def team_glossary(cfg: Config) -> Glossary:
    """The glossary in the database `cfg` points at; empty when there is no database yet."""
    from edge.store import Store

    if not cfg.database_path.is_file():
        return Glossary()
    store = Store(cfg.database_path, outbox=cfg.mqtt.enabled)
    try:
        return store.glossary()
    finally:
        store.close()


def _wait_with_progress(box, duration_s: float, show: bool) -> None:
    """Wait until the file is read and every utterance handed over is through speech recognition, showing
    how much of its audio is decoded (reading runs ahead of it)."""
    recording = box.recording
    while True:
        read = recording.wait_source_done(1.0)
        if show:
            _show_progress(min(box.decoded_ms(recording) / 1000, duration_s), duration_s)
        if read and not box.feed.busy:
            return


def _show_progress(position_s: float, duration_s: float) -> None:
    print(f"\rtranscribing: {position_s:6.0f}/{duration_s:.0f} s ({100 * position_s / duration_s:3.0f}%)",
          end="", file=sys.stderr, flush=True)
