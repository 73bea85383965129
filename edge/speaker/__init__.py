"""Who is speaking: speaker embeddings of utterances (a real speaker encoder through onnxruntime), their online
clustering into S1, S2, ... during a meeting, and a re-clustering pass when it ends.
May import `edge.core`, `edge.ops` (mel filters) and `edge.audio` (its onnxruntime session)."""
