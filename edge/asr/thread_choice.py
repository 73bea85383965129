"""How many threads a whisper call gets.

ggml's threads wait for each other after every operation, and on an utterance's small encoder window
that waiting is a large part of the work: on two cores, the live bench meeting cost 12.6 CPU-s with two
threads and 9.0 with one, for the same text, with end-of-speech -> commit at p50 1.11 s against 1.26 s
and the same p95. Short utterances therefore decode on one thread while one thread stays well ahead of
the speech; long ones, and all of them while one thread is too slow (a bigger model, a busy machine),
get every thread of `asr.threads`. Now and then a short utterance tries one thread again, so a busy
minute does not decide for the rest of the meeting.
"""

from __future__ import annotations

__all__ = ["ThreadChoice"]

# One thread is used while it decodes in at most this share of the audio's length, over recent
# one-thread calls together (a final utterance is one or two calls: language detection and the decode).
MAX_SINGLE_THREAD_RTF = 0.3
PROBE_EVERY = 20  # short calls on every thread before one thread is tried again
DECAY = 0.8  # weight of the earlier one-thread calls against the newest


class ThreadChoice:
    """The thread count of each call of one model (used by its owner thread only)."""

    def __init__(self, threads: int, single_below_s: float) -> None:
        self.threads = threads
        self.single_below_s = single_below_s
        self.single_calls = 0
        self._wall_s = 0.0  # decayed sums over one-thread calls
        self._audio_s = 0.0
        self._since_probe = 0

    @property
    def single_rtf(self) -> float:
        """Recent one-thread calls' wall seconds per second of their audio (0 before the first)."""
        return self._wall_s / self._audio_s if self._audio_s else 0.0

    def _short(self, audio_s: float) -> bool:
        return self.threads > 1 and 0 < audio_s < self.single_below_s

    def threads_for(self, audio_s: float) -> int:
        """Threads for a call on `audio_s` seconds of audio (no side effect: `note` records the call)."""
        if not self._short(audio_s):
            return self.threads
        if self.single_rtf <= MAX_SINGLE_THREAD_RTF or self._since_probe >= PROBE_EVERY:
            return 1
        return self.threads

    def note(self, threads: int, audio_s: float, wall_s: float) -> None:
        """Record a call made with `threads` on `audio_s` seconds of audio that took `wall_s`."""
        if not self._short(audio_s):
            return
        if threads == 1:
            self._wall_s = DECAY * self._wall_s + wall_s
            self._audio_s = DECAY * self._audio_s + audio_s
            self.single_calls += 1
            self._since_probe = 0
        else:
            self._since_probe += 1
