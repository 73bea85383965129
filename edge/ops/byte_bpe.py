"""GPT-2's byte-level BPE alphabet, shared by Whisper's and Qwen's vocabularies."""

from __future__ import annotations

from functools import cache


@cache
def byte_to_unicode() -> dict[int, str]:
    """GPT-2's reversible byte -> printable character map used by byte-level BPE vocabularies."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    mapping = {b: chr(b) for b in printable}
    extra = 0
    for b in range(256):
        if b not in mapping:
            mapping[b] = chr(256 + extra)
            extra += 1
    return mapping


@cache
def _unicode_to_byte() -> dict[str, int]:
    return {char: byte for byte, char in byte_to_unicode().items()}


def token_bytes(token: str) -> bytes:
    """The raw bytes of a byte-level BPE token as tokenizer.json spells it; ValueError if it is not one."""
    table = _unicode_to_byte()
    try:
        return bytes(table[char] for char in token)
    except KeyError as exc:
        raise ValueError(f"token {token!r} has a character outside the byte-level alphabet: {exc.args[0]!r}") from None
