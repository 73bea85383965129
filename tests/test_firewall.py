"""The hallucination firewall on the repository's case set and its individual rules."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge.text.firewall import HallucinationFirewall, Loop, LoopCut, cut_loops, find_repeats, normalize

CASES_FILE = Path(__file__).parent / "data" / "firewall_cases.tsv"


def _cases() -> list[tuple[int, str, str, str]]:
    cases = []
    for number, line in enumerate(CASES_FILE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line or line.startswith("#") or line == "expected\tlanguage\ttext":
            continue
        expected, language, text = line.split("\t")
        cases.append((number, expected, language, text))
    return cases


CASES = _cases()


def test_case_set_is_large_balanced_and_bilingual() -> None:
    drops = [case for case in CASES if case[1].startswith("drop:")]
    keeps = [case for case in CASES if case[1] == "keep"]
    assert len(CASES) >= 60
    assert len(drops) + len(keeps) == len(CASES)
    assert abs(len(drops) - len(keeps)) <= len(CASES) // 10
    assert {case[2] for case in drops} >= {"ko", "en"}
    assert {case[2] for case in keeps} >= {"ko", "en"}
    assert {case[1] for case in drops} >= {
        "drop:stock_phrase",
        "drop:non_speech",
        "drop:repetition_loop",
        "drop:empty",
    }


@pytest.mark.parametrize(("line", "expected", "language", "text"), CASES, ids=[f"line{c[0]}" for c in CASES])
def test_case(line: int, expected: str, language: str, text: str) -> None:
    verdict = HallucinationFirewall(language).check(text)
    got = f"drop:{verdict.reason}" if verdict.dropped else "keep"
    assert got == expected, f"line {line}: {text!r}"
    assert (verdict.reason is not None) == verdict.dropped


def test_stand_alone_thanks_is_speech() -> None:
    firewall = HallucinationFirewall("ko")
    for text in ("감사합니다.", "감사합니다!", "고맙습니다", "Thank you.", "Thanks."):
        assert not firewall.check(text).dropped, text


def test_repeat_of_previous_segment_only_for_long_lines() -> None:
    firewall = HallucinationFirewall("ko")
    sentence = "그럼 배포는 금요일 오후 세 시에 하겠습니다."
    assert firewall.check(sentence, previous=["다른 문장입니다"]).dropped is False
    verdict = firewall.check(" " + sentence.replace(".", ""), previous=["앞 문장", sentence])
    assert verdict.reason == "repeat_of_previous"
    assert not firewall.check("네.", previous=["네."]).dropped


def test_implausible_rate_needs_a_duration() -> None:
    firewall = HallucinationFirewall("ko")
    text = "오늘 회의는 여기까지 하겠습니다 모두 수고하셨습니다"
    assert not firewall.check(text).dropped
    assert not firewall.check(text, duration_ms=3000).dropped
    assert firewall.check(text, duration_ms=300).reason == "implausible_rate"


def test_prompt_echo_is_dropped() -> None:
    prompt = "오늘 회의에서는 Kubernetes, GitHub와 Jira 이야기를 합니다. Notion도 함께 확인했습니다."
    firewall = HallucinationFirewall("ko", prompt=prompt)
    assert firewall.check(prompt).reason == "prompt_echo"
    assert firewall.check("Notion도 함께 확인했습니다").reason == "prompt_echo"
    assert not firewall.check("Notion은 제가 확인했습니다").dropped
    assert not HallucinationFirewall("ko").check(prompt).dropped


def test_extra_phrases_extend_the_list() -> None:
    firewall = HallucinationFirewall("ko", extra_phrases=["우리 회사 홍보 영상입니다"])
    assert firewall.check("우리 회사 홍보 영상입니다!").reason == "stock_phrase"
    assert not firewall.check("우리 회사 홍보 영상입니다 라고 말하면 안 돼요").dropped


def test_language_is_validated() -> None:
    with pytest.raises(ValueError, match="whisper code"):
        HallucinationFirewall("Korean")
    assert HallucinationFirewall("auto").language == "auto"
    assert HallucinationFirewall("").language == "auto"
    assert HallucinationFirewall("KO").language == "ko"


def test_normalize_and_find_repeats() -> None:
    assert normalize("Ｄｏｎ't  Forget!! ") == "dont forget"
    assert normalize("자막 제공：홍길동") == "자막 제공:홍길동"
    assert find_repeats("네네네네네네") == Loop("네", 6, 0)
    assert find_repeats("음룸룸룸룸룸룸").end == 7
    assert find_repeats("네네네") is None
    assert find_repeats("100000000원") is None  # digits are not a loop of speech


def test_a_loop_after_real_words_is_cut_and_the_words_stay() -> None:
    text = "태아폼, 뱅뒷와 음룸, 룸, 룸, 룸, 룸, 룸, 룸, 룸."
    verdict = HallucinationFirewall("ko").check(text)
    assert (verdict.dropped, verdict.text) == (False, "태아폼, 뱅뒷와 음룸")
    assert verdict.cuts == (LoopCut(11, 33, text[11:33], "룸", 8),)
    assert verdict.cuts[0].to_dict()["rule"] == "repetition_loop"


def test_a_pure_loop_still_disappears() -> None:
    firewall = HallucinationFirewall("ko")
    for text in ("룸, 룸, 룸, 룸, 룸, 룸, 룸, 룸.", "네 네 네 네 네 네 네 네", "the the the the the the the"):
        assert firewall.check(text) == HallucinationFirewall("ko").check(text)
        assert firewall.check(text).reason == "repetition_loop", text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "오늘은 배포 일정 네 네 네 네 네 네 네 네 그리고 QA 일정 정리하죠",
            "오늘은 배포 일정 네 그리고 QA 일정 정리하죠",
        ),
        (
            "그럼 회의를 시작하겠습니다. 회의를 시작하겠습니다. 회의를 시작하겠습니다. 다음 안건은요",
            "그럼 회의를 시작하겠습니다. 다음 안건은요",
        ),
        ("A 룸 룸 룸 룸 룸 룸 룸 B 하 하 하 하 하 하 하 C", "A 룸 B 하 C"),
        ("So we will, we will, we will, we will, we will, we will ship it", "So we will ship it"),
    ],
)
def test_loops_in_the_middle_are_cut(text: str, expected: str) -> None:
    kept, cuts = cut_loops(text)
    assert kept == expected
    # Each cut names exactly the text it removed from the original line.
    rebuilt, position = [], 0
    for cut in cuts:
        assert text[cut.start : cut.end] == cut.original
        rebuilt.append(text[position : cut.start])
        position = cut.end
    assert "".join([*rebuilt, text[position:]]).rstrip() == expected


def test_natural_repeats_are_not_cut() -> None:
    for text in ("네 네 알겠습니다", "잠깐만요 잠깐만요 잠깐만요", "감사합니다 감사합니다", "1,000,000원입니다"):
        assert cut_loops(text) == (text, []), text
