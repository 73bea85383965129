"""Text of a segment after ASR: Hangul and Han-script helpers, the hallucination firewall, the glossary
(store-independent terms and matching), its whisper prompt and suggestions, and the postprocessor that
applies them in order. Pure Python. May import `edge.core` only."""
