"""The LLM figures: prompt and generation tokens per second through the box's engine against bare
llama-cpp-python on the same requests, and how often schema-constrained output is usable JSON.

Prompt speed comes from a one-token completion of a fresh prompt (prompt evaluation plus one
sample). Generation speed comes from a second completion of the same prompt: llama-cpp-python keeps
the common prefix in its KV cache, so that call is generation alone. Every prompt starts with its own
text, so no cache is shared between prompts. The JSON requests are the box's own correction requests
(`edge.llm.correction`) on a Korean and English meeting.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.llm.correction import SegmentText, build_messages, correction_schema, parse_corrections
from edge.llm.engine import LlmEngine, LlmResult, RawLlama, RawRequest

MEETING_LINES = (
    "김민수: 이번 주 금요일에 쿠버네티스 클러스터를 1.31로 업그레이드합니다.",
    "이지은: 업그레이드 전에 젠킨스 파이프라인에서 통합 테스트를 한 번 더 돌릴게요.",
    "John: I'll update the Grafana dashboards and the alert rules by Thursday.",
    "박서준: 롤백 계획은 위키에 정리해 두었고, 데이터베이스 백업은 목요일 밤에 합니다.",
    "Sarah: Can we freeze merges to the main branch on Friday morning?",
    "김민수: 네, 금요일 오전 아홉 시부터 머지를 막겠습니다. 공지는 제가 슬랙에 올릴게요.",
    "이지은: 깃허브 액션 러너도 새 노드 풀로 옮겨야 해요.",
    "John: The staging cluster is already on 1.31, no issues so far.",
)
# ASR-like batches for the correction request: Hangul spellings of English terms, a missing space.
CORRECTION_BATCHES = (
    ("쿠버네티스 클러스터를 금요일에 업그레이드합니다", "젠킨스 파이프라인에서 통합테스트를 돌릴게요"),
    ("그라파나 대시보드를 목요일까지 고칠게요", "깃허브 액션 러너를 새 노드풀로 옮깁니다"),
    ("롤백 계획은 위키에 있습니다", "We will freeze merges on Friday morning"),
)
PROMPT_TOKENS = 400  # a realistic correction or minutes chunk
GENERATED_TOKENS = 64


def throughput_prompts(engine: LlmEngine, count: int) -> list[str]:
    """`count` transcripts of about PROMPT_TOKENS tokens (in this model's tokenizer), each opening
    with its own words so no prompt shares a cached prefix with another."""
    prompts = []
    for number in range(count):
        text = f"회의 {number + 1}번 녹취록 (meeting transcript #{number + 1})"
        line = number
        while engine.count_tokens(text) < PROMPT_TOKENS:
            text += "\n" + MEETING_LINES[line % len(MEETING_LINES)]
            line += 1
        prompts.append(text + "\n다음 발언:")
    return prompts


def correction_requests(engine: LlmEngine) -> list[tuple[RawRequest, list[int]]]:
    """(request, seqs) of the box's correction request for each batch, with
    the corrector's own output budget (twice the input tokens plus room for the JSON)."""
    requests = []
    seq = 0
    for batch in CORRECTION_BATCHES:
        items = [SegmentText(seq + i, text) for i, text in enumerate(batch)]
        seq += len(items)
        seqs = [item.seq for item in items]
        messages = build_messages(items, MEETING_LINES[:2], language="ko", terms=["Kubernetes", "Jenkins", "Grafana"])
        max_tokens = sum(2 * engine.count_tokens(item.text) + 24 for item in items) + 16
        requests.append((RawRequest(messages=messages, schema=correction_schema(seqs), max_tokens=max_tokens), seqs))
    return requests


def _through_engine(engine: LlmEngine, request: RawRequest) -> LlmResult:
    if request.schema is None:
        return engine.complete(request.prompt, max_tokens=request.max_tokens)
    return engine.chat_json(request.messages, request.schema, max_tokens=request.max_tokens)


def _pairs(engine: LlmEngine, raw: RawLlama, requests: Sequence[RawRequest]) -> tuple[list, list]:
    """Each request through the engine and bare llama-cpp-python back to back, the order alternating,
    so both see the same machine load (the machines are shared)."""
    ours, theirs = [], []
    for number, request in enumerate(requests):
        if number % 2:
            theirs.append(raw.run(request))
            ours.append(_through_engine(engine, request))
        else:
            ours.append(_through_engine(engine, request))
            theirs.append(raw.run(request))
    return ours, theirs


def _speed(results: Sequence[LlmResult], tokens: Callable[[LlmResult], int]) -> float:
    return round(statistics.median(tokens(r) / r.seconds for r in results), 1)


def _ratio(ours: Sequence[LlmResult], theirs: Sequence[LlmResult]) -> float:
    """Median over pairs of our tokens/s over theirs (the same request, seconds apart)."""
    return round(statistics.median(t.seconds / o.seconds for o, t in zip(ours, theirs, strict=True)), 3)


def _json_figures(results: Sequence[LlmResult], seqs: Sequence[list[int]]) -> dict:
    valid = 0
    for result, wanted in zip(results, seqs, strict=True):
        texts, reason = parse_corrections(result.text, result.finish_reason)
        valid += reason is None and set(texts) == set(wanted)
    tokens = sum(r.completion_tokens for r in results)
    seconds = sum(r.seconds for r in results)
    return {
        "requests": len(results),
        "valid": valid,
        "valid_rate": round(valid / len(results), 3),
        "truncated": sum(r.finish_reason != "stop" for r in results),
        "tokens_per_s": round(tokens / seconds, 1),
    }


def bench_llm(
    model_path: Path, *, threads: int, prompts: int = 3, n_ctx: int = 4096, progress: Callable[[str], None]
) -> dict:
    with LlmEngine(model_path, n_ctx=n_ctx, threads=threads) as engine, \
            RawLlama(model_path, n_ctx=n_ctx, threads=threads) as raw:
        _pairs(engine, raw, [RawRequest(prompt="워밍업 warm-up", max_tokens=4)])
        progress(f"LLM: {prompts} prompts, through the engine and bare llama-cpp-python in turn")
        # Each prompt once for its evaluation, then again (now cached) for generation alone.
        prompt_pass, generation_pass = [], []
        for text in throughput_prompts(engine, prompts):
            prompt_pass.append(_pairs(engine, raw, [RawRequest(prompt=text, max_tokens=1)]))
            generation_pass.append(_pairs(engine, raw, [RawRequest(prompt=text, max_tokens=GENERATED_TOKENS)]))
        requests = correction_requests(engine)
        progress(f"LLM: {len(requests)} schema-constrained correction requests, engine and bare llama-cpp-python")
        ours_json, raw_json = _pairs(engine, raw, [request for request, _ in requests])
    ours_prompt, raw_prompt = [p[0][0] for p in prompt_pass], [p[1][0] for p in prompt_pass]
    ours_generation, raw_generation = [g[0][0] for g in generation_pass], [g[1][0] for g in generation_pass]
    seqs = [wanted for _, wanted in requests]
    return {
        "threads": threads,
        "prompt_tokens": ours_prompt[0].prompt_tokens,
        "generated_tokens": GENERATED_TOKENS,
        "engine": {
            "prompt_tokens_per_s": _speed(ours_prompt, lambda r: r.prompt_tokens),
            "generation_tokens_per_s": _speed(ours_generation, lambda r: r.completion_tokens),
        },
        "raw_llama_cpp": {
            "prompt_tokens_per_s": _speed(raw_prompt, lambda r: r.prompt_tokens),
            "generation_tokens_per_s": _speed(raw_generation, lambda r: r.completion_tokens),
        },
        "engine_over_raw": {
            "prompt_tokens_per_s": _ratio(ours_prompt, raw_prompt),
            "generation_tokens_per_s": _ratio(ours_generation, raw_generation),
            "json_tokens_per_s": _ratio(ours_json, raw_json),
        },
        "json_correction_requests": {
            "engine": _json_figures(ours_json, seqs),
            "raw_llama_cpp": _json_figures(raw_json, seqs),
            "valid_means": "complete JSON with every requested seq (the box's correction request and schema)",
        },
    }
