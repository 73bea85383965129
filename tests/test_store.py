from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from edge.core.errors import UserError
from edge.core.events import FilteredSegment, SegmentCommitted, SegmentDropped, SegmentRevised, StoreChange
from edge.store import MIGRATIONS, MeetingNotFound, Store


def test_schema_is_migrated_once_and_reopens(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    store.close()
    db = sqlite3.connect(tmp_path / "edge.db")
    assert db.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    db.close()
    Store(tmp_path / "edge.db").close()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "edge.db")
    db.execute(f"PRAGMA user_version={len(MIGRATIONS) + 5}")
    db.close()
    with pytest.raises(UserError, match="newer than this version"):
        Store(tmp_path / "edge.db")


def test_segments_get_consecutive_seq_and_an_outbox_row_each(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="ko", source="file:x.wav")
    for i in range(3):
        store.add_segment(meeting.id, t0_ms=i * 1000, t1_ms=i * 1000 + 900, text_raw=f"문장 {i}", language="ko")
    assert [s.seq for s in store.segments(meeting.id)] == [0, 1, 2]
    pending = store.pending_outbox()
    assert [(m.kind, m.payload["seq"]) for m in pending] == [("segment", 0), ("segment", 1), ("segment", 2)]
    store.mark_sent([pending[0].id])
    assert store.outbox_backlog() == 2


def test_outbox_can_be_disabled(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db", outbox=False)
    meeting = store.create_meeting(language="en", source="file:x.wav")
    store.add_segment(meeting.id, t0_ms=0, t1_ms=10, text_raw="hi", language="en")
    assert store.outbox_backlog() == 0


def test_a_failed_batch_commits_nothing(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="en", source="import")
    with pytest.raises(TypeError):
        store.add_segments(meeting.id, [{"t0_ms": 0, "t1_ms": 1, "text_raw": "a", "language": "en"}, {"bogus": 1}])
    assert store.segments(meeting.id) == []
    assert store.outbox_backlog() == 0


def test_interrupted_meetings_are_closed_and_filtered_kept(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="ko", source="pyaudio:default")
    store.add_filtered(FilteredSegment(meeting.id, 0, 100, "시청해주셔서 감사합니다", "stock_phrase"))
    assert store.close_interrupted_meetings() == [meeting.id]
    assert store.meeting(meeting.id).status == "interrupted"
    assert store.filtered(meeting.id)[0].reason == "stock_phrase"
    with pytest.raises(MeetingNotFound):
        store.meeting("nope")


WRITER = """
import sys
from pathlib import Path
from edge.store import Store
store = Store(Path(sys.argv[1]))
meeting = store.active_meeting() or store.create_meeting(language="ko", source="test")
n = store.segment_count(meeting.id)
while True:
    store.add_segment(meeting.id, t0_ms=n, t1_ms=n + 1, text_raw=f"segment {n}", language="ko")
    print(n, flush=True)
    n += 1
"""


def test_kill_9_never_loses_a_committed_segment_or_corrupts_the_database(tmp_path: Path) -> None:
    """Each acknowledged commit (printed after add_segment returned) must be there after kill -9."""
    db = tmp_path / "edge.db"
    acknowledged = -1
    for _ in range(25):
        proc = subprocess.Popen(
            [sys.executable, "-c", WRITER, str(db)], stdout=subprocess.PIPE, text=True, env={**os.environ}
        )
        deadline = time.monotonic() + 30
        lines = 0
        while lines < 5 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acknowledged = max(acknowledged, int(line))
            lines += 1
        time.sleep(0.01 * (lines % 3))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        for line in proc.stdout:
            acknowledged = max(acknowledged, int(line))
        proc.stdout.close()
        store = Store(db)
        meeting = store.active_meeting()
        seqs = [s.seq for s in store.segments(meeting.id, limit=100_000)]
        assert seqs == list(range(len(seqs))), "seq must have no holes"
        assert len(seqs) - 1 >= acknowledged, f"acknowledged {acknowledged}, stored {len(seqs)}"
        assert len(store.pending_outbox(limit=100_000)) == len(seqs)
        assert store.integrity_check() == "ok"
        store.close()
    assert acknowledged >= 100


def test_listeners_hear_each_committed_revised_and_dropped_segment_after_its_commit(tmp_path: Path) -> None:
    store = Store(tmp_path / "edge.db")
    meeting = store.create_meeting(language="ko", source="test")
    heard: list[StoreChange] = []
    store.add_change_listener(heard.append)
    committed = store.add_segment(meeting.id, t0_ms=0, t1_ms=900, text_raw="쿠버네티스 업그레이드", language="ko")
    dropped = FilteredSegment(meeting.id, 1000, 1900, "시청해 주셔서 감사합니다", "stock_phrase")
    store.add_filtered(dropped)
    edited = store.edit_segment(meeting.id, 0, "Kubernetes 업그레이드")
    store.edit_segment(meeting.id, 0, "Kubernetes 업그레이드")  # the same text again: no new revision
    assert heard == [SegmentCommitted(committed), SegmentDropped(dropped), SegmentRevised(edited, edited=True)]
    assert SegmentRevised(edited, edited=True).to_payload() == {**edited.to_payload(), "edited": True}

    with pytest.raises(RuntimeError), store.transaction():  # rolled back: nothing happened, nothing is told
        store.add_segment(meeting.id, t0_ms=2000, t1_ms=2900, text_raw="rolled back", language="en")
        raise RuntimeError("abort")
    assert len(heard) == 3 and store.segment_count(meeting.id) == 1
    store.close()
