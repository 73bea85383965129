"""The box's local HTTP API and admin page: `edge.api.app.create_app` builds the FastAPI app,
`edge.api.server.ApiServer` runs it with uvicorn in a thread. One router module per area.
May import `edge.core`, `edge.store`, `edge.pipeline` and, for their types and formats, `edge.audio`,
`edge.text`, `edge.minutes` and `edge.transcripts`."""
