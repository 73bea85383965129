"""`make bench`: the box's ASR and LLM figures against the raw libraries on the same work (see suite)."""
