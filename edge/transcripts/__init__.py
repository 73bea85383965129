"""Whole transcripts in and out: export formats (txt, json, srt, vtt, md) and import of WebVTT, SRT and
our JSON. May import `edge.core` and `edge.store`."""
