"""The ASR stage: one thread owns the whisper model and decodes utterances from the VAD.

Finals (whole utterances) wait in a bounded drop-oldest queue and are decoded in order. Snapshots
of the utterance in progress are coalesced to the latest one and decoded for live text only when
no final is waiting, someone can see them, the worker is not busy most of the time, and
`partial_interval_ms` has passed since that utterance's first snapshot or its last partial decode,
so partials never delay a commit.

Each final is decoded with its meeting's context as prompt (see `edge.asr.context`) in the
language its meeting's `LanguagePolicy` picks, then checked: an output that echoes the prompt is
decoded again without it, and one with U+FFFD (a syllable whisper could not spell) again with beam
search; the better one is committed, with any U+FFFD left in it, and both are counted.

The live meeting always wins. Background finals (a file job read faster than real time) wait in
their own small queue whose `submit` blocks for room, so the file's reader slows down and nothing of
it is lost or ever evicts live speech. The worker takes live finals first, then due live partials,
and only then a background final, and it starts one only while no live utterance is in progress: a
room that talks without pause leaves an upload waiting (see `_live_speaking`).

Finals are accounted per meeting from submit until their callback returned (committed or failed) or
they were lost (evicted from the full queue, refused after stop, discarded by a stop without drain
or by `cancel`), so `drain(meeting_id, timeout)` knows when all of a meeting's speech is through, and
`through_ms(meeting_id)` how far into its audio decoding got. Utterances are keyed by (meeting,
utterance): a live meeting and a file job both number theirs from 0.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Protocol

import numpy as np

from edge.asr.context import MeetingContext, looks_like_echo
from edge.asr.language import LanguagePolicy
from edge.asr.streaming import PartialTracker
from edge.core.errors import ConfigError
from edge.core.events import SAMPLE_RATE, AsrSegment, Utterance
from edge.core.queues import DropOldestQueue, Empty, QueueClosed

__all__ = ["AsrStage", "AsrStats", "Transcriber"]

log = logging.getLogger(__name__)

# The idle worker wakes this often to refresh `last_progress`, so a watchdog can tell idle from stuck.
HEARTBEAT_S = 1.0
REPLACEMENT = "\ufffd"
# Partials wait while the worker was busy this fraction of the last BUSY_WINDOW_S: finals come first.
MAX_PARTIAL_LOAD = 0.6
BUSY_WINDOW_S = 10.0
LATENCY_WINDOW = 200  # commits the latency percentiles are taken over
# Mean token probability under which a prompted decode is tried again without the prompt.
DOUBTFUL_CONFIDENCE = 0.4
MAX_BACKGROUND = 4  # background finals waiting: enough to keep the worker fed, little read ahead

_Key = tuple[str, int]  # (meeting_id, utterance_id)


class Transcriber(Protocol):
    def transcribe(
        self,
        audio: np.ndarray,
        *,
        offset_ms: int,
        prompt: str | None = None,
        language: str | None = None,
        beam_size: int = 0,
        fallback: bool = True,
    ) -> list[AsrSegment]: ...

    def detect_language(self, audio: np.ndarray) -> dict[str, float]: ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


@dataclass(frozen=True)
class AsrStats:
    utterances: int = 0  # finals decoded
    partial_decodes: int = 0
    audio_seconds: float = 0.0  # of decoded finals
    compute_seconds: float = 0.0  # model time for finals and partials
    partial_compute_seconds: float = 0.0
    soft_errors: int = 0  # a final (speech, per the VAD) that gave no segments
    errors: int = 0  # decodes and callbacks that raised
    dropped: int = 0  # finals lost: queue overflow, or submitted or still queued at a stop without drain
    live_dropped: int = 0  # of those, live finals evicted by a full queue (each logged with its meeting)
    cancelled: int = 0  # background finals discarded because their job was cancelled (not drops)
    partials_superseded: int = 0  # snapshots replaced by a newer one before they were decoded
    partials_skipped_behind: int = 0  # due snapshots not decoded: the worker was busy with finals
    partials_skipped_unseen: int = 0  # due snapshots not decoded: nobody was watching live text
    utterances_with_replacement: int = 0  # finals whose first decode had U+FFFD
    replacement_chars: int = 0  # U+FFFD in those first decodes
    replacement_retries_improved: int = 0  # of those, how many a beam-search retry made better
    replacement_chars_committed: int = 0  # U+FFFD left in committed text (kept, never stripped)
    context_retries: int = 0  # finals decoded again without prompt: it was echoed, looped on or left whisper unsure
    language_switches: int = 0  # a meeting's decoding language changed (asr.languages)
    latency_p50_s: float | None = None  # end of speech -> commit, over the last 200 commits
    latency_p95_s: float | None = None

    @property
    def real_time_factor(self) -> float | None:
        return self.compute_seconds / self.audio_seconds if self.audio_seconds else None


class AsrStage:
    def __init__(
        self,
        model_factory: Callable[[], Transcriber],
        on_partial: Callable[[Utterance, str, str], None],
        on_final: Callable[[Utterance, list[AsrSegment]], None],
        *,
        partial_interval_ms: int = 1000,
        max_pending: int = 256,
        context_factory: Callable[[str], MeetingContext] | None = None,
        languages: Sequence[str] = (),
        retry_beam_size: int = 5,
        end_of_speech_lag_s: float = 0.0,
        partials_wanted: Callable[[], bool] | None = None,
        on_error: Callable[[Utterance, Exception], None] | None = None,
        name: str = "asr",
    ) -> None:
        """`context_factory(meeting_id)` makes a meeting's prompt context (None: the model's initial
        prompt); `languages` with two or more codes picks each utterance's language among them,
        one code forces it; `retry_beam_size` 0 turns the U+FFFD retry off; `end_of_speech_lag_s`
        is how long after the end of speech a final is handed over (the VAD's closing silence)."""
        self._factory = model_factory
        self._on_partial = on_partial
        self._on_final = on_final
        self._on_error = on_error
        self._context_factory = context_factory
        self._languages = tuple(languages)
        if len(self._languages) >= 2:
            LanguagePolicy(self._languages)  # a bad list fails here, not at the first utterance
        self._retry_beam_size = retry_beam_size
        self._lag_s = end_of_speech_lag_s
        self._partials_wanted = partials_wanted
        self._meetings: dict[str, _Meeting] = {}
        self._meetings_lock = threading.Lock()
        self._submitted: dict[_Key, float] = {}  # final -> when it was submitted
        self._pending: Counter[str] = Counter()  # meeting -> finals submitted and not yet through
        self._through = threading.Condition()
        self._latencies: deque[float] = deque(maxlen=LATENCY_WINDOW)
        self._busy: deque[tuple[float, float]] = deque()  # (end, seconds) of recent decodes
        self._interval_s = partial_interval_ms / 1000
        self._name = name
        self._finals: DropOldestQueue[Utterance] = DropOldestQueue(max_pending, name=f"{name} finals")
        self._wake = threading.Condition()
        self._background: deque[Utterance] = deque()  # guarded by _wake; at most MAX_BACKGROUND
        self._max_background = MAX_BACKGROUND
        self._cancelled: set[str] = set()  # meetings whose background finals are refused until forgotten
        self._through_ms: dict[str, int] = {}  # meeting -> end of its latest final through the stage
        self._live_speech: tuple[_Key, float] | None = None  # the live utterance last seen in progress, when
        self._partial: Utterance | None = None  # latest snapshot waiting for a partial decode
        self._partial_utterance: _Key | None = None
        self._partial_due = 0.0
        self._last_final_id: _Key | None = None
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._startup_error: BaseException | None = None
        self._stats = AsrStats()
        self._stats_lock = threading.Lock()
        self._lost = 0  # finals refused after stop, or discarded by stop(drain=False)
        self.last_progress = time.monotonic()

    # -- control (any thread) -------------------------------------------------------------------

    def start(self) -> None:
        """Start the owner thread and wait for it to load the model; re-raises a load failure."""
        if self._thread is not None:
            raise RuntimeError(f"{self._name} stage already started")
        self._thread = threading.Thread(target=self._run, name=self._name, daemon=True)
        self._thread.start()
        self._ready.wait()
        if self._startup_error is not None:
            raise self._startup_error

    def submit(self, utt: Utterance, *, background: bool = False) -> None:
        """Queue a final utterance or offer a snapshot of one in progress.

        Live (the room's microphone) never blocks: a full queue evicts its oldest final, logged and
        counted. `background` (a file read faster than real time) waits for room in its own queue
        instead, and is decoded only when no live work waits; its snapshots are not decoded."""
        key = _key(utt)
        if background:
            if utt.final:
                self._submit_background(utt)
            return
        if utt.final:
            with self._stats_lock:
                self._submitted[key] = time.monotonic()
            with self._through:
                self._pending[utt.meeting_id] += 1
            try:
                evicted = self._finals.put(utt)
            except QueueClosed:
                self._refused_after_stop(utt)
                return
            if evicted is not None:
                self._through_with(evicted)
                log.warning(
                    "%s: live queue full, utterance %d of meeting %s dropped",
                    self._name, evicted.utterance_id, evicted.meeting_id,
                )
            with self._wake:
                self._last_final_id = key
                if self._partial is not None and _key(self._partial) == key:
                    self._partial = None
                if self._live_speech is not None and self._live_speech[0] == key:
                    self._live_speech = None
                self._wake.notify_all()
            return
        with self._wake:
            if self._stopping or key == self._last_final_id:
                return
            self._live_speech = (key, time.monotonic())
            if self._interval_s <= 0:
                return
            if self._partial is not None:
                self._bump(partials_superseded=1)
            if key != self._partial_utterance:
                self._partial_utterance = key
                self._partial_due = time.monotonic() + self._interval_s
            self._partial = utt
            self._wake.notify_all()

    def _submit_background(self, utt: Utterance) -> None:
        # Not in `_submitted`: the commit latency figures are the live meeting's.
        with self._through:
            self._pending[utt.meeting_id] += 1
        with self._wake:
            self._wake.wait_for(
                lambda: len(self._background) < self._max_background
                or self._stopping or utt.meeting_id in self._cancelled
            )
            if self._stopping:
                refused = True
            elif utt.meeting_id in self._cancelled:
                self._bump(cancelled=1)
                self._through_with(utt)
                return
            else:
                refused = False
                self._background.append(utt)
                self._wake.notify_all()
        if refused:
            self._refused_after_stop(utt)

    def _refused_after_stop(self, utt: Utterance) -> None:
        with self._stats_lock:
            self._lost += 1
        self._through_with(utt)
        log.warning(
            "%s: utterance %d of meeting %s arrived after stop; dropped",
            self._name, utt.utterance_id, utt.meeting_id,
        )

    def cancel(self, meeting_id: str) -> int:
        """A background job was cancelled: discard its queued finals (accounted, counted as `cancelled`)
        and refuse the ones still to come until the meeting is forgotten; a decode under way finishes.
        Returns how many were discarded."""
        with self._wake:
            self._cancelled.add(meeting_id)
            mine = [utt for utt in self._background if utt.meeting_id == meeting_id]
            self._background = deque(utt for utt in self._background if utt.meeting_id != meeting_id)
            for utt in mine:
                self._through_with(utt)
            self._wake.notify_all()
        if mine:
            self._bump(cancelled=len(mine))
        return len(mine)

    def stop(self, drain: bool = True, timeout: float | None = None) -> bool:
        """Stop taking work; with `drain`, decode every queued final first. True once the thread ended."""
        with self._wake:
            self._stopping = True
            self._partial = None
            self._finals.close()
            if not drain:
                discarded = 0
                while True:
                    try:
                        utt = self._finals.get(timeout=0)
                    except (Empty, QueueClosed):
                        break
                    discarded += 1
                    self._through_with(utt)
                for utt in self._background:
                    discarded += 1
                    self._through_with(utt)
                self._background.clear()
                if discarded:
                    log.warning("%s: stopped without drain, %d queued utterances dropped", self._name, discarded)
                    with self._stats_lock:
                        self._lost += discarded
            self._wake.notify_all()
        if self._thread is None:
            return True
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def drain(self, meeting_id: str, timeout: float | None) -> bool:
        """Wait until every final of the meeting submitted so far is through (its callback returned)
        or counted as lost, for at most `timeout` seconds (None: as long as the stage's thread lives).
        True when none is left; False on timeout or when the thread ended with some left."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._through:
            while self._pending[meeting_id] > 0:
                if not self.alive:
                    return False
                left = HEARTBEAT_S if deadline is None else min(HEARTBEAT_S, deadline - time.monotonic())
                if left <= 0:
                    return False
                self._through.wait(left)
            return True

    def through_ms(self, meeting_id: str) -> int:
        """The end (meeting time) of the meeting's latest final through the stage: decoding is past it."""
        with self._through:
            return self._through_ms.get(meeting_id, 0)

    def pending(self, meeting_id: str | None = None) -> int:
        """Finals not yet through: of the meeting, or of every meeting."""
        with self._through:
            return self._pending[meeting_id] if meeting_id is not None else sum(self._pending.values())

    def _through_with(self, utt: Utterance) -> None:
        with self._stats_lock:
            self._submitted.pop(_key(utt), None)
        with self._through:
            self._through_ms[utt.meeting_id] = max(self._through_ms.get(utt.meeting_id, 0), utt.end_ms)
            self._pending[utt.meeting_id] -= 1
            if self._pending[utt.meeting_id] <= 0:
                del self._pending[utt.meeting_id]
            self._through.notify_all()

    @property
    def stats(self) -> AsrStats:
        with self._stats_lock:
            stats, lost = self._stats, self._lost
            latencies = sorted(self._latencies)
        with self._meetings_lock:
            switches = sum(m.policy.switches for m in self._meetings.values() if m.policy is not None)
        return replace(
            stats,
            dropped=self._finals.dropped + lost,
            live_dropped=self._finals.dropped,
            language_switches=stats.language_switches + switches,
            latency_p50_s=_percentile(latencies, 0.50),
            latency_p95_s=_percentile(latencies, 0.95),
        )

    # -- meeting context (any thread) ------------------------------------------------------------

    def note_committed(
        self, meeting_id: str, text: str, used_terms: Iterable[str] = (), language: str | None = None
    ) -> None:
        """A segment of the meeting was committed: it becomes context for its next utterances in `language`."""
        meeting = self._meeting(meeting_id)
        if meeting.context is not None:
            meeting.context.note_committed(text, used_terms, language)

    def set_glossary(self, terms: Iterable[str]) -> None:
        """The glossary changed: running meetings offer only terms still in it."""
        terms = list(terms)
        with self._meetings_lock:
            meetings = list(self._meetings.values())
        for meeting in meetings:
            if meeting.context is not None:
                meeting.context.set_glossary(terms)

    def forget_meeting(self, meeting_id: str) -> None:
        """The meeting ended: drop its context and language state (its switches stay counted)."""
        with self._meetings_lock:
            meeting = self._meetings.pop(meeting_id, None)
        with self._wake:
            self._cancelled.discard(meeting_id)
        with self._through:
            self._through_ms.pop(meeting_id, None)
        if meeting is not None and meeting.policy is not None:
            self._bump(language_switches=meeting.policy.switches)

    def _meeting(self, meeting_id: str) -> _Meeting:
        with self._meetings_lock:
            meeting = self._meetings.get(meeting_id)
            if meeting is None:
                context = self._context_factory(meeting_id) if self._context_factory is not None else None
                policy = LanguagePolicy(self._languages) if len(self._languages) >= 2 else None
                meeting = self._meetings[meeting_id] = _Meeting(context, policy)
            return meeting

    @property
    def accepting(self) -> bool:
        """False once stop() began: finals submitted now are dropped and counted."""
        return not self._stopping

    @property
    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def backlog(self) -> int:
        """Finals waiting to be decoded, live and background."""
        with self._wake:
            return len(self._finals) + len(self._background)

    # -- owner thread ----------------------------------------------------------------------------

    def _run(self) -> None:
        try:
            model = self._factory()
            unknown = [code for code in self._languages if code not in getattr(model, "languages", self._languages)]
            if unknown:
                model.close()
                raise ConfigError(f"asr.languages {unknown} are not whisper language codes (such as \"ko\", \"en\")")
        except BaseException as exc:
            self._startup_error = exc
            self._ready.set()
            return
        self._ready.set()
        tracker = PartialTracker()
        tracked: _Key | None = None  # the utterance whose hypotheses `tracker` holds
        try:
            while (job := self._next_job()) is not None:
                if job.final:
                    try:
                        if self._is_cancelled(job.meeting_id):
                            self._bump(cancelled=1)
                        else:
                            self._decode_final(model, job)
                    finally:
                        self._through_with(job)
                    if tracked == _key(job):
                        tracker.reset()
                        tracked = None
                else:
                    if tracked != _key(job):
                        tracker.reset()
                        tracked = _key(job)
                    self._decode_partial(model, job, tracker)
                self.last_progress = time.monotonic()
        finally:
            try:
                model.close()
            except Exception:
                log.exception("%s: closing the model failed", self._name)
            self.last_progress = time.monotonic()

    def _next_job(self) -> Utterance | None:
        """The next live final, else a due live partial, else a background final while the room is
        quiet; None once stopped and drained."""
        with self._wake:
            while True:
                self.last_progress = time.monotonic()
                try:
                    return self._finals.get(timeout=0)
                except QueueClosed:
                    if not self._background:
                        return None
                except Empty:
                    pass
                wait = HEARTBEAT_S
                if self._partial is not None:
                    wait = self._partial_due - time.monotonic()
                    if wait <= 0:
                        job, self._partial = self._partial, None
                        skip = self._partial_skip_reason()
                        if skip is None:
                            return job
                        self._bump(**{skip: 1})
                        self._partial_due = time.monotonic() + self._interval_s
                        continue
                if self._background:
                    speaking = self._live_speaking()
                    if speaking <= 0 or self._stopping:
                        self._wake.notify_all()  # room for a reader waiting in submit
                        return self._background.popleft()
                    wait = min(wait, speaking)
                self._wake.wait(min(wait, HEARTBEAT_S))

    def _is_cancelled(self, meeting_id: str) -> bool:
        with self._wake:
            return meeting_id in self._cancelled

    def _live_speaking(self) -> float:
        """Seconds the live utterance in progress keeps background decodes waiting (0: none in progress).

        A background decode cannot be interrupted, so one started while someone speaks would hold that
        speaker's final back by up to a whole decode; started in the pause after a live final, it is
        normally done before the next speaker's final. Snapshots of a live utterance come every partial
        interval of speech, so one older than two intervals means its speech has ended (the final may
        still come) or the meeting stopped. This may starve an upload in a room that never pauses: the
        live meeting wins."""
        if self._live_speech is None:
            return 0.0
        left = self._live_speech[1] + 2 * max(self._interval_s, HEARTBEAT_S) - time.monotonic()
        if left <= 0:
            self._live_speech = None
            return 0.0
        return left

    def _partial_skip_reason(self) -> str | None:
        if self._partials_wanted is not None and not self._partials_wanted():
            return "partials_skipped_unseen"
        now = time.monotonic()
        while self._busy and self._busy[0][0] < now - BUSY_WINDOW_S:
            self._busy.popleft()
        busy = sum(min(seconds, end - (now - BUSY_WINDOW_S)) for end, seconds in self._busy)
        return "partials_skipped_behind" if busy >= MAX_PARTIAL_LOAD * BUSY_WINDOW_S else None

    def _decode_final(self, model: Transcriber, utt: Utterance) -> None:
        started = time.monotonic()
        try:
            segments = self._decode_checked(model, utt)
        except Exception as exc:
            self._spent(started, errors=1)
            log.exception("%s: decoding utterance %d failed", self._name, utt.utterance_id)
            if self._on_error is not None:
                self._call(self._on_error, utt, exc)
            return
        self._spent(
            started,
            utterances=1,
            audio_seconds=len(utt.audio) / SAMPLE_RATE,
            soft_errors=0 if segments else 1,
            replacement_chars_committed=_replacements(segments),
        )
        self._call(self._on_final, utt, segments)
        with self._stats_lock:
            submitted = self._submitted.pop((utt.meeting_id, utt.utterance_id), None)
            if submitted is not None:
                self._latencies.append(self._lag_s + time.monotonic() - submitted)

    def _decode_checked(self, model: Transcriber, utt: Utterance) -> list[AsrSegment]:
        """The utterance's segments, decoded again without prompt on an echo and with beam search on
        U+FFFD (kept when the retry is not better)."""
        meeting = self._meeting(utt.meeting_id)
        language = self._language(model, meeting, utt, detect=True)
        prompt = meeting.context.prompt(model.count_tokens, language) if meeting.context is not None else None
        # With a prompt, one pass at temperature 0: when the prompt leads whisper astray, its fallback
        # ladder decodes five more times with the same prompt (seen: 20 CPU-s on a 3 s clip). The
        # utterance is decoded again without the prompt, with the ladder, instead.
        segments = model.transcribe(utt.audio, offset_ms=utt.start_ms, prompt=prompt, language=language,
                                    fallback=not prompt)
        if prompt and _doubtful(segments, prompt):
            self._bump(context_retries=1)
            prompt = ""
            segments = model.transcribe(utt.audio, offset_ms=utt.start_ms, prompt=prompt, language=language)
        replaced = _replacements(segments)
        if replaced:
            self._bump(utterances_with_replacement=1, replacement_chars=replaced)
            if self._retry_beam_size > 0:
                retried = model.transcribe(
                    utt.audio, offset_ms=utt.start_ms, prompt=prompt, language=language, beam_size=self._retry_beam_size
                )
                if retried and _replacements(retried) < replaced:
                    self._bump(replacement_retries_improved=1)
                    segments = retried
            log.warning(
                "%s: utterance %d of meeting %s had %d U+FFFD; %d left after retry",
                self._name, utt.utterance_id, utt.meeting_id, replaced, _replacements(segments),
            )
        return segments

    def _language(self, model: Transcriber, meeting: _Meeting, utt: Utterance, *, detect: bool) -> str | None:
        if meeting.policy is None:
            return self._languages[0] if self._languages else None
        duration_s = len(utt.audio) / SAMPLE_RATE
        if meeting.policy.current is not None and not (detect and meeting.policy.needs_detection(duration_s)):
            return meeting.policy.current
        return meeting.policy.choose(model.detect_language(utt.audio), duration_s)

    def _decode_partial(self, model: Transcriber, utt: Utterance, tracker: PartialTracker) -> None:
        started = time.monotonic()
        try:
            meeting = self._meeting(utt.meeting_id)
            language = self._language(model, meeting, utt, detect=False)
            prompt = meeting.context.prompt(model.count_tokens, language) if meeting.context is not None else None
            segments = model.transcribe(utt.audio, offset_ms=utt.start_ms, prompt=prompt, language=language,
                                        fallback=False)  # a preview: never worth whisper's fallback ladder
        except Exception as exc:
            segments = None
            self._bump(errors=1)
            log.exception("%s: partial decode of utterance %d failed", self._name, utt.utterance_id)
            if self._on_error is not None:
                self._call(self._on_error, utt, exc)
        took = self._spent(started, partial_decodes=1)
        self._bump(partial_compute_seconds=took)
        with self._wake:
            if self._partial_utterance == _key(utt):
                self._partial_due = time.monotonic() + self._interval_s
            if segments is None or self._last_final_id == _key(utt):
                return  # failed, or its final arrived meanwhile and this text is already stale
        stable, unstable = tracker.update(" ".join(s.text for s in segments))
        self._call(self._on_partial, utt, stable, unstable)

    def _call(self, callback: Callable[..., None], *args: object) -> None:
        try:
            callback(*args)
        except Exception:
            self._bump(errors=1)
            log.exception("%s: callback %s failed", self._name, getattr(callback, "__name__", callback))

    def _spent(self, started: float, **deltas: float) -> float:
        """Count a decode that began at `started` (compute time, busy window) with `deltas`."""
        now = time.monotonic()
        took = now - started
        with self._wake:
            self._busy.append((now, took))
        self._bump(compute_seconds=took, **deltas)
        return took

    def _bump(self, **deltas: float) -> None:
        with self._stats_lock:
            self._stats = replace(self._stats, **{k: getattr(self._stats, k) + v for k, v in deltas.items()})


@dataclass
class _Meeting:
    context: MeetingContext | None
    policy: LanguagePolicy | None = field(default=None)


def _key(utt: Utterance) -> _Key:
    return (utt.meeting_id, utt.utterance_id)


def _doubtful(segments: list[AsrSegment], prompt: str) -> bool:
    """Whether a prompted decode is worth doing again without the prompt: it echoed the prompt or looped,
    or whisper was unsure of its words (where its own fallback would have tried higher temperatures)."""
    text = " ".join(s.text for s in segments)
    if looks_like_echo(text, prompt):
        return True
    scores = [s.confidence for s in segments if s.confidence is not None]
    return bool(scores) and sum(scores) / len(scores) < DOUBTFUL_CONFIDENCE


def _replacements(segments: list[AsrSegment]) -> int:
    return sum(seg.text.count(REPLACEMENT) for seg in segments)


def _percentile(ordered: list[float], q: float) -> float | None:
    """Nearest-rank percentile of an ascending list, rounded to milliseconds."""
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, max(0, int(q * len(ordered) + 0.5) - 1))], 3)
