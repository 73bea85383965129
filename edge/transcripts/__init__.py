"""Whole transcripts in and out: export formats (txt, json, srt, vtt, md) and import of WebVTT, SRT and
our JSON. May import `edge.core`, `edge.store` and `edge.text` (imported text gets the glossary)."""
