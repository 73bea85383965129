"""`edge eval minutes COMPOSITE.json`: the extractive minutes against the planted truth of a composite
meeting (`edge synth transcript`): precision and recall of action items and decisions, owner and due
date accuracy of the items found, and the floor's time. Exit 1 below the thresholds."""

from __future__ import annotations

import argparse
import json
import statistics
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from edge.core.errors import UserError
from edge.core.events import Segment
from edge.minutes.due_dates import due_date_of
from edge.minutes.extractive import extract_minutes
from edge.minutes.schema import MinutesContent


def add_arguments(suites: argparse._SubParsersAction) -> None:
    minutes = suites.add_parser(
        "minutes",
        help="The extractive minutes on a composite meeting with planted action items and decisions.",
        description="Run the extractive minutes on a composite meeting written by `edge synth transcript` and "
        "score them against its planted truth: an action item is found when one item cites the planted "
        "request or promise; its owner and due date (as a date) must match.",
    )
    minutes.add_argument("composite", type=Path, metavar="COMPOSITE", help="JSON file of `edge synth transcript`.")
    minutes.add_argument("--min-recall", type=float, default=0.9, help="Exit 1 below this recall (default 0.9).")
    minutes.add_argument(
        "--min-precision", type=float, default=0.85, help="Exit 1 below this precision (default 0.85)."
    )
    minutes.add_argument("--max-seconds", type=float, default=5.0, help="Exit 1 above this time (default 5).")
    minutes.add_argument("--repeat", type=int, default=5, help="Timed runs; the median is reported (default 5).")
    minutes.add_argument("--json", action="store_true", help="Print the figures as one JSON object.")
    minutes.add_argument("-v", "--verbose", action="store_true", help="List every miss and false item.")


@dataclass(frozen=True)
class MinutesScore:
    planted: int
    found: int
    extracted: int
    owners_right: int
    dues_right: int
    decisions_planted: int
    decisions_found: int
    decisions_extracted: int
    decisions_right: int
    seconds: float
    segments: int
    problems: tuple[str, ...]

    @property
    def recall(self) -> float:
        return self.found / self.planted if self.planted else 1.0

    @property
    def precision(self) -> float:
        return self.found / self.extracted if self.extracted else 1.0

    def to_dict(self) -> dict[str, Any]:

        def ratio(part: int, whole: int) -> float:
            return round(part / whole, 4) if whole else 1.0

        return {
            "segments": self.segments,
            "action_items": {
                "planted": self.planted, "extracted": self.extracted, "found": self.found,
                "recall": ratio(self.found, self.planted), "precision": ratio(self.found, self.extracted),
                "owner_accuracy": ratio(self.owners_right, self.found),
                "due_accuracy": ratio(self.dues_right, self.found),
            },
            "decisions": {
                "planted": self.decisions_planted, "extracted": self.decisions_extracted,
                "recall": ratio(self.decisions_found, self.decisions_planted),
                "precision": ratio(self.decisions_right, self.decisions_extracted),
            },
            "seconds": round(self.seconds, 4),
        }  # fmt: skip


def read_composite(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UserError(f"{path} does not exist; write one with `edge synth transcript --out {path}`") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise UserError(f"{path} is not a JSON document ({exc})") from None
    if not isinstance(document, dict) or "truth" not in document or "segments" not in document:
        raise UserError(f"{path} has no planted truth; use a file written by `edge synth transcript`")
    return document


def score(document: dict[str, Any], *, repeat: int = 1) -> MinutesScore:
    meeting = document.get("meeting") or {}
    language = meeting.get("language") or "ko"
    segments = [
        Segment("composite", seq, s["t0_ms"], s["t1_ms"], s["text"], language)
        for seq, s in enumerate(document["segments"])
    ]
    times = []
    content: MinutesContent | None = None
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        content = extract_minutes(segments, language=language, started_at=meeting.get("started_at"),
                                  title=meeting.get("title") or "").content  # fmt: skip
        times.append(time.perf_counter() - started)
    assert content is not None
    truth = document["truth"]
    day = date.fromisoformat(truth["meeting_day"])
    texts = {s.seq: s.text_raw for s in segments}
    problems: list[str] = []
    used: set[int] = set()
    owners = dues = 0
    for planted in truth["action_items"]:
        first = planted["seqs"][0]
        match = next((i for i, a in enumerate(content.action_items) if first in a.evidence and i not in used), None)
        if match is None:
            problems.append(f"missed #{first}: {texts[first]}")
            continue
        used.add(match)
        item = content.action_items[match]
        if item.owner == planted["owner"]:
            owners += 1
        else:
            problems.append(f"owner #{first}: {item.owner!r}, planted {planted['owner']!r}: {texts[first]}")
        said = due_date_of(item.due, day) if item.due else None
        if (said.isoformat() if said else None) == planted["due"]:
            dues += 1
        else:
            problems.append(f"due #{first}: {item.due!r}, planted {planted['due']!r}: {texts[first]}")
    for index, item in enumerate(content.action_items):
        if index not in used:
            problems.append(f"false item {item.evidence}: {texts[item.evidence[0]]}")
    decided = {d["seq"] for d in truth["decisions"]}
    cited = [set(d.evidence) for d in content.decisions]
    right = sum(1 for seqs in cited if seqs & decided)
    problems += [f"false decision {sorted(seqs)}: {texts[min(seqs)]}" for seqs in cited if not seqs & decided]
    found_decisions = len(decided & set().union(*cited)) if cited else 0
    problems += [f"missed decision #{seq}: {texts[seq]}" for seq in sorted(decided - set().union(*cited, set()))]
    return MinutesScore(
        planted=len(truth["action_items"]), found=len(used), extracted=len(content.action_items),
        owners_right=owners, dues_right=dues, decisions_planted=len(decided), decisions_found=found_decisions,
        decisions_extracted=len(cited), decisions_right=right, seconds=statistics.median(times),
        segments=len(segments), problems=tuple(problems),
    )  # fmt: skip


def run(args: argparse.Namespace) -> int:
    result = score(read_composite(args.composite), repeat=args.repeat)
    figures = result.to_dict()
    if args.json:
        print(json.dumps({**figures, "problems": list(result.problems)}, ensure_ascii=False))
    else:
        a, d = figures["action_items"], figures["decisions"]
        print(f"extractive minutes on {result.segments} segments: {result.seconds:.3f} s (median of {args.repeat})")
        print(
            f"action items: planted {a['planted']}, extracted {a['extracted']}, found {a['found']}: "
            f"recall {a['recall']:.1%}, precision {a['precision']:.1%}, owners {a['owner_accuracy']:.1%}, "
            f"due dates {a['due_accuracy']:.1%}"
        )
        print(
            f"decisions: planted {d['planted']}, extracted {d['extracted']}: recall {d['recall']:.1%}, "
            f"precision {d['precision']:.1%}"
        )
        if args.verbose:
            for problem in result.problems:
                print(f"  {problem}")
    ok = result.recall >= args.min_recall and result.precision >= args.min_precision
    return 0 if ok and result.seconds <= args.max_seconds else 1
