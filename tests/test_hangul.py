"""Hangul arithmetic, the jamo distance and particle rules."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge.text.hangul import (
    adjust_particle,
    compose,
    decompose,
    final_of,
    hangul_distance,
    indel_cost,
    is_noun_tail,
    jamo_distance,
    join_syllable,
    split_syllable,
    substitution_cost,
    with_particle,
)

syllable_text = st.text(alphabet=st.characters(min_codepoint=0xAC00, max_codepoint=0xD7A3), max_size=12)
jamo_text = st.text(alphabet="ㄱㅋㄲㅅㅆㄴㅏㅐㅔㅡㅣㅓㅗᆫᆼᆺᆮ", max_size=9)


def test_split_and_join_follow_unicode_arithmetic() -> None:
    assert split_syllable("가") == ("ㄱ", "ㅏ", "")
    assert split_syllable("힣") == ("ㅎ", "ㅣ", "ㅎ")
    assert split_syllable("값") == ("ㄱ", "ㅏ", "ㅄ")
    assert join_syllable("ㄱ", "ㅏ", "ㅄ") == "값"
    with pytest.raises(ValueError, match="not a precomposed"):
        split_syllable("a")
    with pytest.raises(ValueError, match="cannot compose"):
        join_syllable("ㅏ", "ㄱ")


def test_decompose_uses_compatibility_jamo_and_splits_compound_finals() -> None:
    assert decompose("쿠버네티스") == "ㅋㅜㅂㅓㄴㅔㅌㅣㅅㅡ"
    assert decompose("깃헙 OK") == "ㄱㅣㅅㅎㅓㅂ OK"
    assert decompose("닭") == "ㄷㅏㄹㄱ"


@given(syllable_text)
def test_compose_inverts_decompose(text: str) -> None:
    assert compose(decompose(text)) == text


@pytest.mark.parametrize(
    ("text", "expected"), [("값아", "값아"), ("갑사", "갑사"), ("앉아", "앉아"), ("ㅋㅋ", "ㅋㅋ")]
)
def test_compose_resolves_coda_or_onset(text: str, expected: str) -> None:
    assert compose(decompose(text)) == expected


def _reference_distance(a: str, b: str) -> float:
    previous = [0.0]
    for char in b:
        previous.append(previous[-1] + indel_cost(char))
    for char_a in a:
        current = [previous[0] + indel_cost(char_a)]
        for j, char_b in enumerate(b, start=1):
            current.append(
                min(
                    previous[j] + indel_cost(char_a),
                    current[j - 1] + indel_cost(char_b),
                    previous[j - 1] + substitution_cost(char_a, char_b),
                )
            )
        previous = current
    return previous[-1]


@given(jamo_text, jamo_text, st.sampled_from([None, 0.5, 1.0, 1.5]))
def test_banded_distance_matches_full_dynamic_programming(a: str, b: str, limit: float | None) -> None:
    expected = _reference_distance(a, b)
    got = jamo_distance(a, b, limit=limit)
    if limit is None or expected <= limit:
        assert got == expected
    else:
        assert got > limit


def test_distance_weights_how_whisper_mishears() -> None:
    assert hangul_distance("깃헙", "깃허브") == 0.5  # the ㅡ Korean inserts after a coda
    assert hangul_distance("리엑트", "리액트") == 0.25  # ㅐ/ㅔ sound the same
    assert hangul_distance("젠킨쓰", "젠킨스") == 0.5  # ㅅ/ㅆ
    assert hangul_distance("젱킨스", "젠킨스") == 0.5  # nasal codas ㅇ/ㄴ
    assert hangul_distance("프로메테오스", "프로메테우스") == 0.5  # ㅗ/ㅜ
    assert hangul_distance("스웨가", "스웨거") == 0.5  # the English schwa as ㅓ or ㅏ
    assert hangul_distance("낫", "낟") == 0.25  # codas ㅅ/ㄷ both sound [t]
    assert hangul_distance("강", "간") == 0.5 < hangul_distance("나", "아") == 1.0  # only codas are nasal-cheap
    assert hangul_distance("센추리", "센트리") == 1.5  # century is not Sentry
    assert hangul_distance("쿠베네티스", "쿠버네티스") == 1.0
    assert hangul_distance("노선", "노션") == 1.0
    assert hangul_distance("스테이지", "스테이징") == 1.0


@pytest.mark.parametrize(
    ("tail", "reading", "expected"),
    [
        ("을", "깃허브", "를"),
        ("를", "포스트그레스큐엘", "을"),
        ("이", "깃허브", "가"),
        ("가", "슬랙", "이"),
        ("은", "백로그", "는"),
        ("과", "도커", "와"),
        ("으로", "깃허브", "로"),
        ("로", "포스트그레스큐엘", "로"),  # 로 after ㄹ
        ("로", "테라폼", "으로"),
        ("이에요", "깃허브", "예요"),
        ("이랑은", "노션", "이랑은"),
        ("이랑은", "도커", "랑은"),
        ("에서", "깃허브", "에서"),
        ("", "깃허브", ""),
        ("를", "GitHub", "를"),  # no Hangul reading: unchanged
    ],
)
def test_adjust_particle_follows_the_batchim_of_the_reading(tail: str, reading: str, expected: str) -> None:
    assert adjust_particle(tail, reading) == expected


def test_with_particle_and_final_of() -> None:
    assert with_particle("GitHub", ("과", "와"), "깃허브") == "GitHub와"
    assert with_particle("Slack", ("과", "와"), "슬랙") == "Slack과"
    assert final_of("슬랙") == "ㄱ"
    assert final_of("도커") == ""
    assert final_of("API") is None


@pytest.mark.parametrize(
    "tail", ["", "를", "에서는", "이랑", "인데요", "해", "했어요", "됐어요", "들을", "쪽은", "로요"]
)
def test_noun_tails_accepted(tail: str) -> None:
    assert is_noun_tail(tail)


@pytest.mark.parametrize("tail", ["스", "시", "담", "라도요이", "겠습니다", "립성", "않아"])
def test_word_continuations_rejected(tail: str) -> None:
    assert not is_noun_tail(tail)
