"""Who wrote the minutes once a person edits them: the document's `model` follows the edits, so a
draft rewritten by hand no longer says the model wrote it.

An edit that leaves every text field as it was keeps the author; one that changes some of them gives
"MODEL (edited by a person)"; one that changes nearly all of them (REWRITTEN_SHARE) gives
"a person (rewritten from MODEL)".
"""

from __future__ import annotations

import json
import re
from typing import Any

EDITED = " (edited by a person)"
REWRITTEN = re.compile(r"^a person \(rewritten from (.*)\)$")
REWRITTEN_SHARE = 0.9
_ITEM_FIELDS = {
    "topics": ("title", "summary"),
    "decisions": ("text",),
    "action_items": ("task", "owner", "due"),
    "open_questions": ("text",),
}


def original_author(model: str) -> str:
    """The model behind an author text this module wrote ("stories260K.gguf (edited by a person)")."""
    rewritten = REWRITTEN.match(model)
    if rewritten:
        return rewritten.group(1)
    return model.removesuffix(EDITED)


def _fields(document: dict[str, Any]) -> list[str]:
    values = [str(document.get("title", "")), str(document.get("summary", ""))]
    for key, names in _ITEM_FIELDS.items():
        for item in document.get(key) or []:
            if isinstance(item, dict):
                values.append(json.dumps([item.get(name) for name in names], ensure_ascii=False))
    return values


def author_after_edit(before: dict[str, Any], after: dict[str, Any]) -> str:
    """The `model` text of `after`, an edit of `before` (both whole minutes documents)."""
    model = original_author(str(before.get("model", "")))
    old, new = _fields(before), _fields(after)
    if old == new:
        return str(before.get("model", ""))
    kept = len(set(old) & set(new))
    changed_share = 1 - kept / max(len(old), len(new))
    if changed_share >= REWRITTEN_SHARE:
        return f"a person (rewritten from {model})" if model else "a person"
    return f"{model}{EDITED}" if model else "a person"
