"""JSON from outside the box (API bodies, imported transcripts, MQTT commands), bounded before it is parsed.

Python's parser recurses once per nesting level, so a body of a million brackets ends in RecursionError
deep inside whoever parsed it; and it turns a lone surrogate escape ("\\ud800") into a string that SQLite,
UTF-8 and every JSON renderer refuse later. Both are refused here, first, as a UserError.
"""

from __future__ import annotations

import json
import re
from typing import Any

from edge.core.errors import UserError

MAX_JSON_DEPTH = 32
"""Deeper than any document the box reads (a transcript export or minutes are 4-5 levels)."""

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


class JsonRefused(UserError):
    """JSON that is too large, too deeply nested, malformed or not valid Unicode."""


def nesting_depth(data: bytes) -> int:
    """The deepest nesting of arrays and objects in `data` (brackets inside strings do not count)."""
    depth = deepest = 0
    for bracket in _BRACKET.finditer(_STRING.sub(b'""', data)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def has_lone_surrogate(value: Any) -> bool:
    """Whether any string (key or value) in a parsed JSON document holds a surrogate code point."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return True
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return False


def check_json(data: bytes | str, *, what: str, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> None:
    """Raise JsonRefused when `data` is larger than `max_bytes` or nested deeper than `max_depth`,
    before anything parses it. `what` names the document in the message ("the body", "x.json")."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_bytes:
        raise JsonRefused(f"{what} is {len(raw)} bytes of JSON; at most {max_bytes} are allowed")
    depth = nesting_depth(raw)
    if depth > max_depth:
        raise JsonRefused(
            f"{what} is JSON nested {depth} levels deep; at most {max_depth} levels are allowed"
        )


def loads_strict(data: bytes | str, *, what: str, max_bytes: int, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """`json.loads` after `check_json`, refusing malformed JSON and lone surrogates with JsonRefused."""
    check_json(data, what=what, max_bytes=max_bytes, max_depth=max_depth)
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise JsonRefused(f"{what} is not valid JSON: {exc}") from None
    except UnicodeDecodeError as exc:
        raise JsonRefused(f"{what} is not valid JSON: it is not UTF-8 text ({exc.reason})") from None
    check_unicode(value, what=what)
    return value


def check_unicode(value: Any, *, what: str) -> None:
    """Raise JsonRefused when a parsed document holds a lone surrogate (see `has_lone_surrogate`)."""
    if has_lone_surrogate(value):
        raise JsonRefused(
            f"{what} holds a lone surrogate (an escape such as \\ud800 that is not half of a pair), "
            "which is not valid Unicode text; send the characters themselves, UTF-8 encoded"
        )
