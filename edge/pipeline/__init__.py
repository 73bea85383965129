"""What the running box does with a meeting and a segment, whoever asks (API, MQTT or CLI): the control
protocol, the recording of a meeting, segment commit, LLM scheduling, file jobs and segment editing.
May import `edge.core`, `edge.store` and every stage package (`edge.audio`, `edge.asr`, `edge.text`,
`edge.llm`, `edge.minutes`, `edge.transcripts`). The API, MQTT and the commands sit on top of it."""
