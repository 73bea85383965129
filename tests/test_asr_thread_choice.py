"""Which thread count a whisper call gets: one for short utterances while one thread keeps ahead of the
speech, every thread for long ones and while one thread is too slow, and one again now and then."""

from __future__ import annotations

from edge.asr.thread_choice import MAX_SINGLE_THREAD_RTF, PROBE_EVERY, ThreadChoice


def test_short_utterances_take_one_thread_and_long_ones_all():
    choice = ThreadChoice(2, single_below_s=8.0)
    assert choice.threads_for(2.0) == 1
    assert choice.threads_for(8.0) == 2
    assert choice.threads_for(0.0) == 2  # nothing to measure a rate on


def test_one_configured_thread_or_a_zero_bound_never_changes_anything():
    assert ThreadChoice(1, single_below_s=8.0).threads_for(2.0) == 1
    assert ThreadChoice(4, single_below_s=0.0).threads_for(2.0) == 4


def test_a_slow_single_thread_hands_short_utterances_back_to_every_thread_then_tries_again():
    choice = ThreadChoice(2, single_below_s=8.0)
    for _ in range(10):
        choice.note(1, 2.0, 2.0 * 0.9)  # one thread takes 0.9 s per second of speech: too slow
    assert choice.single_rtf > MAX_SINGLE_THREAD_RTF
    assert choice.threads_for(2.0) == 2
    for _ in range(PROBE_EVERY - 1):
        choice.note(2, 2.0, 0.5)
        assert choice.threads_for(2.0) == 2
    choice.note(2, 2.0, 0.5)
    assert choice.threads_for(2.0) == 1  # the probe
    for _ in range(10):
        choice.note(1, 2.0, 2.0 * 0.1)  # the machine is quiet again
    assert choice.threads_for(2.0) == 1 and choice.single_calls == 20


def test_long_calls_do_not_move_the_single_thread_figure():
    choice = ThreadChoice(2, single_below_s=8.0)
    choice.note(2, 20.0, 30.0)
    choice.note(1, 20.0, 30.0)
    assert choice.single_rtf == 0.0 and choice.single_calls == 0
