"""One module per `edge` subcommand (see edge.commands.cli); the top of the house. May import every
part: `edge.core`, `edge.store`, the stages (`edge.audio`, `edge.asr`, `edge.text`, `edge.llm`,
`edge.minutes`, `edge.transcripts`, `edge.speaker`), `edge.pipeline`, `edge.publish`, `edge.api`, `edge.app` and
`edge.ops`. Nothing imports it but `edge.__main__`."""
