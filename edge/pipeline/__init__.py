"""What the running box does with a meeting and a segment, whoever asks (API, MQTT or CLI): the control
protocol, segment commit, LLM scheduling, file jobs and segment editing. May import every stage
package (`core`, `audio`, `asr`, `text`, `llm`, `minutes`, `transcripts`) and `edge.store`; never
`api`, `publish` or `commands`."""
