"""SQLite store: the durable spine. WAL with synchronous=FULL, so a committed segment survives a crash
and a power cut; schema migrations by `PRAGMA user_version`; one connection guarded by a lock.

A committed segment and its outbox row are written in one transaction: nothing is published that is
not on disk, and nothing on disk is forgotten by the publisher.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import secrets
import sqlite3
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

from edge.core.clock import WallClock
from edge.core.errors import UserError
from edge.core.events import (
    FilteredSegment,
    Segment,
    SegmentCommitted,
    SegmentDropped,
    SegmentRevised,
    Speaker,
    SpeakersChanged,
    StoreChange,
)
from edge.minutes.schema import MinutesInvalid, MinutesNotFound, MinutesRecord, validate_minutes
from edge.text.glossary import Glossary, GlossaryError, GlossaryTerm, match_key
from edge.text.search_terms import SearchTerm

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
    """
    CREATE TABLE minutes (
        meeting_id TEXT PRIMARY KEY REFERENCES meetings(id),
        status TEXT NOT NULL CHECK (status IN ('generating', 'draft', 'approved', 'published', 'failed')),
        json TEXT,
        error TEXT,
        attempts INTEGER NOT NULL DEFAULT 0,
        llm_calls INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        approved_at TEXT
    );
    CREATE TABLE attendees (
        meeting_id TEXT NOT NULL REFERENCES meetings(id),
        position INTEGER NOT NULL,
        name TEXT NOT NULL,
        PRIMARY KEY (meeting_id, name)
    );
    """,
    """
    ALTER TABLE segments ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
    ALTER TABLE segments ADD COLUMN llm_state TEXT;
    CREATE INDEX segments_llm_pending ON segments (meeting_id, seq) WHERE llm_state IS NULL;
    CREATE TABLE glossary_terms (
        id INTEGER PRIMARY KEY,
        term TEXT NOT NULL UNIQUE,
        aliases TEXT NOT NULL DEFAULT '[]',
        note TEXT NOT NULL DEFAULT '',
        scope TEXT NOT NULL DEFAULT '',
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        last_used_at TEXT
    );
    CREATE TABLE glossary_suggestions (
        id INTEGER PRIMARY KEY,
        alias TEXT NOT NULL,
        term TEXT NOT NULL,
        meeting_id TEXT,
        seq INTEGER,
        status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'rejected')),
        created_at TEXT NOT NULL,
        decided_at TEXT
    );
    CREATE UNIQUE INDEX glossary_suggestions_open ON glossary_suggestions (alias, term) WHERE status = 'pending';
    """,
    """
    ALTER TABLE meetings ADD COLUMN error TEXT;
    """,
    # Search across meetings: FTS5 with the trigram tokenizer finds any part of a word of three characters
    # or more (Korean with its particles attached, English in any case) without a morphological analyser.
    # Triggers keep it in step with every write. The index's rowid is segment_search_keys.id, an INTEGER
    # PRIMARY KEY: the segments table's own rowid may change on VACUUM.
    """
    CREATE TABLE segment_search_keys (
        id INTEGER PRIMARY KEY,
        meeting_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        UNIQUE (meeting_id, seq)
    );
    CREATE VIRTUAL TABLE segment_search USING fts5(body, tokenize = 'trigram');
    CREATE TRIGGER segment_search_insert AFTER INSERT ON segments BEGIN
        INSERT INTO segment_search_keys (meeting_id, seq) VALUES (new.meeting_id, new.seq);
        INSERT INTO segment_search (rowid, body) VALUES (
            (SELECT id FROM segment_search_keys WHERE meeting_id = new.meeting_id AND seq = new.seq),
            coalesce(new.text, new.text_raw));
    END;
    CREATE TRIGGER segment_search_update AFTER UPDATE OF text, text_raw ON segments BEGIN
        UPDATE segment_search SET body = coalesce(new.text, new.text_raw)
        WHERE rowid = (SELECT id FROM segment_search_keys WHERE meeting_id = old.meeting_id AND seq = old.seq);
    END;
    CREATE TRIGGER segment_search_delete AFTER DELETE ON segments BEGIN
        DELETE FROM segment_search
        WHERE rowid = (SELECT id FROM segment_search_keys WHERE meeting_id = old.meeting_id AND seq = old.seq);
        DELETE FROM segment_search_keys WHERE meeting_id = old.meeting_id AND seq = old.seq;
    END;
    INSERT INTO segment_search_keys (meeting_id, seq) SELECT meeting_id, seq FROM segments ORDER BY meeting_id, seq;
    INSERT INTO segment_search (rowid, body)
        SELECT k.id, coalesce(s.text, s.text_raw) FROM segments s
        JOIN segment_search_keys k ON k.meeting_id = s.meeting_id AND k.seq = s.seq;
    CREATE VIRTUAL TABLE minutes_search USING fts5(meeting_id UNINDEXED, body, tokenize = 'trigram');
    CREATE TRIGGER minutes_search_insert AFTER INSERT ON minutes BEGIN
        INSERT INTO minutes_search (meeting_id, body)
            SELECT new.meeting_id, group_concat(value, char(10)) FROM json_tree(new.json)
            WHERE type = 'text' AND key IN ('title', 'summary', 'text', 'task', 'owner') HAVING count(*) > 0;
    END;
    CREATE TRIGGER minutes_search_update AFTER UPDATE OF json ON minutes BEGIN
        DELETE FROM minutes_search WHERE meeting_id = old.meeting_id;
        INSERT INTO minutes_search (meeting_id, body)
            SELECT new.meeting_id, group_concat(value, char(10)) FROM json_tree(new.json)
            WHERE type = 'text' AND key IN ('title', 'summary', 'text', 'task', 'owner') HAVING count(*) > 0;
    END;
    CREATE TRIGGER minutes_search_delete AFTER DELETE ON minutes BEGIN
        DELETE FROM minutes_search WHERE meeting_id = old.meeting_id;
    END;
    INSERT INTO minutes_search (meeting_id, body)
        SELECT m.meeting_id, (SELECT group_concat(value, char(10)) FROM json_tree(m.json)
            WHERE type = 'text' AND key IN ('title', 'summary', 'text', 'task', 'owner'))
        FROM minutes m WHERE m.json IS NOT NULL;
    """,
    # Accounts, roles and the audit log (edge/api/accounts.py, edge/api/audit.py). Secrets are stored hashed.
    """
    CREATE TABLE users (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
        password_hash TEXT NOT NULL,
        created_at TEXT NOT NULL,
        updated_at TEXT NOT NULL
    );
    CREATE TABLE sessions (
        id_sha256 TEXT PRIMARY KEY,
        user_name TEXT NOT NULL REFERENCES users(name) ON DELETE CASCADE,
        csrf TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
    );
    CREATE INDEX sessions_user ON sessions (user_name);
    CREATE TABLE api_tokens (
        name TEXT PRIMARY KEY,
        role TEXT NOT NULL CHECK (role IN ('viewer', 'member', 'admin')),
        secret_sha256 TEXT NOT NULL UNIQUE,
        created_at TEXT NOT NULL,
        created_by TEXT NOT NULL,
        last_used_at TEXT
    );
    CREATE TABLE audit_log (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        at TEXT NOT NULL,
        actor TEXT NOT NULL,
        action TEXT NOT NULL,
        target TEXT NOT NULL DEFAULT '',
        detail TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX audit_log_at ON audit_log (at);
    """,
    # Who said what: each segment's speaker label ("S1", ...) and the names people gave the labels per meeting.
    """
    ALTER TABLE segments ADD COLUMN speaker TEXT;
    CREATE TABLE speakers (
        meeting_id TEXT NOT NULL REFERENCES meetings(id),
        label TEXT NOT NULL,
        name TEXT NOT NULL DEFAULT '',
        PRIMARY KEY (meeting_id, label)
    );
    """,
)

MEETING_COLUMNS = "id, title, room, language, source, status, started_at, ended_at, audio_path, error"
SEGMENT_COLUMNS = "meeting_id, seq, t0_ms, t1_ms, text_raw, language, confidence, text, corrections, revision"
# A segment as read back: its columns, its speaker's label and the name the meeting gave that label.
SEGMENT_SELECT = (
    "SELECT " + ", ".join(f"g.{column}" for column in SEGMENT_COLUMNS.split(", "))
    + ", g.speaker, coalesce(k.name, '') FROM segments g "
    "LEFT JOIN speakers k ON k.meeting_id = g.meeting_id AND k.label = g.speaker"
)
MAX_SPEAKER_NAME_CHARS = 64
MAX_SPEAKER_LABEL_CHARS = 32

log = logging.getLogger(__name__)


# Wall-clock stamps written while a meeting runs: moved with a clock step (see WallClock).
_MEETING_STAMPS = (("meetings", "id", "started_at"), ("segments", "meeting_id", "created_at"),
                   ("filtered_segments", "meeting_id", "created_at"), ("outbox", "meeting_id", "created_at"))


def _shifted(stamp: str, seconds: float) -> str:
    moved = datetime.fromisoformat(stamp) + timedelta(seconds=seconds)
    return moved.isoformat(timespec="milliseconds")


def new_meeting_id(at: datetime | None = None) -> str:
    return (at or datetime.now(timezone.utc)).strftime("%Y%m%d-%H%M%S-") + secrets.token_hex(4)


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
    error: str | None = None  # why a meeting 'failed' or was 'interrupted'

    def to_dict(self) -> dict:
        return {field: getattr(self, field) for field in self.__dataclass_fields__}


def _interruption(status: str, segments: int) -> str:
    """Why a meeting a crash left half done was closed as 'interrupted', for a person to read."""
    kept = f"{segments} segment{'' if segments == 1 else 's'}"
    if status == "processing":
        return (
            f"the box stopped (a crash or power loss) while it was being transcribed; what was transcribed before "
            f"that is kept ({kept}): upload the file again for the whole transcript"
        )
    return f"the box stopped (a crash or power loss) while recording; the transcript until then is kept ({kept})"


@dataclass(frozen=True)
class OutboxMessage:
    id: int
    kind: str
    meeting_id: str | None
    payload: dict | None  # None: an empty message, which clears a retained topic


class MeetingNotFound(UserError):
    """The meeting id names no meeting."""


class MeetingInUse(UserError):
    """The meeting is being recorded or transcribed: it cannot be deleted now."""


def _segment(row: sqlite3.Row | tuple) -> Segment:
    meeting_id, seq, t0, t1, raw, language, confidence, text, corrections, revision, speaker, name = row
    return Segment(
        meeting_id, seq, t0, t1, raw, language, confidence, text, json.loads(corrections), revision, speaker, name
    )


class SpeakerNotFound(LookupError):
    """The meeting has no speaker with that label."""


class SpeakerNameInvalid(UserError):
    """A speaker's name that cannot be shown: too long, or with control characters."""


def _label_order(label: str) -> tuple[int, str]:
    """S1, S2, ..., S10 in numeric order; other labels after them, alphabetically."""
    digits = label[1:] if label[:1] == "S" else ""
    return (int(digits), "") if digits.isdigit() else (2**62, label)


def checked_speaker_name(name: object) -> str:
    """A speaker's name as stored: ends stripped, runs of white space one space; "" clears the name.
    SpeakerNameInvalid names the problem and the fix."""
    if not isinstance(name, str):
        raise SpeakerNameInvalid(f'a speaker\'s name is text, not {type(name).__name__}; send {{"name": "김민수"}}')
    cleaned = name.replace("\ufeff", " ").strip()
    control = next((char for char in cleaned if ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0), None)
    if control is not None:
        raise SpeakerNameInvalid(f"the speaker's name contains the control character U+{ord(control):04X}; remove it")
    cleaned = " ".join(cleaned.split())
    if len(cleaned) > MAX_SPEAKER_NAME_CHARS:
        raise SpeakerNameInvalid(
            f"the speaker's name is {len(cleaned)} characters long; at most {MAX_SPEAKER_NAME_CHARS} are allowed"
        )
    return cleaned


def _checked_label(label: str | None) -> str | None:
    if label is None:
        return None
    if not isinstance(label, str) or not label.strip() or len(label) > MAX_SPEAKER_LABEL_CHARS or (
        not label.isprintable()
    ):
        raise ValueError(f"speaker label {label!r} is not a short printable label such as 'S1'")
    return label


def _statements(script: str) -> Iterator[str]:
    """The SQL statements of a migration script; a trigger's body holds semicolons of its own."""
    pending = ""
    for piece in script.split(";"):
        pending += piece + ";"
        if sqlite3.complete_statement(pending):
            if pending.strip(" \n;"):
                yield pending
            pending = ""
    if pending.strip(" \n;"):
        raise ValueError(f"incomplete SQL statement in a migration: {pending.strip()[:80]}")


TRIGRAM = 3
"""The search index matches a word of three characters or more; a shorter one is a LIKE over its text."""


@dataclass(frozen=True)
class SearchHit:
    kind: str  # "segment" or "minutes"
    meeting_id: str
    meeting_title: str
    started_at: str
    seq: int | None
    t0_ms: int | None
    language: str
    text: str


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def _like_pattern(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def _search_filter(column: str, terms: Sequence[SearchTerm]) -> tuple[str, list[str], bool]:
    """The WHERE clause (all terms), its parameters, and whether it uses the index (its rank orders)."""
    indexed = [term for term in terms if len(term.shortest) >= TRIGRAM]
    clauses: list[str] = []
    params: list[str] = []
    if indexed:
        clauses.append(f"{column} MATCH ?")
        params.append(" AND ".join("(" + " OR ".join(map(_fts_phrase, term.forms)) + ")" for term in indexed))
    for term in terms:
        if len(term.shortest) < TRIGRAM:
            clauses.append(f"{column} LIKE ? ESCAPE '\\'")
            params.append(_like_pattern(term.shortest))
    return " AND ".join(clauses), params, bool(indexed)


class StoreWriteFailed(sqlite3.OperationalError):
    """A write the database refused for want of space (SQLITE_FULL) or a failing disk (SQLITE_IOERR): nothing
    of it was written, and the same write may succeed once space returns."""


SQLITE_IOERR, SQLITE_FULL = 10, 13  # primary result codes (the module names them only from Python 3.11)


def _out_of_space_or_failing(exc: sqlite3.OperationalError) -> bool:
    code = getattr(exc, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in (SQLITE_FULL, SQLITE_IOERR)
    message = str(exc)
    return "disk is full" in message or "disk I/O error" in message


class DatabaseDamaged(UserError):
    """The database file is empty, truncated or corrupt: the box does not start on it."""


RESTORE_HINT = (
    "restore it from a backup (`edge backup` makes them; the README's 'Backup and restore' says how), "
    "or move it aside, with its -wal and -shm files, to start with an empty database"
)


def _check_not_empty(path: Path) -> None:
    # SQLite treats a zero-length file as a new, empty database; the box's never is one (its first
    # open writes the schema), so a zero-length file is a truncated one and would lose every meeting.
    if path.is_file() and path.stat().st_size == 0:
        raise DatabaseDamaged(f"database {path} is empty (0 bytes): it was truncated; {RESTORE_HINT}")


def _create(path: Path) -> None:
    """A new, empty database in WAL mode, readable by the service user only. Made beside its final name and
    renamed into place, so a crash while creating it never leaves the zero-length file that the next start
    must refuse (see `_check_not_empty`)."""
    partial = path.with_name(path.name + ".new")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        db = sqlite3.connect(partial)
        try:
            db.execute("PRAGMA journal_mode=WAL")  # writes the header: the file is a database from now on
        finally:
            db.close()
        os.replace(partial, path)
    finally:
        partial.unlink(missing_ok=True)


def _make_private(path: Path) -> None:
    """The database, its WAL and shared memory readable by the service user only (SQLite gives the WAL and
    shared-memory files the database's mode), also for a database made before this rule."""
    for file in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        try:
            if file.is_file() and file.stat().st_mode & 0o077:
                file.chmod(0o600)
        except OSError as exc:  # not ours to change (a read-only copy): it still opens
            log.warning("cannot make %s private to its owner (%s)", file, exc.strerror)


def _check_length(path: Path) -> None:
    """A file shorter than the page count its header declares lost its tail (a copy cut short, a full
    disk): SQLite reads the missing pages as zeros and its checks may pass until the next write."""
    wal = path.with_name(path.name + "-wal")
    if not path.is_file() or (wal.is_file() and wal.stat().st_size > 0):
        return  # a WAL not yet checkpointed may hold the pages (recovery writes them back)
    with path.open("rb") as file:
        header = file.read(100)
    if len(header) < 100 or not header.startswith(b"SQLite format 3\x00"):
        return  # not a database: SQLite says so when it opens it
    page_size = int.from_bytes(header[16:18], "big")
    page_size = 65536 if page_size == 1 else page_size
    pages = int.from_bytes(header[28:32], "big")
    # The header's page count is valid only when its version-valid-for number matches the change counter.
    size = path.stat().st_size
    if header[24:28] == header[92:96] and pages and size < pages * page_size:
        raise DatabaseDamaged(
            f"database {path} is damaged: it is {size} bytes long but holds {pages} pages of {page_size} bytes "
            f"(its end is missing); {RESTORE_HINT}"
        )


def _quick_check(db: sqlite3.Connection, path: Path) -> None:
    try:
        verdict = [row[0] for row in db.execute("PRAGMA quick_check(3)")]
    except sqlite3.DatabaseError as exc:
        verdict = [str(exc)]
    if verdict != ["ok"]:
        first = " ".join(verdict[0].replace("*** in database main ***", "").split())
        raise DatabaseDamaged(f"database {path} is damaged (PRAGMA quick_check: {first}); {RESTORE_HINT}")


BACKUP_PAGES_PER_STEP = 256
"""Pages copied per step of an online backup: the box's writers wait at most one step."""


def backup_database(source: Path, target: Path) -> None:
    """Copy the database at `source` to `target` with SQLite's online backup API: consistent even while
    the box writes (a step the box's writes overtook starts again), checked, readable by the owner only.
    The copy appears under its name only when it is complete. Raises UserError when there is no source
    database, `target` exists, or the copy fails its check."""
    if not source.is_file():
        raise UserError(f"there is no database at {source}; check storage.path in the configuration")
    if target.exists():
        raise UserError(f"{target} already exists; name another file with --out, or move that one aside")
    _check_not_empty(source)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".part")
    partial.unlink(missing_ok=True)
    os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    try:
        reader = sqlite3.connect(f"{source.resolve().as_uri()}?mode=ro", uri=True, timeout=30)
        writer = sqlite3.connect(partial)
        try:
            reader.backup(writer, pages=BACKUP_PAGES_PER_STEP)
            _quick_check(writer, source)
        finally:
            writer.close()
            reader.close()
        os.replace(partial, target)
    except sqlite3.DatabaseError as exc:
        raise DatabaseDamaged(f"database {source} could not be copied ({exc}); {RESTORE_HINT}") from None
    finally:
        partial.unlink(missing_ok=True)


class Store:
    """All database access. Thread-safe; every method is one transaction."""

    def __init__(
        self, path: Path, *, outbox: bool = True, publish_imports: bool = False, clock: WallClock | None = None
    ) -> None:
        """`outbox`: write what MQTT publishes; `publish_imports`: imported transcripts' segments too (they
        are not live speech); `clock` stamps the records (its steps move the running meetings' stamps)."""
        self.path = Path(path)
        self.publish_imports = publish_imports
        self._clock = clock or WallClock()
        self._clock.on_step(self._follow_clock_step)
        self.outbox_enabled = outbox
        self.path.parent.mkdir(parents=True, exist_ok=True)
        if not self.path.exists():
            _create(self.path)
        _make_private(self.path)
        _check_not_empty(self.path)
        _check_length(self.path)
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
            self._db.execute("PRAGMA journal_mode=WAL")
        except sqlite3.DatabaseError as exc:
            raise DatabaseDamaged(f"database {self.path} cannot be opened ({exc}); {RESTORE_HINT}") from None
        try:
            _quick_check(self._db, self.path)
        except DatabaseDamaged:
            self._db.close()
            raise
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._lock = threading.RLock()
        self._outbox_listeners: list[Callable[[], None]] = []
        self._outbox_written = False
        self._change_listeners: list[Callable[[StoreChange], None]] = []
        self._changes: list[StoreChange] = []  # of the open transaction, told to the listeners after COMMIT
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
                    for statement in _statements(script):
                        db.execute(statement)
                    db.execute(f"PRAGMA user_version={number}")

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            if self._db.in_transaction:
                yield self._db
                return
            try:
                self._db.execute("BEGIN IMMEDIATE")
                self._outbox_written = False
                self._changes = []
                try:
                    yield self._db
                    self._db.execute("COMMIT")
                except BaseException:
                    self._changes = []
                    # A full disk may have rolled it back already; a transaction left open would swallow the
                    # writes of every later call (they would run "nested" in it and never commit).
                    if self._db.in_transaction:
                        self._db.execute("ROLLBACK")
                    raise
            except sqlite3.OperationalError as exc:
                if _out_of_space_or_failing(exc):
                    raise StoreWriteFailed(
                        f"database {self.path} cannot be written ({exc}): the disk is full or failing; "
                        "free space under storage.path"
                    ) from exc
                raise
            changes, self._changes = self._changes, []
            if self._outbox_written:
                for listener in self._outbox_listeners:
                    listener()
            for change in changes:
                for change_listener in self._change_listeners:
                    try:
                        change_listener(change)
                    except Exception:  # the change is on disk; one broken listener must not hide it from the rest
                        log.exception("store change listener failed on %s", type(change).__name__)

    def add_outbox_listener(self, listener: Callable[[], None]) -> None:
        """Called after every commit that wrote outbox rows (the MQTT sender wakes on it)."""
        self._outbox_listeners.append(listener)

    def add_change_listener(self, listener: Callable[[StoreChange], None]) -> None:
        """Called after every commit, once per segment it committed, revised or dropped, in order, on the
        committing thread: how later revisions (the LLM's, a person's edit) reach the publishers."""
        self._change_listeners.append(listener)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _enqueue(self, db: sqlite3.Connection, kind: str, meeting_id: str | None, payload: dict | None) -> None:
        """`payload` None clears a retained topic (an empty message)."""
        if self.outbox_enabled:
            self._outbox_written = True
            db.execute(
                "INSERT INTO outbox (kind, meeting_id, payload, created_at) VALUES (?, ?, ?, ?)",
                (kind, meeting_id, json.dumps(payload, ensure_ascii=False), self._clock.iso()),
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
        started_at: str | None = None,
    ) -> Meeting:
        """A new meeting, started now or at `started_at` (an imported transcript that says when)."""
        meeting = Meeting(
            meeting_id or new_meeting_id(self._clock.now()), title, room, language, source, status,
            started_at or self._clock.iso(), None, audio_path,
        )  # fmt: skip
        with self.transaction() as db:
            db.execute(
                f"INSERT INTO meetings ({MEETING_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                tuple(meeting.to_dict().values()),
            )
        return meeting

    def end_meeting(self, meeting_id: str, status: str = "stopped", *, error: str | None = None) -> Meeting:
        """End a meeting with `status`; `error` says why it failed (shown with it)."""
        with self.transaction() as db:
            db.execute(
                "UPDATE meetings SET status = ?, ended_at = coalesce(ended_at, ?), error = coalesce(?, error) "
                "WHERE id = ?",
                (status, self._clock.iso(), error, meeting_id),
            )
        return self.meeting(meeting_id)

    def set_audio_path(self, meeting_id: str, audio_path: str) -> None:
        with self.transaction() as db:
            db.execute("UPDATE meetings SET audio_path = ? WHERE id = ?", (audio_path, meeting_id))

    def _follow_clock_step(self, seconds: float) -> None:
        """The system clock was stepped: the stamps of the running meetings move with it, so their start,
        their segments' times and their end stay in one time base, in order."""
        with self.transaction() as db:
            running = [
                row[0] for row in db.execute("SELECT id FROM meetings WHERE status IN ('recording', 'processing')")
            ]
            for meeting_id in running:
                for table, key, column in _MEETING_STAMPS:
                    rows = db.execute(f"SELECT rowid, {column} FROM {table} WHERE {key} = ?", (meeting_id,)).fetchall()
                    db.executemany(
                        f"UPDATE {table} SET {column} = ? WHERE rowid = ?",
                        [(_shifted(stamp, seconds), rowid) for rowid, stamp in rows if stamp],
                    )
        if running:
            log.warning("times of meeting(s) %s moved by %+.1f s with the system clock", ", ".join(running), seconds)

    def close_interrupted_meetings(self) -> list[str]:
        """Meetings a crash left 'recording', or 'processing' (an upload being transcribed), are closed as
        'interrupted' with the reason (at start-up, before any job runs). Returns their ids."""
        now = self._clock.iso()
        with self.transaction() as db:
            rows = db.execute(
                "SELECT id, status, (SELECT count(*) FROM segments WHERE meeting_id = meetings.id) FROM meetings "
                "WHERE status IN ('recording', 'processing') ORDER BY started_at"
            ).fetchall()
            for meeting_id, status, segments in rows:
                db.execute(
                    "UPDATE meetings SET status = 'interrupted', ended_at = ?, error = ? WHERE id = ?",
                    (now, _interruption(status, segments), meeting_id),
                )
        return [row[0] for row in rows]

    def meeting(self, meeting_id: str) -> Meeting:
        with self._lock:
            row = self._db.execute(f"SELECT {MEETING_COLUMNS} FROM meetings WHERE id = ?", (meeting_id,)).fetchone()
        if row is None:
            raise MeetingNotFound(
                f"no meeting with id {meeting_id!r}; the admin page and GET /api/v1/meetings list them"
            )
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
        speaker: str | None = None,
    ) -> Segment:
        """Commit a segment with the next seq of its meeting, and its outbox row, in one transaction.
        `speaker` is its speaker's label ("S1", ...); the meeting gets a speakers row for a new label."""
        speaker = _checked_label(speaker)
        with self.transaction() as db:
            seq = db.execute(
                "SELECT coalesce(max(seq) + 1, 0) FROM segments WHERE meeting_id = ?", (meeting_id,)
            ).fetchone()[0]
            name = self._speaker_row(db, meeting_id, speaker) if speaker is not None else ""
            segment = Segment(
                meeting_id, seq, t0_ms, t1_ms, text_raw, language, confidence, text, list(corrections), 0, speaker,
                name,
            )  # fmt: skip
            db.execute(
                f"INSERT INTO segments ({SEGMENT_COLUMNS}, speaker, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, ?, ?)",
                (meeting_id, seq, t0_ms, t1_ms, text_raw, language, confidence, text,
                 json.dumps(list(corrections), ensure_ascii=False), speaker, self._clock.iso()),
            )
            self._publish_segment(db, "segment", segment)
            self._changes.append(SegmentCommitted(segment))
        return segment

    def _speaker_row(self, db: sqlite3.Connection, meeting_id: str, label: str) -> str:
        """The name of the meeting's speaker `label`, its row made first when it has none."""
        db.execute("INSERT OR IGNORE INTO speakers (meeting_id, label) VALUES (?, ?)", (meeting_id, label))
        row = db.execute("SELECT name FROM speakers WHERE meeting_id = ? AND label = ?", (meeting_id, label)).fetchone()
        return row[0]

    def add_segments(self, meeting_id: str, segments: Sequence[dict]) -> list[Segment]:
        """Commit many segments (an import) in one transaction."""
        with self.transaction():
            return [self.add_segment(meeting_id, **fields) for fields in segments]

    def segments(self, meeting_id: str, *, after_seq: int = -1, limit: int = 1000) -> list[Segment]:
        with self._lock:
            rows = self._db.execute(
                f"{SEGMENT_SELECT} WHERE g.meeting_id = ? AND g.seq > ? ORDER BY g.seq LIMIT ?",
                (meeting_id, after_seq, limit),
            ).fetchall()
        return [_segment(row) for row in rows]

    def segment_count(self, meeting_id: str) -> int:
        with self._lock:
            return self._db.execute("SELECT count(*) FROM segments WHERE meeting_id = ?", (meeting_id,)).fetchone()[0]

    # speakers: who said each segment ("S1", ...) and the names people gave them

    def _speakers(self, db: sqlite3.Connection, meeting_id: str) -> tuple[Speaker, ...]:
        rows = db.execute(
            "SELECT k.label, k.name, count(g.seq), coalesce(sum(max(g.t1_ms - g.t0_ms, 0)), 0) FROM speakers k "
            "LEFT JOIN segments g ON g.meeting_id = k.meeting_id AND g.speaker = k.label "
            "WHERE k.meeting_id = ? GROUP BY k.label",
            (meeting_id,),
        ).fetchall()
        return tuple(sorted((Speaker(*row) for row in rows), key=lambda speaker: _label_order(speaker.label)))

    def speakers(self, meeting_id: str) -> list[Speaker]:
        """The meeting's speakers in label order (S1, S2, ..., S10), each with its name, its number of segments
        and its speech (milliseconds). Raises MeetingNotFound."""
        with self._lock:
            self.meeting(meeting_id)
            return list(self._speakers(self._db, meeting_id))

    def set_speaker_name(self, meeting_id: str, label: str, name: str) -> Speaker:
        """Name (or with "" unname) the meeting's speaker `label`; the meeting's speakers are published (the
        "speakers" outbox row, retained on meeting/<id>/speakers, and the SpeakersChanged change) in the same
        transaction. Raises MeetingNotFound, SpeakerNotFound or SpeakerNameInvalid; changes nothing then."""
        name = checked_speaker_name(name)
        with self.transaction() as db:
            self.meeting(meeting_id)
            row = db.execute(
                "SELECT name FROM speakers WHERE meeting_id = ? AND label = ?", (meeting_id, label)
            ).fetchone()
            if row is None:
                known = ", ".join(s.label for s in self._speakers(db, meeting_id)) or "none yet"
                raise SpeakerNotFound(
                    f"meeting {meeting_id!r} has no speaker {label!r} (its speakers: {known}); "
                    "GET /api/v1/meetings/{id}/speakers lists them"
                )
            if row[0] != name:
                db.execute("UPDATE speakers SET name = ? WHERE meeting_id = ? AND label = ?", (name, meeting_id, label))
                self._publish_speakers(db, meeting_id)
            return next(s for s in self._speakers(db, meeting_id) if s.label == label)

    def _publish_speakers(self, db: sqlite3.Connection, meeting_id: str) -> None:
        change = SpeakersChanged(meeting_id, self._speakers(db, meeting_id))
        self._changes.append(change)
        if self.outbox_enabled:
            row = db.execute("SELECT status FROM meetings WHERE id = ?", (meeting_id,)).fetchone()
            if row is not None and (row[0] != "imported" or self.publish_imports):
                self._enqueue(db, "speakers", meeting_id, change.to_payload())

    def relabel_segments(self, meeting_id: str, labels: Mapping[int, str | None]) -> int:
        """Give segments new speaker labels (seq -> label, None: unknown), as the end-of-meeting re-clustering
        does: each segment whose label differs gets its next revision and a "segment_update" outbox row, all in
        one transaction; seqs the meeting does not have are skipped. Labels no segment carries any more and
        nobody named are dropped; the meeting's speakers are published again when one is named or they were
        published before. Returns how many segments changed."""
        checked = {seq: _checked_label(label) for seq, label in labels.items()}
        changed = 0
        with self.transaction() as db:
            for seq, label in sorted(checked.items()):
                row = db.execute(f"{SEGMENT_SELECT} WHERE g.meeting_id = ? AND g.seq = ?", (meeting_id, seq)).fetchone()
                if row is None:
                    continue
                old = _segment(row)
                if old.speaker == label:
                    continue
                name = self._speaker_row(db, meeting_id, label) if label is not None else ""
                segment = dataclasses.replace(old, speaker=label, speaker_name=name, revision=old.revision + 1)
                db.execute(
                    "UPDATE segments SET speaker = ?, revision = ? WHERE meeting_id = ? AND seq = ?",
                    (label, segment.revision, meeting_id, seq),
                )
                self._publish_segment(db, "segment_update", segment)
                self._changes.append(SegmentRevised(segment))
                changed += 1
            if changed:
                db.execute(
                    "DELETE FROM speakers WHERE meeting_id = ? AND name = '' AND NOT EXISTS (SELECT 1 FROM segments g "
                    "WHERE g.meeting_id = speakers.meeting_id AND g.speaker = speakers.label)",
                    (meeting_id,),
                )
                # Named speakers, or speakers published before, are published again: their segments moved.
                if db.execute(
                    "SELECT 1 FROM speakers WHERE meeting_id = ? AND name != '' UNION ALL "
                    "SELECT 1 FROM outbox WHERE meeting_id = ? AND kind = 'speakers' LIMIT 1",
                    (meeting_id, meeting_id),
                ).fetchone():
                    self._publish_speakers(db, meeting_id)
        return changed

    # search

    def search_segments(self, terms: Sequence[SearchTerm], *, limit: int = 20) -> list[SearchHit]:
        """Segments of every meeting holding all `terms`, best match first (BM25) or, when every term is
        shorter than the index's three characters, the `limit` last written (a scan that stops there),
        newest meeting first and in transcript order."""
        where, params, ranked = _search_filter("s.body", terms)
        if not where:
            return []
        order = "s.rank" if ranked else "s.rowid DESC"
        with self._lock:
            rows = self._db.execute(
                "SELECT 'segment', k.meeting_id, m.title, m.started_at, k.seq, g.t0_ms, g.language, s.body "
                "FROM segment_search s JOIN segment_search_keys k ON k.id = s.rowid "
                "JOIN segments g ON g.meeting_id = k.meeting_id AND g.seq = k.seq "
                f"JOIN meetings m ON m.id = k.meeting_id WHERE {where} ORDER BY {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
        hits = [SearchHit(*row) for row in rows]
        if not ranked:
            hits.sort(key=lambda hit: (hit.meeting_id, hit.seq or 0))
            hits.sort(key=lambda hit: hit.started_at, reverse=True)
        return hits

    def search_minutes(self, terms: Sequence[SearchTerm], *, limit: int = 5) -> list[SearchHit]:
        """Minutes (title, summary, topics, decisions, action items, questions) holding all `terms`."""
        where, params, ranked = _search_filter("s.body", terms)
        if not where:
            return []
        order = "s.rank" if ranked else "m.started_at DESC"
        with self._lock:
            rows = self._db.execute(
                "SELECT 'minutes', s.meeting_id, m.title, m.started_at, NULL, NULL, m.language, s.body "
                f"FROM minutes_search s JOIN meetings m ON m.id = s.meeting_id WHERE {where} ORDER BY {order} LIMIT ?",
                (*params, limit),
            ).fetchall()
        return [SearchHit(*row) for row in rows]

    def add_filtered(self, item: FilteredSegment) -> None:
        with self.transaction() as db:
            db.execute(
                "INSERT INTO filtered_segments (meeting_id, t0_ms, t1_ms, text, reason, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (item.meeting_id, item.t0_ms, item.t1_ms, item.text, item.reason, self._clock.iso()),
            )
            self._changes.append(SegmentDropped(item))

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
            db.executemany("UPDATE outbox SET sent_at = ? WHERE id = ?", [(self._clock.iso(), i) for i in ids])

    def _publish_segment(self, db: sqlite3.Connection, kind: str, segment: Segment) -> None:
        """The segment's outbox row, with the wall-clock time it began (`t0_utc`). An imported transcript's
        segments are not live speech: published only with `publish_imports`, and marked `imported`."""
        if not self.outbox_enabled:
            return
        row = db.execute("SELECT status, started_at FROM meetings WHERE id = ?", (segment.meeting_id,)).fetchone()
        imported = row is not None and row[0] == "imported"
        if row is None or (imported and not self.publish_imports):
            return
        began = datetime.fromisoformat(row[1]) + timedelta(milliseconds=segment.t0_ms)
        payload = {**segment.to_payload(), "t0_utc": began.isoformat(timespec="milliseconds")}
        self._enqueue(db, kind, segment.meeting_id, {**payload, "imported": True} if imported else payload)

    def delete_meeting(self, meeting_id: str) -> Meeting:
        """Deletes a finished meeting with its segments, speakers, search entries, minutes, attendees and its
        messages in the outbox, and queues the clearing of its retained minutes and speakers and a `deleted`
        message; returns it (its audio file is the caller's to delete). Raises MeetingNotFound, or MeetingInUse
        while it records or is transcribed."""
        with self.transaction() as db:
            row = db.execute(f"SELECT {MEETING_COLUMNS} FROM meetings WHERE id = ?", (meeting_id,)).fetchone()
            if row is None:
                raise MeetingNotFound(f"no meeting {meeting_id!r}")
            meeting = Meeting(*row)
            if meeting.status in ("recording", "processing"):
                raise MeetingInUse(f"meeting {meeting_id} is {meeting.status}; stop or cancel it before deleting it")
            published = db.execute("SELECT 1 FROM outbox WHERE meeting_id = ? AND kind = 'minutes' AND sent_at IS "
                                   "NOT NULL LIMIT 1", (meeting_id,)).fetchone()  # fmt: skip
            published_speakers = db.execute("SELECT 1 FROM outbox WHERE meeting_id = ? AND kind = 'speakers' AND "
                                            "sent_at IS NOT NULL LIMIT 1", (meeting_id,)).fetchone()  # fmt: skip
            for table in ("segments", "speakers", "filtered_segments", "capture_gaps", "attendees", "minutes"):
                db.execute(f"DELETE FROM {table} WHERE meeting_id = ?", (meeting_id,))  # triggers: the search index
            db.execute("DELETE FROM glossary_suggestions WHERE meeting_id = ? AND status = 'pending'", (meeting_id,))
            db.execute("UPDATE glossary_suggestions SET meeting_id = NULL, seq = NULL WHERE meeting_id = ?",
                       (meeting_id,))
            db.execute("DELETE FROM outbox WHERE meeting_id = ?", (meeting_id,))  # sent ones hold its text too
            db.execute("DELETE FROM meetings WHERE id = ?", (meeting_id,))
            if published:
                self._enqueue(db, "minutes", meeting_id, None)
            if published_speakers:
                self._enqueue(db, "speakers", meeting_id, None)
            self._enqueue(db, "deleted", meeting_id, {"v": 1, "meeting_id": meeting_id})
        return meeting

    def latest_published_segment(self) -> dict | None:
        """The payload of the newest segment published over MQTT (of a meeting still kept), if any."""
        with self._lock:
            row = self._db.execute(
                "SELECT payload FROM outbox WHERE kind = 'segment' AND sent_at IS NOT NULL ORDER BY id DESC LIMIT 1"
            ).fetchone()
        return json.loads(row[0]) if row else None

    def meetings_older_than(self, days: float) -> list[str]:
        """Finished meetings that ended (or, never ended, started) more than `days` ago."""
        cutoff = (self._clock.now() - timedelta(days=days)).isoformat(timespec="milliseconds")
        with self._lock:
            rows = self._db.execute(
                "SELECT id FROM meetings WHERE status NOT IN ('recording', 'processing') "
                "AND coalesce(ended_at, started_at) < ? ORDER BY started_at", (cutoff,)).fetchall()
        return [row[0] for row in rows]

    @property
    def clock(self) -> WallClock:
        """The clock the records are stamped with."""
        return self._clock

    def expire_retained_minutes(self, days: float) -> list[str]:
        """Queue the clearing of each meeting's retained minutes and speaker names published more than `days`
        ago (and not cleared or published again since): names are personal data, and minutes name people too.
        Returns the ids of the meetings with minutes cleared."""
        cutoff = (self._clock.now() - timedelta(days=days)).isoformat(timespec="milliseconds")
        cleared: dict[str, list[str]] = {}
        with self.transaction() as db:
            for kind in ("minutes", "speakers"):
                cleared[kind] = [row[0] for row in db.execute(
                    "SELECT o.meeting_id FROM outbox o WHERE o.kind = ? AND o.payload != 'null' "
                    "AND o.sent_at IS NOT NULL AND o.sent_at < ? "
                    "AND o.id = (SELECT max(id) FROM outbox WHERE kind = ? AND meeting_id = o.meeting_id)",
                    (kind, cutoff, kind),
                )]  # fmt: skip
                for meeting_id in cleared[kind]:
                    self._enqueue(db, kind, meeting_id, None)
        return cleared["minutes"]

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
                f"{SEGMENT_SELECT} WHERE g.meeting_id = ? AND g.seq = ?", (meeting_id, seq)
            ).fetchone()
            if row is None:
                self.meeting(meeting_id)
                raise LookupError(f"meeting {meeting_id!r} has no segment {seq}")
            old = _segment(row)
            if text == old.display_text:
                return old
            edit = {"rule": "human_edit", "original": old.display_text, "text": text, "at": self._clock.iso()}
            return self._revise(db, old, text, [*old.corrections, edit], edited=True)

    def _revise(
        self, db: sqlite3.Connection, old: Segment, text: str, corrections: list[dict], *, edited: bool = False,
        **columns: object,
    ) -> Segment:
        """A new revision of a segment's text and its "segment_update" outbox row, in the caller's transaction."""
        segment = dataclasses.replace(old, text=text, corrections=corrections, revision=old.revision + 1)
        assignments = "".join(f", {name} = ?" for name in columns)
        db.execute(
            f"UPDATE segments SET text = ?, corrections = ?, revision = ?{assignments} "
            "WHERE meeting_id = ? AND seq = ?",
            (text, json.dumps(corrections, ensure_ascii=False), segment.revision, *columns.values(),
             old.meeting_id, old.seq),
        )
        self._publish_segment(db, "segment_update", segment)
        self._changes.append(SegmentRevised(segment, edited=edited))
        return segment

    def segments_awaiting_llm(self, meeting_id: str, *, limit: int) -> list[Segment]:
        """Committed segments that the LLM correction has not looked at yet, oldest first."""
        with self._lock:
            rows = self._db.execute(
                f"{SEGMENT_SELECT} WHERE g.meeting_id = ? AND g.llm_state IS NULL ORDER BY g.seq LIMIT ?",
                (meeting_id, limit),
            ).fetchall()
        return [_segment(row) for row in rows]

    def meetings_awaiting_llm(self) -> list[str]:
        with self._lock:
            return [row[0] for row in self._db.execute(
                "SELECT DISTINCT meeting_id FROM segments WHERE llm_state IS NULL ORDER BY meeting_id"
            )]

    def record_llm_correction(self, meeting_id: str, seq: int, *, text: str | None, state: str) -> Segment | None:
        """Store layer c's verdict on a segment; an accepted, different text becomes a new revision.
        A segment a person edited meanwhile keeps the person's text."""
        with self.transaction() as db:
            row = db.execute(
                f"{SEGMENT_SELECT} WHERE g.meeting_id = ? AND g.seq = ?", (meeting_id, seq)
            ).fetchone()
            if row is None:
                return None
            old = _segment(row)
            edited = any(c.get("rule") == "human_edit" for c in old.corrections)
            if text is None or edited or text == old.display_text:
                db.execute(
                    "UPDATE segments SET llm_state = ? WHERE meeting_id = ? AND seq = ?",
                    ("kept: edited by a person" if edited else state, meeting_id, seq),
                )
                return None
            change = {"rule": "llm", "original": old.display_text, "text": text, "at": self._clock.iso()}
            return self._revise(db, old, text, [*old.corrections, change], llm_state=state)

    # minutes and attendees (written by edge.minutes.generate; approved in the admin page)

    def save_minutes(
        self,
        meeting_id: str,
        *,
        status: str,
        minutes: dict | None = None,
        error: str | None = None,
        attempts: int = 0,
        llm_calls: int = 0,
        publish: bool = False,
    ) -> MinutesRecord:
        """Write a meeting's minutes row (replacing any). With `publish`, the "minutes" outbox row
        (retained on meeting/<id>/minutes) is written in the same transaction."""
        if publish and minutes is None:
            raise ValueError("cannot publish minutes without a document")
        now = self._clock.iso()
        document = json.dumps(minutes, ensure_ascii=False) if minutes is not None else None
        with self.transaction() as db:
            db.execute(
                "INSERT INTO minutes (meeting_id, status, json, error, attempts, llm_calls, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (meeting_id) DO UPDATE SET status = excluded.status, "
                "json = excluded.json, error = excluded.error, attempts = excluded.attempts, "
                "llm_calls = excluded.llm_calls, updated_at = excluded.updated_at, approved_at = NULL",
                (meeting_id, status, document, error, attempts, llm_calls, now, now),
            )
            if publish and minutes is not None:
                self._enqueue(db, "minutes", meeting_id, minutes)
        record = self.minutes(meeting_id)
        assert record is not None
        return record

    def minutes(self, meeting_id: str) -> MinutesRecord | None:
        """The meeting's minutes row, or None when none was written yet."""
        with self._lock:
            row = self._db.execute(
                "SELECT meeting_id, status, json, error, attempts, llm_calls, created_at, updated_at, approved_at "
                "FROM minutes WHERE meeting_id = ?",
                (meeting_id,),
            ).fetchone()
        if row is None:
            return None
        return MinutesRecord(row[0], row[1], json.loads(row[2]) if row[2] else None, *row[3:])

    def approve_minutes(self, meeting_id: str, edited_json: dict | str | None = None) -> MinutesRecord:
        """A person approves the minutes, optionally edited: the document is validated (schema, meeting
        id, evidence seqs that exist), marked approved and its "minutes" outbox row written, all in one
        transaction. Approving unchanged minutes again publishes nothing new. Raises MeetingNotFound,
        MinutesNotFound, or MinutesInvalid (with the field at fault)."""
        with self.transaction() as db:
            row = db.execute("SELECT status, json FROM minutes WHERE meeting_id = ?", (meeting_id,)).fetchone()
            if row is None:
                self.meeting(meeting_id)
                raise MinutesNotFound(f"meeting {meeting_id!r} has no minutes yet; generate them first")
            status, stored = row
            if stored is None or status in ("generating", "failed"):
                raise MinutesInvalid(
                    f"the minutes of meeting {meeting_id!r} are {status}; only written minutes can be approved "
                    "(generate them again)"
                )
            seqs = {seq for (seq,) in db.execute("SELECT seq FROM segments WHERE meeting_id = ?", (meeting_id,))}
            document = json.loads(stored) if edited_json is None else edited_json
            payload = validate_minutes(document, meeting_id=meeting_id, known_seqs=seqs).to_json_dict()
            if status in ("approved", "published") and payload == json.loads(stored):
                return self.minutes(meeting_id)  # type: ignore[return-value]
            now = self._clock.iso()
            db.execute(
                "UPDATE minutes SET status = 'approved', json = ?, error = NULL, approved_at = ?, updated_at = ? "
                "WHERE meeting_id = ?",
                (json.dumps(payload, ensure_ascii=False), now, now, meeting_id),
            )
            self._enqueue(db, "minutes", meeting_id, payload)
        return self.minutes(meeting_id)  # type: ignore[return-value]

    def meetings_with_minutes_status(self, status: str) -> list[str]:
        """Meetings whose minutes are in `status` (at start-up: 'generating' ones were cut off by a stop)."""
        with self._lock:
            return [row[0] for row in self._db.execute("SELECT meeting_id FROM minutes WHERE status = ?", (status,))]

    def set_attendees(self, meeting_id: str, names: Sequence[str]) -> list[str]:
        """Replace the meeting's attendees (order kept, blanks and repeats dropped); returns them."""
        cleaned = list(dict.fromkeys(" ".join(str(name).split()) for name in names if str(name).strip()))
        with self.transaction() as db:
            self.meeting(meeting_id)
            db.execute("DELETE FROM attendees WHERE meeting_id = ?", (meeting_id,))
            db.executemany(
                "INSERT INTO attendees (meeting_id, position, name) VALUES (?, ?, ?)",
                [(meeting_id, position, name) for position, name in enumerate(cleaned)],
            )
        return cleaned

    def attendees(self, meeting_id: str) -> list[str]:
        with self._lock:
            rows = self._db.execute(
                "SELECT name FROM attendees WHERE meeting_id = ? ORDER BY position", (meeting_id,)
            ).fetchall()
        return [row[0] for row in rows]

    # glossary: the terms people maintain, and the suggestions their segment edits make

    def _glossary_rows(self, db: sqlite3.Connection) -> list[tuple[int, GlossaryTerm]]:
        rows = db.execute("SELECT id, term, aliases, note, scope FROM glossary_terms ORDER BY id").fetchall()
        return [(row[0], GlossaryTerm(row[1], tuple(json.loads(row[2])), row[3], row[4])) for row in rows]

    def _write_term(self, db: sqlite3.Connection, row_id: int | None, entry: GlossaryTerm, now: str) -> None:
        aliases = json.dumps(list(entry.aliases), ensure_ascii=False)
        if row_id is None:
            db.execute(
                "INSERT INTO glossary_terms (term, aliases, note, scope, created_at, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (entry.term, aliases, entry.note, entry.scope, now, now),
            )
        else:
            db.execute(
                "UPDATE glossary_terms SET term = ?, aliases = ?, note = ?, scope = ?, updated_at = ? WHERE id = ?",
                (entry.term, aliases, entry.note, entry.scope, now, row_id),
            )

    def glossary(self) -> Glossary:
        """Every stored term, in the order they were added."""
        with self._lock:
            return Glossary(term for _, term in self._glossary_rows(self._db))

    def upsert_term(self, term: str, aliases: Sequence[str] = (), note: str = "", scope: str = "") -> GlossaryTerm:
        """Add a term, or replace the stored one spelled the same way (case, spaces and - _ . / ignored; the
        spelling given here wins). Raises GlossaryError for an empty or overlong field or an alias that already
        belongs to another term."""
        entry = checked_term(term, aliases, note, scope)
        with self.transaction() as db:
            rows = self._glossary_rows(db)
            row_id = {match_key(stored.term): i for i, stored in rows}.get(match_key(entry.term))
            _validated([entry if i == row_id else stored for i, stored in rows] + ([entry] if row_id is None else []))
            self._write_term(db, row_id, entry, self._clock.iso())
        return entry

    def delete_term(self, term: str) -> bool:
        """Delete the term spelled `term` (case, spaces and - _ . / ignored); False when there is none."""
        with self.transaction() as db:
            rows = db.execute("SELECT id, term FROM glossary_terms").fetchall()
            row_id = {match_key(stored): i for i, stored in rows}.get(match_key(term))
            if row_id is None:
                return False
            db.execute("DELETE FROM glossary_terms WHERE id = ?", (row_id,))
        return True

    def import_glossary(self, glossary: Glossary, *, replace: bool = False) -> int:
        """Write every term of `glossary` (a CSV file): a term spelled like a stored one replaces it, new terms
        follow the stored ones. With `replace` the stored terms not in `glossary` are deleted and the order
        becomes the file's (each kept term keeps its history). One transaction: a conflict (an alias of two
        terms) raises GlossaryError and changes nothing. Returns the number of terms written."""
        terms = [checked_term(entry.term, entry.aliases, entry.note, entry.scope) for entry in glossary]
        now = self._clock.iso()
        with self.transaction() as db:
            rows = self._glossary_rows(db)
            ids = {match_key(stored.term): i for i, stored in rows}
            if replace:
                _validated(terms)
                history = {
                    match_key(stored): (created, used)
                    for stored, created, used in db.execute("SELECT term, created_at, last_used_at FROM glossary_terms")
                }
                db.execute("DELETE FROM glossary_terms")
                for entry in terms:
                    created, used = history.get(match_key(entry.term), (now, None))
                    db.execute(
                        "INSERT INTO glossary_terms (term, aliases, note, scope, created_at, updated_at, last_used_at) "
                        "VALUES (?, ?, ?, ?, ?, ?, ?)",
                        (entry.term, json.dumps(list(entry.aliases), ensure_ascii=False), entry.note, entry.scope,
                         created, now, used),
                    )
                return len(terms)
            incoming = {match_key(entry.term): entry for entry in terms}
            _validated(
                [incoming.get(match_key(stored.term), stored) for _, stored in rows]
                + [entry for key, entry in incoming.items() if key not in ids]
            )
            for key, entry in incoming.items():
                self._write_term(db, ids.get(key), entry, now)
        return len(terms)

    def add_suggestion(
        self, alias: str, term: str, *, meeting_id: str | None = None, seq: int | None = None
    ) -> int | None:
        """Record a pending suggestion that `alias` (what was recognized) should become `term` (from a person's
        edit of segment `seq` of `meeting_id`). Returns its id, or None when it would change nothing: the alias
        is the term itself or already one of its aliases, or the same suggestion is already pending."""
        entry = checked_term(term, (alias,))
        if not entry.aliases or match_key(entry.aliases[0]) == match_key(entry.term):
            return None
        alias = entry.aliases[0]
        with self.transaction() as db:
            stored = {match_key(t.term): t for _, t in self._glossary_rows(db)}.get(match_key(entry.term))
            if stored is not None:
                if match_key(alias) in {match_key(known) for known in stored.aliases}:
                    return None
                entry = stored
            cursor = db.execute(
                "INSERT OR IGNORE INTO glossary_suggestions (alias, term, meeting_id, seq, created_at) "
                "VALUES (?, ?, ?, ?, ?)",
                (alias, entry.term, meeting_id, seq, self._clock.iso()),
            )
            return cursor.lastrowid if cursor.rowcount else None

    def suggestions(
        self, status: str | None = "pending", *, meeting_id: str | None = None, seq: int | None = None,
        limit: int = 500,
    ) -> list[GlossarySuggestion]:
        """Suggestions with `status` (None: all), newest first; optionally only those of one meeting or segment."""
        if status is not None and status not in SUGGESTION_STATUSES:
            raise UserError(f"suggestion status {status!r} is not one of {', '.join(SUGGESTION_STATUSES)}")
        conditions, values = ["1"], []
        for column, value in (("status", status), ("meeting_id", meeting_id), ("seq", seq)):
            if value is not None:
                conditions.append(f"{column} = ?")
                values.append(value)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {SUGGESTION_COLUMNS} FROM glossary_suggestions WHERE {' AND '.join(conditions)} "
                "ORDER BY id DESC LIMIT ?",
                (*values, limit),
            ).fetchall()
        return [GlossarySuggestion(*row) for row in rows]

    def decide_suggestion(self, suggestion_id: int, accept: bool) -> GlossarySuggestion:
        """Accept or reject a pending suggestion. Accepting adds the alias to its term (creating the term when
        there is none) in the same transaction. Raises SuggestionNotFound, SuggestionDecided, or GlossaryError
        when the alias already belongs to another term (the suggestion then stays pending)."""
        with self.transaction() as db:
            row = db.execute(
                f"SELECT {SUGGESTION_COLUMNS} FROM glossary_suggestions WHERE id = ?", (suggestion_id,)
            ).fetchone()
            if row is None:
                raise SuggestionNotFound(f"no glossary suggestion with id {suggestion_id}; GET the suggestions again")
            suggestion = GlossarySuggestion(*row)
            if suggestion.status != "pending":
                raise SuggestionDecided(f"glossary suggestion {suggestion_id} was already {suggestion.status}")
            now = self._clock.iso()
            if accept:
                rows = self._glossary_rows(db)
                row_id = {match_key(t.term): i for i, t in rows}.get(match_key(suggestion.term))
                stored = next((t for i, t in rows if i == row_id), None)
                if stored is None:
                    entry = checked_term(suggestion.term, (suggestion.alias,))
                else:
                    entry = checked_term(stored.term, (*stored.aliases, suggestion.alias), stored.note, stored.scope)
                _validated([entry if i == row_id else t for i, t in rows] + ([entry] if row_id is None else []))
                self._write_term(db, row_id, entry, now)
            status = "accepted" if accept else "rejected"
            db.execute(
                "UPDATE glossary_suggestions SET status = ?, decided_at = ? WHERE id = ?", (status, now, suggestion_id)
            )
        return dataclasses.replace(suggestion, status=status, decided_at=now)

    def touch_terms(self, terms: Iterable[str]) -> None:
        """Mark terms as just used (a correction or a person wrote them), for `recent_terms`."""
        keys = {match_key(term) for term in terms}
        if not keys:
            return
        with self.transaction() as db:
            # Microseconds, and always after the last touch: "most recent" must not depend on clock ticks.
            now = self._clock.now()
            (latest,) = db.execute("SELECT max(last_used_at) FROM glossary_terms").fetchone()
            if latest is not None and now <= datetime.fromisoformat(latest):
                now = datetime.fromisoformat(latest) + timedelta(microseconds=1)
            stamp = now.isoformat(timespec="microseconds")
            rows = db.execute("SELECT id, term FROM glossary_terms").fetchall()
            db.executemany(
                "UPDATE glossary_terms SET last_used_at = ? WHERE id = ?",
                [(stamp, row_id) for row_id, term in rows if match_key(term) in keys],
            )

    def recent_terms(self, limit: int = 20) -> list[str]:
        """The terms used most recently (see `touch_terms`), newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT term FROM glossary_terms WHERE last_used_at IS NOT NULL "
                "ORDER BY last_used_at DESC, id DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [row[0] for row in rows]


# glossary limits and records (used by the glossary methods of Store above)

MAX_TERM_CHARS = 100
MAX_ALIASES = 50
MAX_NOTE_CHARS = 1000
MAX_SCOPE_CHARS = 100
MAX_GLOSSARY_TERMS = 5000
SUGGESTION_STATUSES = ("pending", "accepted", "rejected")
SUGGESTION_COLUMNS = "id, alias, term, meeting_id, seq, status, created_at, decided_at"


@dataclass(frozen=True)
class GlossarySuggestion:
    """A person's edit suggested that `alias` should become `term`; an admin accepts or rejects it."""

    id: int
    alias: str
    term: str
    meeting_id: str | None
    seq: int | None
    status: str
    created_at: str
    decided_at: str | None

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


class SuggestionNotFound(LookupError):
    """No glossary suggestion has that id."""


class SuggestionDecided(UserError):
    """The glossary suggestion was already accepted or rejected."""


def checked_term(term: str, aliases: Sequence[str] = (), note: str = "", scope: str = "") -> GlossaryTerm:
    """A validated GlossaryTerm; GlossaryError names the field at fault (empty, too long, unprintable)."""
    if isinstance(aliases, str):
        raise GlossaryError("aliases must be a list of spellings, not one string")
    if not isinstance(term, str) or not term.split():
        raise GlossaryError("the term is empty; give its canonical spelling")
    name = " ".join(term.split())
    for number, alias in enumerate(aliases, start=1):
        if not isinstance(alias, str) or not alias.split():
            raise GlossaryError(f"alias {number} of {name!r} is empty; remove it or write the spelling")
    # Limits apply to the text as given (runs of white space count as one); NFC may change it slightly.
    for what, value, limit in (
        ("term", name, MAX_TERM_CHARS),
        *((f"alias of {name!r}", " ".join(alias.split()), MAX_TERM_CHARS) for alias in aliases),
        (f"note of {name!r}", " ".join(note.split()), MAX_NOTE_CHARS),
        (f"scope of {name!r}", " ".join(scope.split()), MAX_SCOPE_CHARS),
    ):
        if len(value) > limit:
            raise GlossaryError(f"{what} is {len(value)} characters long; at most {limit} are allowed")
        if any(ord(char) < 0x20 or 0x7F <= ord(char) < 0xA0 for char in value):
            raise GlossaryError(f"{what} {value!r} contains control characters; remove them")
    try:
        entry = GlossaryTerm(term, tuple(aliases), note, scope)
    except ValueError as exc:
        raise GlossaryError(str(exc)) from None
    if len(entry.aliases) > MAX_ALIASES:
        raise GlossaryError(f"{entry.term!r} has {len(entry.aliases)} aliases; at most {MAX_ALIASES} are allowed")
    return entry


class GlossaryConflict(GlossaryError):
    """A change that contradicts the stored glossary: a term or alias that already belongs to another term."""


def _validated(terms: list[GlossaryTerm]) -> Glossary:
    """The glossary these terms make; GlossaryConflict for a term or alias listed under two terms, GlossaryError
    for too many terms."""
    if len(terms) > MAX_GLOSSARY_TERMS:
        raise GlossaryError(f"the glossary would have {len(terms)} terms; at most {MAX_GLOSSARY_TERMS} are allowed")
    try:
        return Glossary(terms)
    except GlossaryError as exc:
        raise GlossaryConflict(str(exc)) from None
