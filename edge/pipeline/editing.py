"""A person's changes to the box's records, whoever makes them (API, MQTT, CLI): a segment's text (and
the glossary suggestions the edit makes), glossary terms and suggestions, attendees, minutes approval,
speaker names, imported transcripts. The store publishes what changed to its listeners; a glossary change is handed
to the running pipeline (`glossary_changed`), so the next segment is corrected and prompted with it."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from edge.core.events import Segment, Speaker
from edge.minutes.authorship import author_after_edit
from edge.minutes.schema import MinutesRecord
from edge.store import GlossarySuggestion, Meeting, MeetingNotFound, Store
from edge.text.glossary import Glossary, GlossaryError, GlossaryTerm
from edge.text.glossary_suggestions import suggest_from_edit
from edge.transcripts.importing import MAX_IMPORT_CUES, ImportResult, import_transcript

log = logging.getLogger(__name__)


class Editing:
    def __init__(
        self, store: Store, *, glossary_changed: Callable[[], None], max_import_cues: int = MAX_IMPORT_CUES
    ) -> None:
        self._store = store
        self._glossary_changed = glossary_changed
        self._max_import_cues = max_import_cues

    # segments

    def edit_segment(self, meeting_id: str, seq: int, text: str) -> Segment:
        """A person's correction of a segment (the raw ASR text is kept), published as its next revision,
        and the glossary suggestions it makes. Raises MeetingNotFound, or LookupError for an unknown seq."""
        store = self._store
        previous = store.segments(meeting_id, after_seq=seq - 1, limit=1)
        segment = store.edit_segment(meeting_id, seq, text)
        if previous and previous[0].seq == seq and segment.revision != previous[0].revision:
            for alias, term in suggest_from_edit(previous[0].display_text, segment.display_text, store.glossary()):
                try:
                    store.add_suggestion(alias, term, meeting_id=meeting_id, seq=seq)
                except GlossaryError as exc:
                    # The edit is saved either way; a suggestion that cannot be a glossary entry is dropped.
                    log.info("no glossary suggestion %r -> %r from segment %s/%s: %s",
                             alias, term, meeting_id, seq, exc)  # fmt: skip
        return segment

    def set_speaker_name(self, meeting_id: str, label: str, name: str) -> Speaker:
        """Name (or with "" unname) a speaker of a meeting; published on the live stream and MQTT. Raises
        MeetingNotFound, SpeakerNotFound (a LookupError) or SpeakerNameInvalid (a UserError)."""
        speaker = self._store.set_speaker_name(meeting_id, label, name)
        log.info("speaker %s of meeting %s named %r", label, meeting_id, speaker.name)
        return speaker

    def import_transcript(
        self, data: bytes | str, *, name: str, title: str | None = None, language: str | None = None
    ) -> ImportResult:
        """A transcript file (SRT, VTT, text, our JSON) as a new meeting with status 'imported'."""
        return import_transcript(
            self._store, data, name=name, title=title, language=language, max_cues=self._max_import_cues
        )

    # deleting

    def delete_meeting(self, meeting_id: str) -> Meeting:
        """Deletes a finished meeting: its records (see Store.delete_meeting), its retained MQTT minutes and
        its audio archive. Raises MeetingNotFound, or MeetingInUse while it records or is transcribed."""
        meeting = self._store.delete_meeting(meeting_id)
        if meeting.audio_path:
            try:
                Path(meeting.audio_path).unlink(missing_ok=True)
            except OSError as exc:  # the records are gone; a file left behind is pruned with the archives
                log.warning("meeting %s deleted, but not its audio %s: %s", meeting_id, meeting.audio_path, exc)
        log.info("meeting %s deleted", meeting_id)
        return meeting

    def prune_meetings(self, retention_days: int) -> list[str]:
        """Deletes the finished meetings that ended more than `retention_days` ago (0 keeps them all)."""
        if retention_days <= 0:
            return []
        deleted = []
        for meeting_id in self._store.meetings_older_than(retention_days):
            try:
                self.delete_meeting(meeting_id)
            except MeetingNotFound:  # deleted meanwhile
                continue
            deleted.append(meeting_id)
        if deleted:
            log.info("deleted %d meetings older than %d days (storage.retention_days)", len(deleted), retention_days)
        return deleted

    # the glossary

    def upsert_term(self, term: str, aliases: Sequence[str] = (), note: str = "", scope: str = "") -> GlossaryTerm:
        entry = self._store.upsert_term(term, aliases, note, scope)
        self._glossary_changed()
        return entry

    def delete_term(self, term: str) -> bool:
        """False when the glossary has no such term."""
        deleted = self._store.delete_term(term)
        if deleted:
            self._glossary_changed()
        return deleted

    def import_glossary(self, glossary: Glossary, *, replace: bool = False) -> int:
        imported = self._store.import_glossary(glossary, replace=replace)
        self._glossary_changed()
        return imported

    def decide_suggestion(self, suggestion_id: int, accept: bool) -> GlossarySuggestion:
        """Accept (the alias joins its term) or reject a suggestion; raises SuggestionDecided, or
        GlossaryConflict when the alias belongs to another term."""
        suggestion = self._store.decide_suggestion(suggestion_id, accept)
        if accept:
            self._glossary_changed()
        return suggestion

    # minutes

    def set_attendees(self, meeting_id: str, names: Sequence[str]) -> list[str]:
        return self._store.set_attendees(meeting_id, names)

    def approve_minutes(self, meeting_id: str, edited_json: dict | str | None = None) -> MinutesRecord:
        """Approve (and publish) the minutes; an edited document's `model` says a person edited it."""
        if edited_json is not None:
            try:
                edited = json.loads(edited_json) if isinstance(edited_json, str) else edited_json
            except ValueError:
                edited = None  # the store names the problem
            current = self._store.minutes(meeting_id)
            if isinstance(edited, dict) and current is not None and current.minutes is not None:
                edited_json = {**edited, "model": author_after_edit(current.minutes, edited)}
        return self._store.approve_minutes(meeting_id, edited_json)
