"""The meeting context prompt: only what the meeting already said, within whisper's budget, and
the echo guard. Pure: a word counter stands in for the model's tokenizer (the real tokenizer is
used in tests/test_asr_real.py)."""

from __future__ import annotations

from edge.asr.context import MeetingContext, looks_like_echo

GLOSSARY = ["Notion", "Kubernetes", "GitHub", "젠킨스", "Redis", "CI/CD"]


def words(text: str) -> int:
    return len(text.split())


def test_a_new_meeting_gets_only_the_base_prompt_never_glossary_terms():
    context = MeetingContext(GLOSSARY, base_prompt="  회의록입니다. ")
    assert context.prompt(words) == "회의록입니다."
    assert MeetingContext(GLOSSARY).prompt(words) == ""


def test_committed_text_becomes_the_prompt_newest_last():
    context = MeetingContext(GLOSSARY)
    context.note_committed("And so my fellow Americans,")
    context.note_committed("  ask not what your country can do for you,  ")
    assert context.prompt(words) == "And so my fellow Americans, ask not what your country can do for you,"
    assert context.heard_terms == []


def test_terms_are_heard_from_the_text_or_a_correction_and_kept_after_the_text_scrolls_away():
    context = MeetingContext(GLOSSARY, budget=12)
    context.note_committed("오늘 젠킨스 파이프라인이 깨졌습니다.")  # a Korean particle after the term
    context.note_committed("we moved it to github actions", used_terms=["Redis"])
    context.note_committed("Notional amounts are fine.")  # not the term Notion
    assert context.heard_terms == ["젠킨스", "Redis", "GitHub"]
    context.note_committed("the next topic is the budget for next quarter")
    prompt = context.prompt(words)
    # The old text no longer fits; its terms, newest first, stay before the recent text.
    assert prompt.startswith("GitHub, Redis, 젠킨스.")
    assert prompt.endswith("the budget for next quarter")
    assert words(prompt) <= 12
    assert "Notion" not in prompt.replace("Notional", "")


def test_an_utterance_is_prompted_only_with_text_of_its_own_language():
    context = MeetingContext(GLOSSARY)
    context.note_committed("오늘 젠킨스 빌드가 깨졌습니다.", language="ko")
    context.note_committed("And so my fellow Americans, ask not.", language="en")
    context.note_committed("회의록 확인해 주세요.")  # language unknown: fits any
    assert context.prompt(words, "ko") == "오늘 젠킨스 빌드가 깨졌습니다. 회의록 확인해 주세요."
    assert context.prompt(words, "en") == "젠킨스. And so my fellow Americans, ask not. 회의록 확인해 주세요."
    assert context.prompt(words) == (
        "오늘 젠킨스 빌드가 깨졌습니다. And so my fellow Americans, ask not. 회의록 확인해 주세요."
    )


def test_the_prompt_fits_the_token_budget_and_keeps_the_end_of_a_long_segment():
    context = MeetingContext(GLOSSARY, base_prompt="Minutes.", budget=6)
    context.note_committed("one two three four five six seven eight nine ten")
    assert context.prompt(words) == "Minutes. six seven eight nine ten"
    counted: list[str] = []

    def tokens(text: str) -> int:
        counted.append(text)
        return len(text.encode())  # a stricter counter gives a shorter prompt

    assert len(context.prompt(tokens).encode()) <= 6 and counted


def test_a_glossary_change_drops_removed_terms_and_learns_new_ones():
    context = MeetingContext(GLOSSARY)
    context.note_committed("Redis와 Kubernetes 이야기")
    context.set_glossary(["Kubernetes", "Kafka"])
    assert context.heard_terms == ["Kubernetes"]
    context.note_committed("kafka 토픽", used_terms=["Notion"])  # Notion is no longer a term
    assert context.heard_terms == ["Kubernetes", "Kafka"]


def test_echo_and_loops_are_recognised_but_new_speech_is_not():
    prompt = "And so my fellow Americans, ask not what your country can do for you,"
    assert looks_like_echo("ask not what your country can do for you", prompt)
    assert looks_like_echo("And so, my fellow Americans!", prompt)
    assert not looks_like_echo("ask what you can do for your country.", prompt)
    # New speech with the prompt's sentence stuck to it (seen with real base on a composite).
    assert looks_like_echo("그는 이리저리 피하면서 길 한 옆으로 걸어갔다. And so my fellow Americans.", prompt)
    assert looks_like_echo("And so it begins. And so it begins.", "")
    assert looks_like_echo("Thank you. Thank you.", "")
    assert not looks_like_echo("Americans", prompt)  # too short to call
    assert looks_like_echo("네 네 네 네", "")
    assert looks_like_echo("배포 완료 배포 완료 배포 완료 배포 완료", "")
    assert not looks_like_echo("배포 완료 배포 완료", "")
    assert not looks_like_echo("오늘 회의는 젠킨스 배포 이야기입니다.", "어제 회의는 젠킨스 배포 이야기입니다.")
