from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge.commands.options import add_config_option
from edge.core.config import load_config
from edge.core.errors import UserError

EXIT_LLM_FAILED = 3  # the LLM's minutes failed; the extractive minutes were printed (and saved) instead
HELP = (
    "Write the minutes of a stored meeting with the local LLM (or, without one or with --extractive, the "
    "extractive minutes) and print them as Markdown (or JSON). Exit 3: the LLM's minutes failed and the "
    "extractive minutes stand in (the note says why)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("meeting_id", help="The meeting's id (as `edge import` printed it or the admin page shows).")
    parser.add_argument("--json", action="store_true", help="Print the minutes JSON document instead of Markdown.")
    add_config_option(parser)
    parser.add_argument("--model", type=Path, help="GGUF model to use instead of llm.model_path.")
    parser.add_argument(
        "--extractive",
        action="store_true",
        help="Write the extractive minutes (rules over the transcript, no LLM), as when no LLM is configured.",
    )


def _progress_printer() -> Any:
    last: list[tuple[str, int, int]] = []

    def show(event: dict[str, Any]) -> None:
        key = (event["stage"], event["done"], event["total"])
        if not last or last[-1] != key:
            last[:] = [key]
            print(f"minutes: {event['stage']} {event['done']}/{event['total']}", file=sys.stderr, flush=True)

    return show


def run(args: argparse.Namespace) -> int:
    from edge.llm.engine import LlmEngine
    from edge.minutes.generate import STATUS_FAILED, all_segments, generate_minutes, write_extractive_minutes
    from edge.minutes.markdown import render_minutes_markdown
    from edge.store import Store

    cfg = load_config(args.config)
    if args.extractive and args.model is not None:
        raise UserError("--extractive writes the minutes without an LLM; drop --model or --extractive")
    model = None if args.extractive else args.model or cfg.llm.model_path
    store = Store(cfg.database_path, outbox=cfg.mqtt.enabled)
    try:
        meeting = store.meeting(args.meeting_id)
        glossary = store.glossary()
        if model is None:
            outcome = write_extractive_minutes(store, meeting.id, config=cfg.minutes, glossary=glossary)
        else:
            with LlmEngine(
                Path(model).resolve(),
                n_ctx=cfg.llm.n_ctx,
                n_gpu_layers=cfg.llm.n_gpu_layers,
                threads=cfg.llm.threads,
                seed=cfg.llm.seed,
            ) as engine:
                outcome = generate_minutes(
                    store,
                    engine,
                    meeting.id,
                    config=cfg.minutes,
                    glossary=glossary,
                    progress=_progress_printer(),
                    model_name=Path(model).name,
                )
        how = " (extractive)" if outcome.extractive else ""
        print(
            f"minutes {outcome.status}{how}: {outcome.llm_calls} LLM calls, {outcome.prompt_tokens} prompt + "
            f"{outcome.completion_tokens} generated tokens, {outcome.seconds:.1f} s",
            file=sys.stderr,
        )
        if outcome.status == STATUS_FAILED or outcome.minutes is None:
            print(f"edge minutes: failed: {outcome.error}", file=sys.stderr)
            return 1
        if outcome.error:
            print(f"edge minutes: note: {outcome.error}", file=sys.stderr)
        llm_failed = outcome.extractive and model is not None
        if args.json:
            print(json.dumps(outcome.minutes.to_json_dict(), ensure_ascii=False, indent=2))
        else:
            print(
                render_minutes_markdown(
                    outcome.minutes,
                    all_segments(store, meeting.id),
                    started_at=meeting.started_at,
                    attendees=store.attendees(meeting.id),
                    status=outcome.status if outcome.status != "published" else None,
                ),
                end="",
            )
        return EXIT_LLM_FAILED if llm_failed else 0
    finally:
        store.close()
