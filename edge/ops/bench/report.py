"""The bench's figures as a table a person reads at a glance (the JSON has everything)."""

from __future__ import annotations

GOALS = {
    "pipeline_over_raw": 1.05,
    "live_over_whole_file": 1.3,
    "latency_p95_s": 2.5,
}


def _pair(a: object, b: object) -> str:
    return f"{a} / {b}"


def _row(rows: list[tuple[str, str, str]], what: str, value: object, note: str = "") -> None:
    rows.append((what, "-" if value is None else str(value), note))


def table(figures: dict) -> str:
    rows: list[tuple[str, str, str]] = []
    model = figures["whisper_model"]
    lines = [f"whisper model: {model['name']} ({model['file']}, sha256 {model['sha256']})"]
    if "pipeline_over_raw" not in figures:  # only the upload-priority piece was run
        return "\n".join(lines + _rendered(_upload_rows(figures, rows)))
    lines.append(f"meeting: {figures['meeting']['audio_s']} s of Korean and English fixture speech")
    ratio = figures["pipeline_over_raw"]
    _row(rows, f"pipeline / raw pywhispercpp, CPU ({ratio['threads']} threads)", ratio["pipeline_over_raw_cpu"],
         f"goal <= {GOALS['pipeline_over_raw']}; box/its whisper calls {ratio['box_cpu_over_its_whisper_calls']}, "
         f"whisper layer/raw {ratio['whisper_layer_over_raw_cpu']}")
    whole = figures["live_asr_over_whole_file"]
    _row(rows, "live ASR CPU / one whole-file pass, CPU", whole["live_over_whole_file_cpu"],
         f"goal <= {GOALS['live_over_whole_file']}")
    by_flash = whole["whole_file"]["cpu_s_by_flash_attn"]
    _row(rows, "whole-file pass, CPU-s per audio-s", whole["whole_file"]["cpu_s_per_audio_s"],
         f"bare pywhispercpp, the cheaper of flash attention on / off: {_pair(by_flash['on'], by_flash['off'])} CPU-s")
    for live in figures["live"]:
        threads = live["threads"]
        _row(rows, f"live ASR, CPU-s per audio-s ({threads} thread{'s' * (threads > 1)})",
             live["asr_cpu_s_per_audio_s"], f"{live['whisper_calls']} whisper calls, CPU-s {live['asr_cpu_s_by_call']}")
        latency = live["latency_s"]
        goal = f"goal p95 <= {GOALS['latency_p95_s']} s" if threads == 2 else ""
        box = live["box_reported_latency_s"]
        _row(rows, f"end of speech -> commit p50 / p95 s ({threads})", _pair(latency["p50"], latency["p95"]),
             f"{goal}{'; ' if goal else ''}box says {_pair(box['p50'], box['p95'])}")
        _row(rows, f"real-time factor in health ({threads})", live["real_time_factor"], "must stay below 1")
    peer = figures.get("faster_whisper")
    if peer:
        _row(rows, f"faster-whisper {peer['compute_type']}, CPU-s per audio-s", peer["cpu_s_per_audio_s"],
             f"the peer, whole file, {peer['threads']} threads")
    llm = figures.get("llm")
    if llm:
        lines.append(f"LLM: {figures['llm_model']['name']} ({figures['llm_model']['file']}, "
                     f"sha256 {figures['llm_model']['sha256']})")
        ours, raw, ratio = llm["engine"], llm["raw_llama_cpp"], llm["engine_over_raw"]
        _row(rows, "LLM prompt tokens/s, engine / raw llama-cpp", _pair(ours["prompt_tokens_per_s"],
             raw["prompt_tokens_per_s"]), f"ratio {ratio['prompt_tokens_per_s']}")
        _row(rows, "LLM generation tokens/s, engine / raw", _pair(ours["generation_tokens_per_s"],
             raw["generation_tokens_per_s"]), f"ratio {ratio['generation_tokens_per_s']}")
        valid = llm["json_correction_requests"]["engine"]
        _row(rows, "LLM schema-constrained output, valid JSON", f"{valid['valid']}/{valid['requests']}",
             f"{valid['tokens_per_s']} tokens/s; engine/raw {ratio['json_tokens_per_s']}")
    return "\n".join(lines + _rendered(_upload_rows(figures, rows)))


def _upload_rows(figures: dict, rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    if "upload_priority" in figures:
        from edge.ops.bench.upload_priority import upload_rows

        for what, value, note in upload_rows(figures["upload_priority"]):
            _row(rows, what, value, note)
    return rows


def _rendered(rows: list[tuple[str, str, str]]) -> list[str]:
    width = max(len(what) for what, _, _ in rows)
    value_width = max(len(value) for _, value, _ in rows)
    return [f"  {what:<{width}}  {value:>{value_width}}  {note}".rstrip() for what, value, note in rows]
