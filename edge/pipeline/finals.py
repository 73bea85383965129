"""The ASR stage's feed: utterances go in, final segments come out to the committer. A meeting is closed
only once the stage has accounted for all of its finals (committed, failed, or evicted from a full queue),
so all of it that was decoded is on disk."""

from __future__ import annotations

import logging
from collections.abc import Callable

from edge.asr.stage import AsrStage
from edge.core.events import AsrSegment, Utterance
from edge.speaker.attribution import SpeakerAttribution

log = logging.getLogger(__name__)


Commit = Callable[[str, list[AsrSegment], int | None], None]
"""(meeting_id, segments, utterance_ms): stores a final utterance's segments."""
Relabel = Callable[[str, dict[tuple[int, int], str]], object]
"""(meeting_id, {(t0_ms, t1_ms): speaker}): the end-of-meeting speakers of its segments, to store."""
LOGGED_SPEAKER_ERRORS = 3


class AsrFeed:
    """Hands utterances to the ASR stage and its results to the committer. `connect()` it to both before
    use; the stage reports back through `on_final` and `on_error` on its owner thread, and accounts for
    every final until then (`AsrStage.drain`)."""

    def __init__(self) -> None:
        self._asr: AsrStage | None = None
        self._commit: Commit | None = None
        self._forget: list[Callable[[str], None]] = []
        self._final_hooks: list[Callable[[Utterance], None]] = []
        self._speakers: SpeakerAttribution | None = None
        self._relabel: Relabel | None = None
        self.errors = 0

    def connect(
        self,
        asr: AsrStage,
        commit: Commit,
        *,
        forget: Callable[[str], None],
        speakers: SpeakerAttribution | None = None,
        relabel: Relabel | None = None,
    ) -> None:
        """`forget(meeting_id)` drops a closed meeting's state beside the ASR stage's (the committer's, which
        returns once the meeting's segments are written); `speakers` labels each final utterance's segments
        before they are committed, and `relabel` stores its end-of-meeting pass once they are written."""
        self._asr, self._commit = asr, commit
        self._forget = [asr.forget_meeting, forget]
        self._speakers, self._relabel = speakers, relabel

    def add_final_hook(self, hook: Callable[[Utterance], None]) -> None:
        """Called on the ASR thread once a final utterance's segments are committed."""
        self._final_hooks.append(hook)

    # VAD threads

    def submit(self, utterance: Utterance, background: bool = False) -> None:
        """`background`: from a file read faster than real time, which yields to the live meeting
        and waits for room rather than lose an utterance."""
        assert self._asr is not None, "AsrFeed.connect() first"
        self._asr.submit(utterance, background=background)

    def decoded_ms(self, meeting_id: str, heard_ms: int, hearing_speech: bool) -> int:
        """How far into a meeting's audio speech recognition is, given that its VAD has heard `heard_ms`
        and whether it is inside an utterance: with none of its finals waiting and no speech open, all
        that was heard is through (silence needs no decoding)."""
        assert self._asr is not None, "AsrFeed.connect() first"
        if self._asr.pending(meeting_id) == 0 and not hearing_speech:
            return heard_ms
        return min(self._asr.through_ms(meeting_id), heard_ms)

    def cancel(self, meeting_id: str) -> None:
        """A background job was cancelled: its waiting finals are discarded and later ones refused."""
        assert self._asr is not None, "AsrFeed.connect() first"
        discarded = self._asr.cancel(meeting_id)
        log.info("meeting %s cancelled: %d utterances waiting for ASR discarded", meeting_id, discarded)

    @property
    def busy(self) -> bool:
        """Is any final utterance still waiting for (or in) the ASR stage?"""
        assert self._asr is not None, "AsrFeed.connect() first"
        return self._asr.pending() > 0

    def close_meeting(self, meeting_id: str) -> None:
        """Wait until every final utterance of the meeting has been committed or counted as lost (for as
        long as the ASR stage lives), then forget the meeting's ASR context and postprocessor."""
        assert self._asr is not None, "AsrFeed.connect() first"
        if not self._asr.drain(meeting_id, timeout=None):
            log.error("ASR stage stopped with %d utterances of meeting %s undecoded; closing it without them",
                      self._asr.pending(meeting_id), meeting_id)  # fmt: skip
        for forget in self._forget:
            forget(meeting_id)
        if self._speakers is not None:
            labels = self._speakers.finish(meeting_id)
            if labels and self._relabel is not None:
                self._relabel(meeting_id, labels)

    # the ASR owner thread

    def on_final(self, utterance: Utterance, segments: list[AsrSegment]) -> None:
        assert self._commit is not None, "AsrFeed.connect() first"
        if self._speakers is not None:
            segments = self._with_speakers(utterance, segments)
        self._commit(utterance.meeting_id, segments, utterance.end_ms - utterance.start_ms)
        for hook in self._final_hooks:
            hook(utterance)

    def _with_speakers(self, utterance: Utterance, segments: list[AsrSegment]) -> list[AsrSegment]:
        """Speaker labels are worth less than the words: when they fail, the segments go without them."""
        assert self._speakers is not None
        try:
            return self._speakers.label(utterance, segments)
        except Exception as exc:
            self._speakers.stats.errors += 1
            if self._speakers.stats.errors <= LOGGED_SPEAKER_ERRORS:
                log.error("speaker of utterance %s of meeting %s not found (%s); its segments have none",
                          utterance.utterance_id, utterance.meeting_id, exc)  # fmt: skip
            return segments

    def on_error(self, utterance: Utterance, exc: BaseException) -> None:
        self.errors += 1
        log.error("ASR failed on utterance %s of meeting %s: %s", utterance.utterance_id, utterance.meeting_id, exc)
