"""LLM minutes checked against the extractive minutes of the same transcript: an LLM action item whose
owner or due date contradicts what its cited lines say (as the rules of `edge.minutes.extractive`
read them) is repaired, its confidence capped at CONTRADICTED_CONFIDENCE, and the repair recorded.

Only contradictions with a clear reading are repaired: the floor must have an item on the same
segments, with a known owner (for owners) or a dated deadline (for due dates). A due date the LLM
gives that names a day is written as the floor writes it, the date first ("2026-03-06 (금요일까지)").
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from edge.minutes.due_dates import due_date_of, find_due
from edge.minutes.owners import NOBODY
from edge.minutes.schema import UNASSIGNED, ActionItem, MinutesContent

CONTRADICTED_CONFIDENCE = 0.6


def _normalised_due(due: str | None, day: date | None) -> str | None:
    if not due or day is None:
        return due
    when = due_date_of(due, day)
    if when is None or due.startswith(when.isoformat()):
        return due
    said = find_due(due, day)
    return f"{when.isoformat()} ({said.said if said else due})"


def cross_check(
    content: MinutesContent, floor: MinutesContent, day: date | None, claimed: Sequence[str] = ()
) -> tuple[MinutesContent, list[str]]:
    """(`content` with contradicted owners and due dates repaired, what was repaired). `claimed`: the
    owners the model wrote, before they were resolved (a name the evidence does not support became
    "unassigned", and is a contradiction all the same)."""
    repairs: list[str] = []
    items: list[ActionItem] = []
    for index, item in enumerate(content.action_items):
        cited = set(item.evidence)
        match = next((f for f in floor.action_items if cited & set(f.evidence)), None)
        update: dict[str, object] = {"due": _normalised_due(item.due, day)}
        if match is not None:
            where = f"action_items[{index}] (#{', #'.join(str(s) for s in sorted(cited & set(match.evidence)))})"
            claim = claimed[index] if index < len(claimed) else item.owner
            if match.owner != UNASSIGNED and item.owner != match.owner:
                repairs.append(f"{where}: owner {claim!r} contradicts its evidence, set to {match.owner!r}")
                update["owner"] = match.owner
                if claim.strip().casefold() not in NOBODY:
                    update["confidence"] = min(item.confidence, CONTRADICTED_CONFIDENCE)
            floor_day = due_date_of(match.due, day) if match.due and day else None
            llm_day = due_date_of(item.due, day) if item.due and day else None
            if floor_day is not None and llm_day != floor_day:
                what = f"due {item.due!r} contradicts its evidence" if item.due else "due added from its evidence"
                repairs.append(f"{where}: {what}, set to {match.due!r}")
                update["due"] = match.due
                if item.due:
                    update["confidence"] = min(item.confidence, CONTRADICTED_CONFIDENCE)
        items.append(item.model_copy(update=update))
    return content.model_copy(update={"action_items": items}), repairs
