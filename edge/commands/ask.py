from __future__ import annotations

import argparse
import json
from pathlib import Path

from edge.commands.options import add_config_option
from edge.core.config import load_config
from edge.core.errors import UserError

HELP = (
    "Ask a stored meeting a question: the best-matching lines (BM25), answered by the local LLM with the "
    "segments it cites when one is configured (or --model), else the lines themselves."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("meeting_id", help="The meeting's id (as `edge import` printed it or the admin page shows).")
    parser.add_argument("question", help='The question, e.g. "지라 정리는 누가 언제까지 하나요?".')
    add_config_option(parser)
    parser.add_argument("--model", type=Path, help="GGUF model to use instead of llm.model_path.")
    parser.add_argument("--no-llm", action="store_true", help="Only the best-matching lines, even with an LLM.")
    parser.add_argument("--json", action="store_true", help="Print the answer as JSON (as the API returns it).")


def run(args: argparse.Namespace) -> int:
    from edge.minutes.ask import ask
    from edge.minutes.generate import all_segments
    from edge.store import Store

    if not args.question.strip():
        raise UserError("the question is empty; ask something about the meeting")
    cfg = load_config(args.config)
    model = None if args.no_llm else args.model or cfg.llm.model_path
    store = Store(cfg.database_path, outbox=cfg.mqtt.enabled)
    try:
        meeting = store.meeting(args.meeting_id)
        segments = all_segments(store, meeting.id)
    finally:
        store.close()
    if model is None:
        answer = ask(segments, args.question, started_at=meeting.started_at)
    else:
        from edge.llm.engine import LlmEngine

        with LlmEngine(
            Path(model).resolve(), n_ctx=cfg.llm.n_ctx, n_gpu_layers=cfg.llm.n_gpu_layers, threads=cfg.llm.threads,
            seed=cfg.llm.seed,
        ) as engine:  # fmt: skip
            answer = ask(segments, args.question, engine=engine, model=Path(model).name, started_at=meeting.started_at)
    if args.json:
        print(json.dumps({"meeting_id": meeting.id, **answer.to_dict()}, ensure_ascii=False, indent=1))
        return 0
    print(answer.answer)
    if answer.note:
        print(f"({answer.note})")
    by_seq = {hit.seq: hit for hit in answer.hits}
    for seq in answer.citations:
        hit = by_seq[seq]
        seconds = hit.t0_ms // 1000
        print(f"  [#{seq} {seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}] {hit.text}")
    return 0
