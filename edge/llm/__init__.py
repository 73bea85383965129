"""The local LLM: the llama.cpp engine (the only llama_cpp importer), the one-owner-thread worker and
transcript correction. May import `edge.core`, `edge.text` and `edge.store`."""
