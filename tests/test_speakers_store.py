"""Speakers in the store (issue 11): segments carry their speaker's label and the name the meeting gave it, the
names are published (outbox + change event), re-clustering relabels segments as new revisions, and deleting a
meeting deletes its speakers. Real SQLite in a temp dir; a database of the previous schema is migrated."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from edge.core.events import AsrSegment, Segment, SegmentCommitted, SegmentRevised, SpeakersChanged, StoreChange
from edge.pipeline.commit import SegmentCommitter
from edge.pipeline.current_glossary import CurrentGlossary
from edge.store import MIGRATIONS, MeetingNotFound, SpeakerNameInvalid, SpeakerNotFound, Store


def _meeting_with_speakers(store: Store) -> str:
    meeting = store.create_meeting(language="ko", source="pyaudio:test")
    said = [("S1", "회의를 시작하겠습니다"), ("S2", "네 좋습니다"), ("S10", "배포는 금요일입니다"),
            ("S1", "다음 안건입니다"), (None, "(웃음)")]  # fmt: skip
    for i, (label, text) in enumerate(said):
        store.add_segment(meeting.id, t0_ms=i * 2000, t1_ms=i * 2000 + 1500, text_raw=text, language="ko",
                          speaker=label)  # fmt: skip
    return meeting.id


def test_segments_carry_their_speaker_and_the_meeting_lists_its_speakers_in_label_order(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    segments = store.segments(meeting_id)
    assert [(s.speaker, s.speaker_name) for s in segments] == [("S1", ""), ("S2", ""), ("S10", ""), ("S1", ""),
                                                               (None, "")]  # fmt: skip
    assert [(s.label, s.name, s.segments, s.speech_ms) for s in store.speakers(meeting_id)] == [
        ("S1", "", 2, 3000), ("S2", "", 1, 1500), ("S10", "", 1, 1500)
    ]  # fmt: skip
    payloads = [m.payload for m in store.pending_outbox() if m.kind == "segment"]
    assert [(p["speaker"], p["speaker_id"]) for p in payloads] == [("S1", "S1"), ("S2", "S2"), ("S10", "S10"),
                                                                   ("S1", "S1"), (None, None)]  # fmt: skip
    with pytest.raises(MeetingNotFound):
        store.speakers("no-such-meeting")


def test_a_name_reaches_every_segment_of_its_label_and_is_published(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    changes: list[StoreChange] = []
    store.add_change_listener(changes.append)
    before = store.outbox_backlog()
    speaker = store.set_speaker_name(meeting_id, "S2", "  이지은 ")
    assert (speaker.label, speaker.name, speaker.display) == ("S2", "이지은", "이지은")
    assert [(s.speaker, s.speaker_name, s.speaker_display) for s in store.segments(meeting_id)][:2] == [
        ("S1", "", "S1"), ("S2", "이지은", "이지은")
    ]  # fmt: skip
    rows = store.pending_outbox(limit=1000)
    assert len(rows) == before + 1 and rows[-1].kind == "speakers" and rows[-1].meeting_id == meeting_id
    assert rows[-1].payload == {"v": 1, "meeting_id": meeting_id, "speakers": [
        {"label": "S1", "name": "", "display": "S1", "segments": 2, "speech_ms": 3000},
        {"label": "S2", "name": "이지은", "display": "이지은", "segments": 1, "speech_ms": 1500},
        {"label": "S10", "name": "", "display": "S10", "segments": 1, "speech_ms": 1500},
    ]}  # fmt: skip
    assert len(changes) == 1 and isinstance(changes[0], SpeakersChanged)
    assert changes[0].kind == "speakers" and changes[0].to_payload() == rows[-1].payload
    # The same name again changes and publishes nothing; "" clears it.
    store.set_speaker_name(meeting_id, "S2", "이지은")
    assert store.outbox_backlog() == before + 1
    store.set_speaker_name(meeting_id, "S2", "")
    assert store.segments(meeting_id)[1].speaker_display == "S2"
    # A segment committed after the naming carries the name.
    store.set_speaker_name(meeting_id, "S1", "김민수")
    later = store.add_segment(meeting_id, t0_ms=20_000, t1_ms=21_000, text_raw="정리하겠습니다", language="ko",
                              speaker="S1")  # fmt: skip
    assert (later.speaker, later.speaker_name) == ("S1", "김민수")
    assert later.to_payload()["speaker"] == "김민수" and later.to_payload()["speaker_id"] == "S1"


@pytest.mark.parametrize(
    ("name", "problem"),
    [("김" * 65, "65 characters long; at most 64"), ("김민\x00수", "U+0000"), ("이\n지은", "U+000A"),
     ("Al\x85ex", "U+0085"), (42, "is text, not int")],
)  # fmt: skip
def test_bad_names_are_refused_with_the_reason_and_change_nothing(tmp_path: Path, name: object, problem: str) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    before = store.outbox_backlog()
    with pytest.raises(SpeakerNameInvalid, match=re.escape(problem)):
        store.set_speaker_name(meeting_id, "S1", name)  # type: ignore[arg-type]
    assert store.speakers(meeting_id)[0].name == "" and store.outbox_backlog() == before


def test_unknown_meeting_or_label_is_not_found(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    with pytest.raises(MeetingNotFound):
        store.set_speaker_name("no-such-meeting", "S1", "김민수")
    with pytest.raises(SpeakerNotFound, match=r"no speaker 'S3' \(its speakers: S1, S2, S10\)"):
        store.set_speaker_name(meeting_id, "S3", "김민수")
    assert isinstance(SpeakerNotFound("x"), LookupError)  # the API answers LookupError with 404


def test_relabelling_makes_new_revisions_in_one_transaction(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    store.set_speaker_name(meeting_id, "S1", "김민수")
    changes: list[StoreChange] = []
    store.add_change_listener(changes.append)
    before = len(store.pending_outbox(limit=1000))
    # seq 2 (S10) was S1 all along, seq 4 gets a speaker, seq 0 keeps S1, seq 99 does not exist.
    changed = store.relabel_segments(meeting_id, {0: "S1", 2: "S1", 4: "S2", 99: "S3"})
    assert changed == 2
    segments = store.segments(meeting_id)
    assert [(s.speaker, s.speaker_name, s.revision) for s in segments] == [
        ("S1", "김민수", 0), ("S2", "", 0), ("S1", "김민수", 1), ("S1", "김민수", 0), ("S2", "", 1)
    ]  # fmt: skip
    *updates, speakers = store.pending_outbox(limit=1000)[before:]
    assert [(m.kind, m.payload["seq"], m.payload["revision"], m.payload["speaker"], m.payload["speaker_id"])
            for m in updates] == [("segment_update", 2, 1, "김민수", "S1"), ("segment_update", 4, 1, "S2", "S2")]
    # S1 has a name: the speakers are published again, and S10 (no segment left, no name) is gone.
    assert speakers.kind == "speakers"
    assert [(s["label"], s["name"], s["segments"]) for s in speakers.payload["speakers"]] == [
        ("S1", "김민수", 3), ("S2", "", 2)
    ]  # fmt: skip
    assert [type(c) for c in changes] == [SegmentRevised, SegmentRevised, SpeakersChanged]
    assert [c.segment.seq for c in changes if isinstance(c, SegmentRevised)] == [2, 4]
    assert [s.label for s in store.speakers(meeting_id)] == ["S1", "S2"]
    assert store.relabel_segments(meeting_id, {2: "S1"}) == 0
    # A bad label changes nothing at all.
    with pytest.raises(ValueError, match="label"):
        store.relabel_segments(meeting_id, {0: "S2", 1: "\x00"})
    assert store.segments(meeting_id)[0].speaker == "S1"


def test_relabelling_a_meeting_nobody_named_publishes_only_the_segment_updates(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    before = len(store.pending_outbox(limit=1000))
    assert store.relabel_segments(meeting_id, {1: "S1", 4: None}) == 1
    assert [m.kind for m in store.pending_outbox(limit=1000)[before:]] == ["segment_update"]
    assert [(s.label, s.segments) for s in store.speakers(meeting_id)] == [("S1", 3), ("S10", 1)]


def test_a_revision_of_the_text_keeps_the_speaker(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    store.set_speaker_name(meeting_id, "S2", "이지은")
    edited = store.edit_segment(meeting_id, 1, "네 좋습니다!")
    assert (edited.speaker, edited.speaker_name, edited.revision) == ("S2", "이지은", 1)
    corrected = store.record_llm_correction(meeting_id, 2, text="배포는 금요일 입니다", state="accepted")
    assert corrected is not None and corrected.speaker == "S10"
    assert [s.speaker for s in store.segments_awaiting_llm(meeting_id, limit=10)] == ["S1", "S2", "S1", None]


def test_deleting_a_meeting_deletes_its_speakers_and_clears_the_retained_topic(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting_id = _meeting_with_speakers(store)
    other = _meeting_with_speakers(store)
    store.set_speaker_name(meeting_id, "S1", "김민수")
    store.end_meeting(meeting_id)
    store.mark_sent([m.id for m in store.pending_outbox(limit=1000)])
    store.delete_meeting(meeting_id)
    db = sqlite3.connect(tmp_path / "edge.db")
    assert db.execute("SELECT count(*) FROM speakers WHERE meeting_id = ?", (meeting_id,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM speakers WHERE meeting_id = ?", (other,)).fetchone()[0] == 3
    db.close()
    assert [(m.kind, m.payload) for m in store.pending_outbox()][:2] == [
        ("speakers", None), ("deleted", {"v": 1, "meeting_id": meeting_id})
    ]  # fmt: skip


def test_imported_meetings_publish_their_speakers_only_with_publish_imports(tmp_path: Path) -> None:
    for publish, expected in ((False, []), (True, ["speakers"])):
        store = Store(tmp_path / f"edge-{publish}.db", publish_imports=publish)
        meeting = store.create_meeting(language="ko", source="import:x.vtt", status="imported")
        store.add_segment(meeting.id, t0_ms=0, t1_ms=1000, text_raw="안녕하세요", language="ko", speaker="S1")
        store.set_speaker_name(meeting.id, "S1", "김민수")
        assert [m.kind for m in store.pending_outbox() if m.kind != "segment"] == expected
        store.close()


def test_a_database_of_the_previous_schema_is_migrated_and_keeps_its_segments(tmp_path: Path) -> None:
    path = tmp_path / "edge.db"
    db = sqlite3.connect(path)
    for script in MIGRATIONS[:-1]:
        db.executescript(script)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) - 1}")
    db.execute("INSERT INTO meetings (id, language, source, status, started_at) VALUES "
               "('old', 'ko', 'pyaudio:x', 'stopped', '2026-01-01T00:00:00.000+00:00')")  # fmt: skip
    db.execute("INSERT INTO segments (meeting_id, seq, t0_ms, t1_ms, text_raw, language, created_at) VALUES "
               "('old', 0, 0, 1000, '예전 회의', 'ko', '2026-01-01T00:00:01.000+00:00')")  # fmt: skip
    db.commit()
    db.close()
    store = Store(path)
    assert [(s.text_raw, s.speaker, s.speaker_name) for s in store.segments("old")] == [("예전 회의", None, "")]
    assert store.speakers("old") == []
    payload = Segment("m", 0, 0, 1, "x", "ko").to_payload()
    assert (payload["speaker"], payload["speaker_id"], payload["v"]) == (None, None, 1)


def test_asr_segments_carry_the_speaker_stage_label() -> None:
    assert AsrSegment(0, 1000, "안녕하세요", "ko").speaker is None
    assert AsrSegment(0, 1000, "안녕하세요", "ko", speaker="S3").speaker == "S3"
    assert SegmentCommitted(Segment("m", 0, 0, 1, "x", "ko", speaker="S1", speaker_name="김민수")).to_payload()[
        "speaker"] == "김민수"


def test_the_committer_stores_the_speaker_stage_label(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    committer = SegmentCommitter(
        store, CurrentGlossary(store), prompt="", note_committed=lambda *_: None, then=lambda _: None
    )
    meeting = store.create_meeting(language="ko", source="pyaudio:test")
    committer.commit(meeting.id, [AsrSegment(0, 2000, "제가 금요일까지 보고서 올리겠습니다", "ko", speaker="S2")], 2000)
    committer.commit(meeting.id, [AsrSegment(3000, 4500, "네 알겠습니다", "ko")], 1500)
    assert [(s.speaker, s.text_raw) for s in store.segments(meeting.id)] == [
        ("S2", "제가 금요일까지 보고서 올리겠습니다"), (None, "네 알겠습니다")
    ]  # fmt: skip
    assert [s.label for s in store.speakers(meeting.id)] == ["S2"]
