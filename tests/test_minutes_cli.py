"""`edge minutes MEETING_ID [--json]`: generates with the configured store and the real fixture
model (llama.cpp), prints Markdown or JSON, and reports user errors as one line with exit 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest
from synth_korean_meeting import small_meeting_fields

from edge.commands.cli import main
from edge.core.config import load_config
from edge.minutes.schema import validate_minutes
from edge.store import Store


def write_config(tmp_path: Path, model: Path | None, **minutes: object) -> Path:
    lines = ["[storage]", f'path = "{tmp_path / "data"}"', "[llm]", "n_ctx = 2048", "threads = 1"]
    if model is not None:
        lines.append(f'model_path = "{model}"')
    lines.append("[minutes]")
    lines += [f"{key} = {json.dumps(value)}" for key, value in minutes.items()]
    path = tmp_path / "edge.toml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def add_meeting(config: Path) -> str:
    store = Store(load_config(config).database_path)
    try:
        meeting = store.create_meeting(language="en", source="import", status="imported", title="infra")
        store.add_segments(meeting.id, small_meeting_fields("en")[:6])
        return meeting.id
    finally:
        store.close()


@pytest.fixture
def stories(fixture_file: Callable[[str], Path]) -> Path:
    return fixture_file("models/stories260K.gguf")


def test_json_output_is_a_valid_minutes_document(
    tmp_path: Path, stories: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, stories, output_tokens=200, max_attempts=2)
    meeting_id = add_meeting(config)
    # stories260K's minutes say nothing checkable: the extractive minutes stand in (exit 3).
    assert main(["minutes", meeting_id, "--json", "--config", str(config)]) == 3
    out, err = capsys.readouterr()
    document = json.loads(out)
    minutes = validate_minutes(document, meeting_id=meeting_id, known_seqs=range(6))
    assert minutes.model == "extractive" and minutes.language == "en"
    assert "minutes: final 0/1" in err and "minutes draft (extractive): 2 LLM calls" in err
    store = Store(load_config(config).database_path)
    try:
        assert store.minutes(meeting_id).minutes == document
    finally:
        store.close()


def test_markdown_is_the_default_output(tmp_path: Path, stories: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, stories, output_tokens=200, max_attempts=2, require_approval=True)
    meeting_id = add_meeting(config)
    assert main(["minutes", meeting_id, "--config", str(config)]) == 3
    out = capsys.readouterr().out
    assert out.startswith("# ") and "\n## Summary\n" in out and "- Status: draft (awaiting approval)" in out


def test_model_failure_prints_the_extractive_minutes_exits_3_and_says_why(
    tmp_path: Path, stories: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, stories, output_tokens=32, max_attempts=2)
    meeting_id = add_meeting(config)
    assert main(["minutes", meeting_id, "--config", str(config)]) == 3
    out, err = capsys.readouterr()
    assert out.startswith("# infra — extractive minutes\n") and "- Written by: extraction" in out
    assert "- Status: draft (awaiting approval)" in out
    note = next(line for line in err.splitlines() if line.startswith("edge minutes: note: "))
    assert "the model's answer was cut off; these are the extractive minutes instead" in note
    assert note.endswith("[detail: the minutes failed validation after 2 attempts: truncated]")


def test_without_a_model_the_extractive_minutes_are_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = write_config(tmp_path, None)
    meeting_id = add_meeting(config)
    assert main(["minutes", meeting_id, "--json", "--config", str(config)]) == 0
    out, err = capsys.readouterr()
    minutes = validate_minutes(json.loads(out), meeting_id=meeting_id, known_seqs=range(6))
    assert minutes.model == "extractive" and minutes.decisions
    assert "minutes published (extractive)" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["nope"], "edge minutes: error: no meeting with id 'nope'"),
        (["MEETING", "--model", "missing.gguf"], "edge minutes: error: LLM model not found"),
    ],
)
def test_user_errors_are_one_line_and_exit_2(
    tmp_path: Path, stories: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    config = write_config(tmp_path, stories)
    meeting_id = add_meeting(config)
    argv = ["minutes", *(meeting_id if a == "MEETING" else a for a in args), "--config", str(config)]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and err.startswith(message)


def test_extractive_with_a_model_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path, None)
    assert main(["minutes", "whatever", "--extractive", "--model", "x.gguf", "--config", str(config)]) == 2
    assert capsys.readouterr().err == (
        "edge minutes: error: --extractive writes the minutes without an LLM; drop --model or --extractive\n"
    )
