"""Building, provisioning and measuring the box: native CUDA builds, TensorRT engines, device profiles
and memory budget, the model manifest and fetch, the systemd watchdog and notify, and the benchmark.
`ops.synth` holds dev-only generators (random-weight models, synthetic meetings), never used by the
product at run time. May import `edge.core`; `synth` also `edge.audio`, `edge.asr` and `edge.speaker`
(a diarization reference's turns), and `bench` (which runs a real box, uploads through its API, and the
LLM engine) also `edge.app`, `edge.api` and `edge.llm`."""
