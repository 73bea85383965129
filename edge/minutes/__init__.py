"""Minutes of a meeting: the schema and its validation, owners and due dates, map-reduce generation on
the LLM, and Markdown rendering. May import `edge.core`, `edge.text`, `edge.llm` and `edge.store`,
except `schema`, which the store uses: it imports `edge.core` only."""
