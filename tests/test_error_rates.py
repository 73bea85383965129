"""WER and CER as `edge eval asr` scores them."""

from __future__ import annotations

import pytest

from edge.text.error_rates import (
    character_error_rate,
    edit_distance,
    error_rate,
    normalised_characters,
    normalised_words,
    word_error_rate,
)


def test_edit_distance_counts_substitutions_insertions_and_deletions():
    assert edit_distance("kitten", "sitting") == 3
    assert edit_distance([], ["a"]) == 1
    assert edit_distance(["a", "b"], ["a", "b"]) == 0


def test_words_are_lowercased_without_punctuation_but_keep_apostrophes():
    words = normalised_words("And so, my fellow Americans... ASK NOT!")
    assert words == ["and", "so", "my", "fellow", "americans", "ask", "not"]
    assert normalised_words("It's 'quoted' Mr. Quilter") == ["it's", "quoted", "mr", "quilter"]


def test_punctuation_and_case_do_not_count_against_english():
    reference = "And so my fellow Americans, ask not what your country can do for you."
    assert word_error_rate(reference, "and so my fellow Americans. Ask not. What your country can do for you.") == 0
    assert word_error_rate(reference, "And so my fellow Americans, ask what your country can do for you.") == 1 / 14


def test_korean_is_scored_by_syllables_without_spaces_or_punctuation():
    assert normalised_characters("그는 이리저리, 걸어갔다.") == list("그는이리저리걸어갔다")
    # Spacing differences are free; "이리저리" heard as "1위절이" costs 4 of 19 characters.
    assert character_error_rate("그는 이리저리 피하면서", "그는이리 저리 피하면서") == 0
    reference = "그는 이리저리 피하면서 길 한 옆으로 걸어갔다."
    assert character_error_rate(reference, "그는 1위절이 피하면서 길 한 옆으로 걸어갔다.") == pytest.approx(4 / 19)
    assert error_rate("ko", reference, reference) == ("CER", 0.0)
    assert error_rate("en", "a b", "a c") == ("WER", 0.5)


def test_an_empty_reference_is_refused():
    with pytest.raises(ValueError, match="no words"):
        word_error_rate("...", "text")
    with pytest.raises(ValueError, match="no characters"):
        character_error_rate(" ", "글")
