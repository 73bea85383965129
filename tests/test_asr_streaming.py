"""Commit policy for live captions (LocalAgreement-2), without a model."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from edge.asr.streaming import PartialTracker, tokenize


def feed(*hypotheses: str) -> list[tuple[str, str]]:
    tracker = PartialTracker()
    return [tracker.update(h) for h in hypotheses]


def test_a_word_becomes_stable_once_two_hypotheses_agree_on_it():
    assert feed("we deploy", "we deploy the", "we deploy the cluster today") == [
        ("", "we deploy"),
        ("we deploy", " the"),
        ("we deploy the", " cluster today"),
    ]


def test_disagreement_keeps_only_the_common_prefix_stable():
    assert feed("the cat sat", "the hat sat")[-1] == ("the", " hat sat")


def test_stable_text_never_retracts_when_the_model_changes_its_mind():
    results = feed("open the pod bay", "open the pod bay doors", "open a pot", "open a pot bay doors now")
    stables = [stable for stable, _ in results]
    assert stables == ["", "open the pod bay", "open the pod bay", "open the pod bay"]
    # The tail shown after the stable text is what the newest hypothesis has beyond it.
    assert results[-1][1] == " doors now"


def test_korean_is_compared_word_by_word():
    results = feed("쿠버네티스 클러스터를", "쿠버네티스 클러스터를 배포", "쿠버네티스 클러스터를 배포합니다")
    assert results[1] == ("쿠버네티스 클러스터를", " 배포")
    # "배포" and "배포합니다" are different words: no agreement on the last word yet.
    assert results[2] == ("쿠버네티스 클러스터를", " 배포합니다")


def test_japanese_and_chinese_without_spaces_are_compared_character_by_character():
    assert feed("今日は会", "今日は会議です")[-1] == ("今日は会", "議です")
    assert feed("我们今天", "我们明天")[-1] == ("我们", "明天")


def test_mixed_scripts_keep_their_spacing():
    tokens = tokenize("今日はKubernetesの 話 OK")
    assert [t.text for t in tokens] == ["今", "日", "は", "Kubernetes", "の", "話", "OK"]
    assert feed("今日はKubernetesの", "今日はKubernetesの話")[-1] == ("今日はKubernetesの", "話")


def test_case_and_trailing_punctuation_do_not_break_agreement():
    # Agreed words take the newer hypothesis's spelling, which has seen more audio.
    assert feed("Hello world", "hello world. How")[-1] == ("hello world.", " How")


def test_reset_starts_a_new_utterance():
    tracker = PartialTracker()
    tracker.update("first utterance")
    tracker.update("first utterance here")
    assert tracker.stable == "first utterance"
    tracker.reset()
    assert tracker.stable == ""
    assert tracker.update("second") == ("", "second")


def test_empty_hypotheses_are_harmless():
    assert feed("", "", "word", "word") == [("", ""), ("", ""), ("", "word"), ("word", "")]


words = st.lists(st.sampled_from(["a", "b", "c", "회의", "を", "會", "x."]), max_size=8)


@given(st.lists(words.map(" ".join), min_size=1, max_size=8))
def test_stable_only_grows_and_shown_text_follows_the_newest_hypothesis(hypotheses):
    tracker = PartialTracker()
    previous = ""
    for hypothesis in hypotheses:
        stable, unstable = tracker.update(hypothesis)
        assert stable.startswith(previous)
        previous = stable
        if hypothesis.startswith(stable):
            # When the newest hypothesis still begins with the stable text, it is shown unchanged.
            assert stable + unstable == hypothesis
