"""Audio in: microphone and file capture, Silero VAD (onnxruntime, or TensorRT on the Jetson), the
meeting audio archive, audio file decoding, and the recording that joins them for one meeting.
May import `edge.core` and, for the TensorRT engine cache, `edge.ops`."""
