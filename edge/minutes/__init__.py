"""Minutes of a meeting: the schema and its validation, owners and due dates, map-reduce generation on
the LLM, and Markdown rendering. `schema` imports `edge.core` only (the store uses it); the rest may
import `edge.core`, `edge.text`, `edge.llm` and `edge.store`."""
