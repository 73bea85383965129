"""SQLite store: the durable spine. WAL with synchronous=FULL, so a committed segment survives a crash
and a power cut; schema migrations by `PRAGMA user_version`; one connection guarded by a lock.

A committed segment and its outbox row are written in one transaction: nothing is published that is
not on disk, and nothing on disk is forgotten by the publisher.
"""

from __future__ import annotations

import json
import secrets
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from edge.errors import UserError
from edge.events import FilteredSegment, Segment

# Append only: a released migration is never edited, a change is a new entry.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE meetings (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL DEFAULT '',
        room TEXT NOT NULL DEFAULT '',
        language TEXT NOT NULL,
        source TEXT NOT NULL,
        status TEXT NOT NULL
            CHECK (status IN ('recording', 'processing', 'stopped', 'interrupted', 'imported', 'failed')),
        started_at TEXT NOT NULL,
        ended_at TEXT,
        audio_path TEXT
    );
    CREATE TABLE segments (
        meeting_id TEXT NOT NULL REFERENCES meetings(id),
        seq INTEGER NOT NULL,
        t0_ms INTEGER NOT NULL,
        t1_ms INTEGER NOT NULL,
        text_raw TEXT NOT NULL,
        text TEXT,
        language TEXT NOT NULL,
        confidence REAL,
        corrections TEXT NOT NULL DEFAULT '[]',
        created_at TEXT NOT NULL,
        PRIMARY KEY (meeting_id, seq)
    );
    CREATE TABLE filtered_segments (
        id INTEGER PRIMARY KEY,
        meeting_id TEXT NOT NULL REFERENCES meetings(id),
        t0_ms INTEGER NOT NULL,
        t1_ms INTEGER NOT NULL,
        text TEXT NOT NULL,
        reason TEXT NOT NULL,
        created_at TEXT NOT NULL
    );
    CREATE INDEX filtered_segments_meeting ON filtered_segments (meeting_id);
    CREATE TABLE capture_gaps (
        id INTEGER PRIMARY KEY,
        meeting_id TEXT NOT NULL REFERENCES meetings(id),
        start_ms INTEGER NOT NULL,
        duration_ms INTEGER NOT NULL,
        reason TEXT NOT NULL
    );
    CREATE TABLE outbox (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        kind TEXT NOT NULL,
        meeting_id TEXT,
        payload TEXT NOT NULL,
        created_at TEXT NOT NULL,
        sent_at TEXT
    );
    CREATE INDEX outbox_pending ON outbox (id) WHERE sent_at IS NULL;
    """,
)

MEETING_COLUMNS = "id, title, room, language, source, status, started_at, ended_at, audio_path"
SEGMENT_COLUMNS = "meeting_id, seq, t0_ms, t1_ms, text_raw, language, confidence, text, corrections"


def utc_now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


def new_meeting_id() -> str:
    return datetime.now(timezone.utc).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(2)


@dataclass(frozen=True)
class Meeting:
    id: str
    title: str
    room: str
    language: str
    source: str
    status: str
    started_at: str
    ended_at: str | None
    audio_path: str | None

    def to_dict(self) -> dict:
        return {field: getattr(self, field) for field in self.__dataclass_fields__}


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    kind: str
    meeting_id: str | None
    payload: dict


class MeetingNotFound(UserError):
    """The meeting id names no meeting."""


def _segment(row: sqlite3.Row | tuple) -> Segment:
    meeting_id, seq, t0, t1, raw, language, confidence, text, corrections = row
    return Segment(meeting_id, seq, t0, t1, raw, language, confidence, text, json.loads(corrections))


class Store:
    """All database access. Thread-safe; every method is one transaction."""

    def __init__(self, path: Path, *, outbox: bool = True) -> None:
        self.path = Path(path)
        self.outbox_enabled = outbox
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise UserError(
                f"database {self.path} cannot be opened ({exc}); move it aside or fix its permissions"
            ) from None
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self._migrate()

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise UserError(
                    f"database {self.path} has schema {version}, newer than this version of edge knows "
                    f"({len(MIGRATIONS)}); upgrade edge"
                )
            for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
                with self.transaction() as db:
                    # executescript() would commit on its own; statements run one by one instead.
                    for statement in script.split(";"):
                        if statement.strip():
                            db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _enqueue(self, db: sqlite3.Connection, kind: str, meeting_id: str | None, payload: dict) -> None:
        if self.outbox_enabled:
            db.execute(
                "INSERT INTO outbox (kind, meeting_id, payload, created_at) VALUES (?, ?, ?, ?)",
                (kind, meeting_id, json.dumps(payload, ensure_ascii=False), utc_now()),
            )

    # meetings

    def create_meeting(
        self,
        *,
        language: str,
        source: str,
        title: str = "",
        room: str = "",
        status: str = "recording",
        meeting_id: str | None = None,
        audio_path: str | None = None,
    ) -> Meeting:
        meeting = Meeting(
            meeting_id or new_meeting_id(), title, room, language, source, status, utc_now(), None, audio_path
        )
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO meetings ({MEETING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(meeting.to_dict().values()),
            )
        return meeting

    def end_meeting(self, meeting_id: str, status: str = "stopped") -> Meeting:
        with self.transaction() as db:
            db.execute(
                "UPDATE meetings SET status = ?, ended_at = coalesce(ended_at, ?) WHERE id = ?",
                (status, utc_now(), meeting_id),
            )
        return self.meeting(meeting_id)

    def set_audio_path(self, meeting_id: str, audio_path: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE meetings SET audio_path = ? WHERE id = ?", (audio_path, meeting_id))

    def close_interrupted_meetings(self) -> list[str]:
        """Meetings left 'recording' by a crash are closed as 'interrupted' (at start-up)."""
        with self.transaction() as db:
            ids = [row[0] for row in db.execute("SELECT id FROM meetings WHERE status = 'recording'")]
            db.execute(
                "UPDATE meetings SET status = 'interrupted', ended_at = ? WHERE status = 'recording'",
                (utc_now(),),
            )
        return ids

    def meeting(self, meeting_id: str) -> Meeting:
        with self._lock:
            row = self._db.execute(f"SELECT {MEETING_COLUMNS} FROM meetings WHERE id = ?", (meeting_id,)).fetchone()
        if row is None:
            raise MeetingNotFound(f"no meeting with id {meeting_id!r}; `edge meetings` lists them")
        return Meeting(*row)

    def meetings(self, *, limit: int = 50, offset: int = 0) -> list[Meeting]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {MEETING_COLUMNS} FROM meetings ORDER BY started_at DESC, id DESC LIMIT ? OFFSET ?",
                (limit, offset),
            ).fetchall()
        return [Meeting(*row) for row in rows]

    def active_meeting(self) -> Meeting | None:
        with self._lock:
            row = self._db.execute(
                f"SELECT {MEETING_COLUMNS} FROM meetings WHERE status = 'recording' ORDER BY started_at DESC"
            ).fetchone()
        return Meeting(*row) if row else None

    # segments

    def add_segment(
        self,
        meeting_id: str,
        *,
        t0_ms: int,
        t1_ms: int,
        text_raw: str,
        language: str,
        confidence: float | None = None,
        text: str | None = None,
        corrections: Sequence[dict] = (),
    ) -> Segment:
        """Commit a segment with the next seq of its meeting, and its outbox row, in one transaction."""
        with self.transaction() as db:
            seq = db.execute(
                "SELECT coalesce(max(seq) + 1, 0) FROM segments WHERE meeting_id = ?", (meeting_id,)
            ).fetchone()[0]
            segment = Segment(meeting_id, seq, t0_ms, t1_ms, text_raw, language, confidence, text, list(corrections))
            db.execute(
                f"INSERT INTO segments ({SEGMENT_COLUMNS}, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (meeting_id, seq, t0_ms, t1_ms, text_raw, language, confidence, text,
                 json.dumps(list(corrections), ensure_ascii=False), utc_now()),
            )
            self._enqueue(db, "segment", meeting_id, segment.to_payload())
        return segment

    def add_segments(self, meeting_id: str, segments: Sequence[dict]) -> list[Segment]:
        """Commit many segments (an import) in one transaction."""
        with self.transaction():
            return [self.add_segment(meeting_id, **fields) for fields in segments]

    def segments(self, meeting_id: str, *, after_seq: int = -1, limit: int = 1000) -> list[Segment]:
        with self._lock:
            rows = self._db.execute(
                f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE meeting_id = ? AND seq > ? ORDER BY seq LIMIT ?",
                (meeting_id, after_seq, limit),
            ).fetchall()
        return [_segment(row) for row in rows]

    def segment_count(self, meeting_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM segments WHERE meeting_id = ?", (meeting_id,)).fetchone()[0]

    def add_filtered(self, item: FilteredSegment) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO filtered_segments (meeting_id, t0_ms, t1_ms, text, reason, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (item.meeting_id, item.t0_ms, item.t1_ms, item.text, item.reason, utc_now()),
            )

    def filtered(self, meeting_id: str) -> list[FilteredSegment]:
        with self._lock:
            rows = self._db.execute(
                "SELECT meeting_id, t0_ms, t1_ms, text, reason FROM filtered_segments WHERE meeting_id = ? ORDER BY id",
                (meeting_id,),
            ).fetchall()
        return [FilteredSegment(*row) for row in rows]

    def add_gap(self, meeting_id: str, start_ms: int, duration_ms: int, reason: str) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO capture_gaps (meeting_id, start_ms, duration_ms, reason) VALUES (?, ?, ?, ?)",
                (meeting_id, start_ms, duration_ms, reason),
            )

    # outbox

    def enqueue(self, kind: str, meeting_id: str | None, payload: dict) -> None:
        with self.transaction() as db:
            self._enqueue(db, kind, meeting_id, payload)

    def pending_outbox(self, *, after_id: int = 0, limit: int = 100) -> list[OutboxMessage]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, meeting_id, payload FROM outbox WHERE sent_at IS NULL AND id > ? ORDER BY id LIMIT ?",
                (after_id, limit),
            ).fetchall()
        return [OutboxMessage(row[0], row[1], row[2], json.loads(row[3])) for row in rows]

    def mark_sent(self, ids: Sequence[int]) -> None:
        if not ids:
            return
        with self.transaction() as db:
            db.executemany("UPDATE outbox SET sent_at = ? WHERE id = ?", [(utc_now(), i) for i in ids])

    def outbox_backlog(self) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM outbox WHERE sent_at IS NULL").fetchone()[0]

    def integrity_check(self) -> str:
        with self._lock:
            return self._db.execute("PRAGMA integrity_check").fetchone()[0]

    def edit_segment(self, meeting_id: str, seq: int, text: str) -> Segment:
        """A person's correction: it becomes the segment's text, the raw ASR text is kept, the text it
        replaced is recorded in `corrections` (rule "human_edit"), and a "segment_update" outbox row is
        written in the same transaction. Raises MeetingNotFound, or LookupError for an unknown seq."""
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {SEGMENT_COLUMNS} FROM segments WHERE meeting_id = ? AND seq = ?", (meeting_id, seq)
            ).fetchone()
            if row is None:
                self.meeting(meeting_id)
                raise LookupError(f"meeting {meeting_id!r} has no segment {seq}")
            old = _segment(row)
            if text == old.display_text:
                return old
            edit = {"rule": "human_edit", "original": old.display_text, "text": text, "at": utc_now()}
            corrections = [*old.corrections, edit]
            db.execute(
                "UPDATE segments SET text = ?, corrections = ? WHERE meeting_id = ? AND seq = ?",
                (text, json.dumps(corrections, ensure_ascii=False), meeting_id, seq),
            )
            segment = Segment(*row[:7], text, corrections)
            revision = sum(1 for c in corrections if c.get("rule") == "human_edit")
            self._enqueue(db, "segment_update", meeting_id, {**segment.to_payload(), "revision": revision})
        return segment
