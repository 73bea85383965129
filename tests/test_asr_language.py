"""Language choice among the allowed languages, with hysteresis (pure)."""

from __future__ import annotations

import pytest

from edge.asr.language import LanguagePolicy
from edge.core.errors import ConfigError


def test_only_allowed_languages_are_ever_chosen():
    policy = LanguagePolicy(["ko", "en"])
    # whisper ranks Japanese first for Korean speech with English terms: Korean still wins.
    assert policy.choose({"ja": 0.5, "ko": 0.3, "en": 0.1, "zh": 0.1}, 1.0) == "ko"
    assert policy.switches == 0


def test_short_utterances_switch_only_with_a_clear_margin():
    policy = LanguagePolicy(["ko", "en"])
    assert policy.choose({"ko": 0.9, "en": 0.1}, 3.0) == "ko"
    assert policy.choose({"ko": 0.4, "en": 0.5}, 1.0) == "ko"  # "OK." in a Korean meeting
    assert policy.choose({"ko": 0.2, "en": 0.7, "ja": 0.1}, 1.0) == "en"  # (0.7 - 0.2) / 0.9 > 0.3
    assert policy.switches == 1


def test_a_long_utterance_switches_on_whispers_best_guess():
    policy = LanguagePolicy(["ko", "en"])
    policy.choose({"ko": 0.8, "en": 0.2}, 1.0)
    assert policy.choose({"ko": 0.45, "en": 0.55}, 2.5) == "en"
    assert policy.choose({"ko": 0.55, "en": 0.45}, 1.0) == "en"  # and sticks
    assert policy.switches == 1


def test_no_probabilities_keeps_the_current_or_first_language():
    policy = LanguagePolicy(["en", "ko"])
    assert policy.choose({}, 5.0) == "en"
    assert policy.choose({"ko": 1.0}, 5.0) == "ko"
    assert policy.choose({"ja": 1.0}, 5.0) == "ko"


@pytest.mark.parametrize("allowed", [["ko"], [], ["ko", "ko"]])
def test_fewer_than_two_languages_is_a_config_error(allowed):
    with pytest.raises(ConfigError, match=r"asr\.languages"):
        LanguagePolicy(allowed)


def test_an_utterance_under_a_second_is_not_worth_a_detection_once_the_meeting_has_a_language():
    policy = LanguagePolicy(("ko", "en"))
    assert policy.needs_detection(0.5)  # the first utterance sets the language
    policy.choose({"ko": 0.8, "en": 0.2}, 0.5)
    assert not policy.needs_detection(0.9) and policy.needs_detection(1.0)
