"""The LLM engine against real llama.cpp: the fixture model (no chat template) and the generated
Qwen2 model (ChatML template, random weights)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge.core.errors import ModelError
from edge.llm.engine import (
    ContextOverflow,
    LlmEngine,
    defuse_special_tokens,
    parse_json_output,
    plain_prompt,
)

SCHEMA = {
    "type": "object",
    "properties": {"segments": {"type": "array", "items": {"type": "string"}}},
    "required": ["segments"],
    "additionalProperties": False,
}
MESSAGES = [
    {"role": "system", "content": "Correct the transcript. Answer in JSON."},
    {"role": "user", "content": "쿠버네티스 클러스터를 점검했습니다."},
]


@pytest.fixture(scope="module", params=["stories260K", "qwen2"])
def engine(
    request: pytest.FixtureRequest, fixture_file: Callable[[str], Path], qwen2_model: Path
) -> Iterator[LlmEngine]:
    path = fixture_file("models/stories260K.gguf") if request.param == "stories260K" else qwen2_model
    with LlmEngine(path, n_ctx=512, threads=1, seed=1) as llm:
        assert llm.has_chat_template == (request.param == "qwen2")
        yield llm


# -- pure helpers ----------------------------------------------------------------------------


def test_parse_json_output_tolerates_raw_newlines_in_strings() -> None:
    assert parse_json_output('{"text": "line one\nline two"}') == {"text": "line one\nline two"}
    assert parse_json_output('  {"a": 1}\n') == {"a": 1}


@pytest.mark.parametrize("text", ['{"segments": [{"seq": 1, "text": "abc', "", "[1, 2]", '"x"', "{'a': 1}"])
def test_parse_json_output_rejects_truncated_and_non_objects(text: str) -> None:
    assert parse_json_output(text) is None


def test_plain_prompt_and_defusing_special_tokens() -> None:
    prompt = plain_prompt([{"role": "system", "content": "Rules."}, {"role": "user", "content": "hi<|im_end|>"}])
    assert prompt == "Rules.\n\n### Input:\nhi< |im_end| >\n\n### Response:\n"
    assert defuse_special_tokens("a <|im_start|> b") == "a < |im_start| > b"


def test_model_path_must_be_an_absolute_existing_gguf(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="absolute"):
        LlmEngine(Path("models/x.gguf"))
    with pytest.raises(ModelError, match="not found"):
        LlmEngine(tmp_path / "missing.gguf")
    garbage = tmp_path / "garbage.gguf"
    garbage.write_bytes(b"not a model at all" * 100)
    with pytest.raises(ModelError, match="cannot load"):
        LlmEngine(garbage)


# -- against llama.cpp ---------------------------------------------------------------------------


def test_counts_tokens_with_the_models_tokenizer(engine: LlmEngine) -> None:
    short, long = engine.count_tokens("회의"), engine.count_tokens("회의를 시작하겠습니다. " * 5)
    assert 0 < short < long
    assert engine.count_tokens("") == 0
    assert engine.count_prompt_tokens(MESSAGES) > engine.count_tokens(MESSAGES[1]["content"])


def test_schema_constrained_json_is_parsed_or_detected_invalid(engine: LlmEngine) -> None:
    pieces: list[str] = []
    result = engine.chat_json(MESSAGES, SCHEMA, max_tokens=48, on_token=pieces.append)
    assert result.prompt_tokens == engine.count_prompt_tokens(MESSAGES)
    assert 1 <= result.completion_tokens <= 49
    assert result.text.lstrip().startswith("{")
    assert "".join(pieces).startswith(result.text)
    parsed = parse_json_output(result.text)
    if parsed is None:
        assert result.truncated
    else:
        assert isinstance(parsed["segments"], list)


def test_output_cut_by_max_tokens_is_reported_as_truncated(engine: LlmEngine) -> None:
    result = engine.chat_json(MESSAGES, SCHEMA, max_tokens=3)
    assert result.finish_reason == "length" and result.truncated
    assert parse_json_output(result.text) is None


def test_plain_completion_with_schema_and_grammar(engine: LlmEngine) -> None:
    result = engine.complete("Once upon a time", max_tokens=40, schema=SCHEMA)
    assert result.text.lstrip().startswith("{")
    yes_no = engine.complete("Is it raining? Answer:", max_tokens=8, grammar='root ::= " yes" | " no"')
    assert yes_no.text in (" yes", " no")
    assert yes_no.finish_reason == "stop"


def test_bad_schema_is_an_error_not_unconstrained_output(engine: LlmEngine) -> None:
    with pytest.raises(ValueError, match="schema"):
        engine.chat_json(MESSAGES, {"type": "banana"}, max_tokens=8)
    with pytest.raises(ValueError, match="max_tokens"):
        engine.chat_json(MESSAGES, SCHEMA, max_tokens=0)


def test_oversized_prompt_raises_context_overflow_and_engine_stays_usable(engine: LlmEngine) -> None:
    huge = [{"role": "user", "content": "회의록을 작성합니다. " * 200}]
    with pytest.raises(ContextOverflow) as caught:
        engine.chat_json(huge, SCHEMA, max_tokens=16)
    assert caught.value.n_ctx == engine.n_ctx == 512
    assert caught.value.prompt_tokens > 512
    # Fits alone, not with the output budget: still refused before llama.cpp is asked.
    fits = engine.count_prompt_tokens(MESSAGES)
    with pytest.raises(ContextOverflow):
        engine.chat_json(MESSAGES, SCHEMA, max_tokens=512 - fits + 1)
    assert engine.chat_json(MESSAGES, SCHEMA, max_tokens=4).completion_tokens >= 1


def test_cancel_from_another_thread_stops_running_and_queued_generations(engine: LlmEngine) -> None:
    started = threading.Event()
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        started.set()

    running = engine.submit_complete("Once upon a time", max_tokens=400, on_token=on_token)
    queued = engine.submit_chat_json(MESSAGES, SCHEMA, max_tokens=400)
    assert started.wait(60)
    engine.cancel()
    first, second = running.result(60), queued.result(60)
    assert first.finish_reason == "cancelled" and first.truncated
    assert first.completion_tokens < 400
    assert first.text == "".join(pieces)
    assert second.finish_reason == "cancelled" and second.completion_tokens == 0
    after = engine.complete("Once upon a time", max_tokens=5)
    assert after.finish_reason != "cancelled" and after.completion_tokens >= 1


def test_cancel_from_the_token_callback_stops_between_tokens(engine: LlmEngine) -> None:
    pieces: list[str] = []

    def on_token(piece: str) -> None:
        pieces.append(piece)
        if len(pieces) == 2:
            engine.cancel()

    result = engine.complete("Once upon a time", max_tokens=300, on_token=on_token)
    assert result.finish_reason == "cancelled"
    assert len(pieces) == 2
    assert result.completion_tokens <= 10


def test_blocking_call_from_the_owner_thread_is_refused(engine: LlmEngine) -> None:
    def on_token(piece: str) -> None:
        engine.count_tokens(piece)

    with pytest.raises(RuntimeError, match="owner thread"):
        engine.complete("Once upon a time", max_tokens=5, on_token=on_token)


def test_stats_add_up_calls_tokens_and_time(engine: LlmEngine) -> None:
    before = engine.stats()
    a = engine.complete("Once upon a time", max_tokens=6)
    b = engine.chat_json(MESSAGES, SCHEMA, max_tokens=6)
    after = engine.stats()
    assert after.calls == before.calls + 2
    assert after.prompt_tokens == before.prompt_tokens + a.prompt_tokens + b.prompt_tokens
    assert after.completion_tokens == before.completion_tokens + a.completion_tokens + b.completion_tokens
    assert after.seconds > before.seconds


def test_the_model_lives_on_one_owner_thread(engine: LlmEngine) -> None:
    seen: set[str] = set()
    engine.complete("Once upon a time", max_tokens=8, on_token=lambda _: seen.add(threading.current_thread().name))
    assert seen == {"llm-owner"}
    assert threading.current_thread().name != "llm-owner"


def test_close_frees_the_model_and_refuses_later_calls(qwen2_model: Path) -> None:
    engine = LlmEngine(qwen2_model, n_ctx=256, threads=1)
    pending = engine.submit_complete("hello", max_tokens=200)
    engine.close()
    engine.close()
    assert pending.result(60).finish_reason == "cancelled"
    assert not engine._thread.is_alive()
    with pytest.raises(RuntimeError, match="closed"):
        engine.count_tokens("x")


def test_a_schema_with_an_empty_choice_is_refused_before_it_can_crash_llama_cpp() -> None:
    from edge.llm.engine import _schema_grammar

    for schema in (
        {"type": "object", "properties": {"owner": {"enum": []}}},
        {"type": "array", "items": {"anyOf": []}},
    ):
        with pytest.raises(ValueError, match="empty"):
            _schema_grammar(schema)
    assert _schema_grammar({"type": "object", "properties": {"owner": {"enum": ["a"]}}})
