"""Minutes of a meeting: the schema and its validation, owners and due dates, map-reduce generation on
the LLM with its quality gates and cross-check, the extractive minutes (the floor without a model),
asking the meeting a question, and Markdown rendering. May import `edge.core`, `edge.text`, `edge.llm`
and `edge.store`, except `schema`, which the store uses: it imports `edge.core` only."""
