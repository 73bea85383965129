"""What the running box does with a meeting and a segment, whoever asks (API, MQTT or CLI): the control
protocol, the recording of a meeting, the ASR feed, segment commit, the live relay, LLM scheduling, file
jobs, and the records people read and edit.
May import `edge.core`, `edge.store` and every stage package (`edge.audio`, `edge.asr`, `edge.text`,
`edge.llm`, `edge.minutes`, `edge.transcripts`, `edge.speaker`). The API, MQTT and the commands sit on top of it."""
