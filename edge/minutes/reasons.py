"""Why the LLM's minutes were not used, in words an organiser understands (Korean, then English), with
the technical detail kept at the end for whoever debugs the model."""

from __future__ import annotations

# (a marker in the technical reason, Korean, English); the first marker found wins.
_REASONS: tuple[tuple[str, str, str], ...] = (
    ("not_korean", "모델이 회의록을 한국어로 쓰지 않았습니다", "the model did not write the minutes in Korean"),
    ("added_han", "모델이 회의에 없던 한자를 섞어 썼습니다",
     "the model wrote Chinese characters the meeting did not have"),
    ("echo", "모델이 회의 내용 대신 지시문을 옮겨 썼습니다",
     "the model copied its instructions instead of the meeting"),
    ("first_line", "모델이 첫 발언만 되풀이했습니다", "the model only repeated the first line of the transcript"),
    ("nothing_checkable", "모델의 회의록에 확인할 수 있는 내용이 없었습니다",
     "the model's minutes said nothing that can be checked"),
    ("truncated", "모델의 답이 중간에 끊겼습니다", "the model's answer was cut off"),
    ("invalid_json", "모델의 답이 회의록 형식이 아니었습니다", "the model's answer was not in the minutes format"),
    ("bad_structure", "모델의 답이 회의록 형식이 아니었습니다", "the model's answer was not in the minutes format"),
    ("ungrounded", "모델이 회의에 없는 발언을 근거로 들었습니다", "the model cited lines the meeting does not have"),
    ("n_ctx", "모델의 문맥 창(llm.n_ctx)이 이 회의에 너무 작습니다",
     "the model's context window (llm.n_ctx) is too small for this meeting"),
    ("the LLM failed", "LLM이 오류로 멈췄습니다", "the LLM stopped with an error"),
    ("no part of the transcript", "모델이 회의의 어느 부분도 요약하지 못했습니다",
     "the model could not summarize any part of the meeting"),
)  # fmt: skip
NO_LLM = ("LLM이 설정되지 않았습니다", "no LLM is configured (llm.model_path)")


def plain_reason(error: str) -> tuple[str, str]:
    """(Korean, English) sentence fragments saying why generation failed."""
    for marker, korean, english in _REASONS:
        if marker in error:
            return korean, english
    return "LLM이 회의록을 쓰지 못했습니다", "the LLM could not write the minutes"


def fallback_note(error: str | None, *, draft: bool = True) -> str:
    """The minutes' note when the extractive minutes stand in: after an LLM failure (`error`) or with
    no LLM (`error` None); a `draft` asks for a check and approval."""
    korean, english = NO_LLM if error is None else plain_reason(error)
    ask_ko, ask_en = ("; 확인 후 승인해 주세요", ": check and approve them") if draft else ("", "")
    note = (
        f"{korean}. 대신 발언에서 뽑은 추출 회의록입니다{ask_ko}. "
        f"({english}; these are the extractive minutes instead{ask_en}.)"
    )
    return note if error is None else f"{note} [detail: {error}]"
