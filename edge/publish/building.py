"""A building of boxes as one broker sees them, from retained topics only: each box's `info` (room,
version), `available` (its last will), `state` and last `stats` (health, stamped). Pure: turns
(topic, payload) pairs into rows; `edge building` reads them from the broker and prints them."""

from __future__ import annotations

import json
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime, timezone

LEAVES = ("info", "available", "state", "stats")


@dataclass
class BoxView:
    device_id: str
    room: str = ""
    available: str = "unknown"  # online / offline (the last will) / unknown
    state: str = "unknown"
    meeting_id: str | None = None
    status: str | None = None  # the health verdict in its last stats
    rtf: float | None = None
    asr_backlog: int | None = None
    outbox_backlog: int | None = None
    drops_total: int | None = None
    stats_at: str | None = None
    sw_version: str | None = None
    configuration_url: str | None = None
    problems: list[str] = field(default_factory=list)  # retained payloads that could not be read

    def stats_age_s(self, now: datetime) -> float | None:
        if not self.stats_at:
            return None
        try:
            return max(0.0, (now - datetime.fromisoformat(self.stats_at)).total_seconds())
        except (TypeError, ValueError):
            return None


def topic_filters(prefix: str) -> list[str]:
    return [f"{prefix}/+/{leaf}" for leaf in LEAVES]


def building_view(messages: list[tuple[str, bytes]], prefix: str) -> list[BoxView]:
    """One row per box seen under `prefix`, in device-id order; an empty retained payload is a cleared topic."""
    boxes: dict[str, BoxView] = {}
    depth = prefix.count("/") + 1
    for topic, payload in messages:
        levels = topic.split("/")
        if len(levels) != depth + 2 or "/".join(levels[:depth]) != prefix or levels[-1] not in LEAVES:
            continue
        box = boxes.setdefault(levels[depth], BoxView(levels[depth]))
        if not payload:
            continue
        leaf = levels[-1]
        if leaf == "available":
            box.available = payload.decode("utf-8", "replace")
            continue
        try:
            body = json.loads(payload)
        except (json.JSONDecodeError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict):
            box.problems.append(f"{leaf} is not a JSON object")
            continue
        if leaf == "info":
            box.room = str(body.get("room") or "")
            box.sw_version = body.get("sw_version")
            box.configuration_url = body.get("configuration_url")
        elif leaf == "state":
            box.state = str(body.get("state") or "unknown")
            box.meeting_id = body.get("meeting_id")
        else:
            queues = body.get("queues")
            queues = queues if isinstance(queues, dict) else {}
            box.status, box.rtf, box.stats_at = body.get("status"), body.get("rtf"), body.get("at")
            box.asr_backlog, box.outbox_backlog = queues.get("asr_pending"), body.get("outbox_backlog")
            box.drops_total = body.get("drops_total")
    return [boxes[device_id] for device_id in sorted(boxes)]


def render_table(boxes: list[BoxView], now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    header = ("box", "room", "available", "state", "meeting", "health", "rtf", "asr", "outbox", "drops", "health age")
    rows = [header]
    for box in boxes:
        age = box.stats_age_s(now)
        rows.append((
            box.device_id, box.room or "-", box.available, box.state, box.meeting_id or "-", box.status or "-",
            "-" if box.rtf is None else f"{box.rtf:.2f}", _count(box.asr_backlog), _count(box.outbox_backlog),
            _count(box.drops_total), "-" if age is None else f"{age:.0f} s",
        ))  # fmt: skip
    widths = [max(_width(row[i]) for row in rows) for i in range(len(header))]
    return "\n".join("  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths, strict=True)).rstrip()
                     for row in rows)  # fmt: skip


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _width(text: str) -> int:
    """Columns on a terminal: Hangul and other wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)
