"""Layer a: the initial prompt built from the glossary."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.text.glossary import Glossary, GlossaryTerm
from edge.text.glossary_prompt import WHISPER_PROMPT_TOKENS, build_initial_prompt, estimate_tokens

GLOSSARY = Glossary.from_csv(Path(__file__).parent / "data" / "glossary.csv")


def test_estimate_is_utf8_bytes() -> None:
    assert estimate_tokens("abc") == 3
    assert estimate_tokens("깃허브") == 9
    assert WHISPER_PROMPT_TOKENS == 448 // 2


def test_korean_prompt_is_sentences_that_use_terms_within_budget() -> None:
    prompt = build_initial_prompt(GLOSSARY, "ko")
    assert prompt.startswith("오늘 회의에서는 Kubernetes, GitHub와 GitLab 이야기를 합니다.")
    assert estimate_tokens(prompt) <= WHISPER_PROMPT_TOKENS
    assert prompt.endswith(".")
    assert "Slack과" in prompt  # 과 after the ㄱ of 슬랙
    used = [term.term for term in GLOSSARY if term.term in prompt]
    assert len(used) >= 6
    # A further sentence would not have fitted.
    assert estimate_tokens(prompt) > WHISPER_PROMPT_TOKENS - 60


@pytest.mark.parametrize("budget", [60, 80, 120, 224, 400])
def test_budget_is_respected(budget: int) -> None:
    for language in ("ko", "en"):
        prompt = build_initial_prompt(GLOSSARY, language, max_tokens=budget)
        assert 0 < estimate_tokens(prompt) <= budget


def test_recent_terms_come_first_and_unknown_ones_are_ignored() -> None:
    prompt = build_initial_prompt(GLOSSARY, "ko", recent_terms=["kafka", "Redis", "Zoom"], max_tokens=80)
    assert prompt == "오늘 회의에서는 Kafka, Redis와 Kubernetes 이야기를 합니다."
    english = build_initial_prompt(GLOSSARY, "en", recent_terms=["hotfix"], max_tokens=80)
    assert english == "In today's meeting we talk about hotfix, Kubernetes and GitHub."


def test_nothing_to_say() -> None:
    assert build_initial_prompt(Glossary(), "ko") == ""
    assert build_initial_prompt(GLOSSARY, "ko", max_tokens=10) == ""


def test_particle_needs_a_known_reading() -> None:
    glossary = Glossary([GlossaryTerm("Foo"), GlossaryTerm("Bar"), GlossaryTerm("Baz")])
    assert build_initial_prompt(glossary, "ko") == "오늘 회의에서는 Foo, Bar, Baz 이야기를 합니다."
    glossary = Glossary([GlossaryTerm("Foo"), GlossaryTerm("Helm", ("헬름",)), GlossaryTerm("Baz")])
    assert build_initial_prompt(glossary, "ko") == "오늘 회의에서는 Foo, Helm과 Baz 이야기를 합니다."
