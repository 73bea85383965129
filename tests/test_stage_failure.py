"""No stage thread dies silently (issue 17, finding 2): whatever ends the VAD thread of a recording is kept,
ends its source (nothing waits for it for ever) and is told as the reason; the box's health names it."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from edge.core.config import Config
from edge.core.events import Utterance
from edge.pipeline.box_health import stage_problem, verdict
from edge.pipeline.recording import Recording
from edge.store import Store

WAIT_S = 60  # an upper bound for a short file to be read, not a performance expectation


def test_a_failing_vad_thread_is_kept_as_the_recordings_failure(
    tmp_path: Path, fixture_file: Callable[[str], Path]
) -> None:
    cfg = Config.model_validate({
        "audio": {"source": f"file:{fixture_file('audio/jfk.wav')}", "realtime": False},
        "vad": {"model_path": str(fixture_file("models/silero_vad_v6.2.onnx"))},
        "storage": {"path": str(tmp_path / "data")},
    })  # fmt: skip
    store = Store(cfg.database_path)
    try:
        meeting = store.create_meeting(language="en", source=cfg.audio.source, title="", room="")

        def submit(utterance: Utterance, wait: bool) -> None:
            raise RuntimeError("ASR queue gone")

        recording = Recording(cfg, meeting, submit=submit, store=store)
        recording.start()
        assert recording.wait_source_done(WAIT_S)
        recording.stop()
        assert recording.failure == "RuntimeError: ASR queue gone"
        assert isinstance(recording.source_error, RuntimeError)
        assert "VAD stage stopped" in str(recording.source_error)
        assert recording.failed_stage == ("VAD", "RuntimeError: ASR queue gone")
        problem = stage_problem(*recording.failed_stage)
        assert verdict([problem]) == "error" and problem.to_payload()["code"] == "stage_stopped"
    finally:
        store.close()
