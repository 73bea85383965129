"""Audio in: microphone and file capture, Silero VAD (onnxruntime, or TensorRT on the Jetson), the
meeting audio archive and audio file decoding (the recording that joins them is in `edge.pipeline`).
May import `edge.core` and, for the TensorRT engine cache, `edge.ops`."""
