"""The minutes of a meeting as a versioned JSON document, validated with pydantic.

Three shapes share the item types:

- `MinutesContent`: what the model writes for the whole meeting (title, summary, topics, decisions,
  action items, open questions). Every item carries `evidence`: the `seq` numbers of the transcript
  segments it comes from (at least one).
- `ChunkNotes`: what the model writes for one chunk of a long meeting (map step) and for a merge of
  several chunks' notes (reduce step): the same lists and a summary, no title.
- `Minutes`: the stored and published document (`v`, meeting id, language, generation time, model,
  and `gaps`: transcript ranges that could not be summarized), what `meeting/<id>/minutes` carries.

`validate_minutes` checks a document from outside (an edit in the admin page) against the meeting's
segments; it raises `MinutesInvalid`, a UserError with a one-line message.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError, field_validator

from edge.core.errors import UserError

MINUTES_VERSION: Final = 1
UNASSIGNED = "unassigned"
MAX_EVIDENCE = 6


MINUTES_STATUSES = ("generating", "draft", "approved", "published", "failed")


class MinutesInvalid(UserError):
    """A minutes document that does not validate (schema, meeting id, or evidence seqs), or minutes
    in a state that does not allow the request (approving minutes that failed)."""


class MinutesNotFound(UserError):
    """The meeting has no minutes yet."""


@dataclass(frozen=True)
class MinutesRecord:
    """A meeting's minutes as stored: `status` is one of MINUTES_STATUSES, `minutes` the document
    (None until one was written), `error` why it failed or what a draft lacks, `attempts` the tries
    of the final request, `llm_calls` all LLM calls of the last generation."""

    meeting_id: str
    status: str
    minutes: dict[str, Any] | None
    error: str | None
    attempts: int
    llm_calls: int
    created_at: str
    updated_at: str
    approved_at: str | None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class _Item(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    evidence: list[StrictInt] = Field(
        min_length=1, description="seq numbers of the transcript segments this item comes from"
    )

    @field_validator("evidence")
    @classmethod
    def _sorted_unique(cls, value: list[int]) -> list[int]:
        return sorted(set(value))


class Topic(_Item):
    title: str = Field(min_length=1)
    summary: str = ""


class Decision(_Item):
    text: str = Field(min_length=1)


class ActionItem(_Item):
    task: str = Field(min_length=1)
    owner: str = Field(default=UNASSIGNED, min_length=1, description='a person, or "unassigned"')
    due: str | None = Field(default=None, description="the deadline as it was said, or null")
    confidence: float = Field(default=0.5, ge=0.0, le=1.0)

    @field_validator("due")
    @classmethod
    def _blank_is_none(cls, value: str | None) -> str | None:
        return value or None


class OpenQuestion(_Item):
    text: str = Field(min_length=1)


class _Lists(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    topics: list[Topic] = Field(default_factory=list)
    decisions: list[Decision] = Field(default_factory=list)
    action_items: list[ActionItem] = Field(default_factory=list)
    open_questions: list[OpenQuestion] = Field(default_factory=list)

    def items(self) -> list[_Item]:
        return [*self.topics, *self.decisions, *self.action_items, *self.open_questions]

    def cited_seqs(self) -> set[int]:
        return {seq for item in self.items() for seq in item.evidence}


class ChunkNotes(_Lists):
    """Notes on a part of a meeting (map and reduce steps)."""

    summary: str = ""


class MinutesContent(_Lists):
    """The minutes as the model writes them for the whole meeting."""

    title: str = Field(min_length=1)
    summary: str = Field(min_length=1)


class Gap(BaseModel):
    """Transcript segments the minutes do not cover, and why."""

    model_config = ConfigDict(extra="forbid")

    first_seq: StrictInt
    last_seq: StrictInt
    t0_ms: StrictInt
    t1_ms: StrictInt
    reason: str


class Minutes(MinutesContent):
    """The stored and published minutes document."""

    v: Literal[1] = MINUTES_VERSION
    meeting_id: str = Field(min_length=1)
    language: str = ""
    generated_at: str = ""
    model: str = ""
    gaps: list[Gap] = Field(default_factory=list)

    def to_json_dict(self) -> dict[str, Any]:
        """The wire form, keys in reading order with `v` first."""
        data = self.model_dump(mode="json")
        return {key: data[key] for key in _DOCUMENT_ORDER}


_DOCUMENT_ORDER = (
    "v", "meeting_id", "language", "title", "summary", "topics", "decisions", "action_items", "open_questions",
    "gaps", "generated_at", "model",
)  # fmt: skip


def first_error(exc: ValidationError) -> str:
    """One line naming the first problem: `action_items.0.evidence: List should have at least 1 item`."""
    error = exc.errors()[0]
    where = ".".join(str(part) for part in error["loc"]) or "document"
    more = f" (and {exc.error_count() - 1} more)" if exc.error_count() > 1 else ""
    return f"{where}: {error['msg']}{more}"


def validate_minutes(data: Any, *, meeting_id: str | None = None, known_seqs: Collection[int] | None = None) -> Minutes:
    """A `Minutes` document from `data` (a dict or a JSON string), or MinutesInvalid naming the
    problem: a schema error, another meeting's id, or evidence citing a seq the meeting lacks."""
    try:
        minutes = Minutes.model_validate_json(data) if isinstance(data, (str, bytes)) else Minutes.model_validate(data)
    except ValidationError as exc:
        raise MinutesInvalid(f"minutes do not validate: {first_error(exc)}; fix that field and try again") from None
    if meeting_id is not None and minutes.meeting_id != meeting_id:
        raise MinutesInvalid(
            f"minutes are for meeting {minutes.meeting_id!r}, not {meeting_id!r}; keep meeting_id unchanged"
        )
    if known_seqs is not None:
        known = set(known_seqs)
        missing = sorted(minutes.cited_seqs() - known)
        if missing:
            shown = ", ".join(f"#{seq}" for seq in missing[:5])
            raise MinutesInvalid(
                f"evidence cites segments the meeting does not have ({shown}); cite existing segment numbers"
            )
    return minutes
