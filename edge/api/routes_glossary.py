"""The glossary: terms with their aliases, CSV import and export, and the suggestions people's segment
edits make (accepted into the glossary or rejected by an admin).

Changes go through `control.editing`, which hands every glossary change to the running box, so the
next segment is corrected with it and the ASR prompt uses it.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request, Response, status
from pydantic import BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator
from edge.api.limits import MIB, receive_upload
from edge.api.schemas import MAX_SEQ, UNAUTHORIZED, ErrorOut, multipart_file_body
from edge.core.errors import UserError
from edge.pipeline.control import BoxControl
from edge.pipeline.records import upload_dir
from edge.store import (
    MAX_ALIASES,
    MAX_NOTE_CHARS,
    MAX_SCOPE_CHARS,
    MAX_TERM_CHARS,
    GlossaryConflict,
    GlossarySuggestion,
    SuggestionDecided,
)
from edge.text.glossary import CSV_HEADER, Glossary, GlossaryError, GlossaryTerm

GLOSSARY_IMPORT_MAX_BYTES = 1 * MIB
TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
_CONTROL = r"\x00-\x1f\x7f-\x9f"
# A term or alias: not blank, no control characters, no | (the alias separator of the CSV format).
TERM_PATTERN = rf"^[^{_CONTROL}|]*[^\s{_CONTROL}|][^{_CONTROL}|]*$"
FREE_TEXT_PATTERN = rf"^[^{_CONTROL}]*$"

NOT_FOUND = {404: {"model": ErrorOut, "description": "No such term or suggestion."}}
CONFLICT = {409: {"model": ErrorOut, "description": "A term or alias that already belongs to another term."}}
# Starlette's path parameters never match a line break: such a "term" reaches no route at all.
NO_ROUTE = {404: {"model": ErrorOut, "description": "The term in the path contains a line break."}}
FULL = {400: {"model": ErrorOut, "description": "The glossary has as many terms as it may hold."}}
DECIDED = {
    409: {
        "model": ErrorOut,
        "description": "The suggestion was already decided, or (accept) its alias belongs to another term.",
    }
}
IMPORT_ERRORS = {
    400: {"model": ErrorOut, "description": "Not a glossary CSV (the message names the line), or too many terms."},
    409: CONFLICT[409],
    413: {"model": ErrorOut, "description": "The body is larger than the limit."},
    415: {"model": ErrorOut, "description": "The body is not multipart/form-data."},
}

TermPath = Annotated[
    str,
    Path(
        max_length=MAX_TERM_CHARS,
        pattern=TERM_PATTERN,
        description="The term (matched ignoring case, spaces and - _ . /).",
    ),
]

SuggestionId = Annotated[int, Path(ge=1, le=2**63 - 1, description="As listed by GET /api/v1/glossary/suggestions.")]


class TermIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    aliases: list[Annotated[str, Field(max_length=MAX_TERM_CHARS, pattern=TERM_PATTERN)]] = Field(
        default_factory=list,
        max_length=MAX_ALIASES,
        description="Spellings and readings that should become the term (쿠버네티스 for Kubernetes).",
    )
    note: str = Field(default="", max_length=MAX_NOTE_CHARS, pattern=FREE_TEXT_PATTERN)
    scope: str = Field(
        default="", max_length=MAX_SCOPE_CHARS, pattern=FREE_TEXT_PATTERN, description="Free text: a team, a project."
    )


class TermOut(BaseModel):
    term: str
    aliases: list[str]
    note: str
    scope: str

    @classmethod
    def of(cls, entry: GlossaryTerm) -> TermOut:
        return cls(term=entry.term, aliases=list(entry.aliases), note=entry.note, scope=entry.scope)


class TermList(BaseModel):
    items: list[TermOut]
    count: int = Field(description="Terms in the glossary (before the q filter).")


class SuggestionOut(BaseModel):
    id: int
    alias: str = Field(description="What was recognized (the text the person replaced).")
    term: str = Field(description="What the person wrote instead.")
    meeting_id: str | None
    seq: int | None = Field(description="The edited segment.")
    status: Literal["pending", "accepted", "rejected"]
    created_at: str
    decided_at: str | None

    @classmethod
    def of(cls, suggestion: GlossarySuggestion) -> SuggestionOut:
        return cls(**suggestion.to_dict())


class SuggestionList(BaseModel):
    items: list[SuggestionOut]


class DecisionOut(BaseModel):
    suggestion: SuggestionOut
    term: TermOut | None = Field(description="The term with its new alias (accepted), else null.")


class GlossaryImportOut(BaseModel):
    imported: int = Field(description="Terms written from the file.")
    terms: int = Field(description="Terms in the glossary now.")


@contextmanager
def _conflict_is_409() -> Iterator[None]:
    try:
        yield
    except GlossaryConflict as exc:
        raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None


def _matches(entry: GlossaryTerm, query: str) -> bool:
    return any(query in field.casefold() for field in (entry.term, *entry.aliases, entry.note, entry.scope))


def _decode_csv(data: bytes, filename: str) -> str:
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise GlossaryError(f"{filename} is not UTF-8 (byte {exc.start}); save it as UTF-8 CSV") from None


def build_router(control: BoxControl, auth: Authenticator) -> APIRouter:
    router = APIRouter(prefix="/glossary", tags=["glossary"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)
    records, editing = control.records, control.editing

    @router.get("/terms", response_model=TermList, summary="The glossary's terms, in order")
    def list_terms(
        q: Annotated[str, Query(max_length=200, description="Only terms whose spelling, alias or note has this.")] = "",
    ) -> TermList:
        glossary = records.glossary()
        query = " ".join(q.split()).casefold()
        items = [TermOut.of(entry) for entry in glossary if not query or _matches(entry, query)]
        return TermList(items=items, count=len(glossary))

    @router.put(
        "/terms/{term:path}",
        response_model=TermOut,
        responses={**FULL, **NO_ROUTE, **CONFLICT},
        summary="Add or replace a term",
        description="A stored term spelled the same way (case, spaces and - _ . / ignored) is replaced, and takes "
        "the spelling given here.",
    )
    def put_term(term: TermPath, body: TermIn) -> TermOut:
        with _conflict_is_409():
            entry = editing.upsert_term(term, body.aliases, body.note, body.scope)
        return TermOut.of(entry)

    @router.delete(
        "/terms/{term:path}", status_code=status.HTTP_204_NO_CONTENT, responses=NOT_FOUND, summary="Delete a term"
    )
    def delete_term(term: TermPath) -> Response:
        if not editing.delete_term(term):
            raise HTTPException(status.HTTP_404_NOT_FOUND, f"the glossary has no term {term!r}")
        return Response(status_code=status.HTTP_204_NO_CONTENT)

    @router.get(
        "/export.csv",
        response_class=Response,
        responses={
            200: {"description": "The glossary as CSV.", "content": {"text/csv": {"schema": {"type": "string"}}}}
        },
        summary="Download the glossary as CSV",
        description=f"Header {','.join(CSV_HEADER)} (and scope when a term has one); aliases separated by |. "
        "UTF-8 with a byte order mark, so spreadsheets read Korean correctly.",
    )
    def export_csv() -> Response:
        return Response(
            ("\ufeff" + records.glossary().dumps()).encode("utf-8"),
            media_type="text/csv; charset=utf-8",
            headers={"Content-Disposition": 'attachment; filename="glossary.csv"'},
        )

    @router.post(
        "/import",
        response_model=GlossaryImportOut,
        responses=IMPORT_ERRORS,
        openapi_extra=multipart_file_body(
            f"CSV with the header {','.join(CSV_HEADER)}; aliases separated by |.",
            {"replace": {"type": "string", "enum": ["true", "false"]}},
        ),
        summary="Import a glossary CSV",
        description="Terms in the file replace the stored terms spelled the same way and new ones are added; with "
        "replace=true the stored terms not in the file are deleted. Nothing changes when the file has an error.",
    )
    async def import_csv(request: Request) -> GlossaryImportOut:
        upload = await receive_upload(request, directory=upload_dir(records), max_bytes=GLOSSARY_IMPORT_MAX_BYTES)
        try:
            data = await run_in_threadpool(upload.path.read_bytes)
        finally:
            upload.path.unlink(missing_ok=True)
        replace_value = upload.fields.get("replace", "false").strip().lower()
        if replace_value not in TRUE_WORDS | {"", "0", "false", "no", "off"}:
            raise UserError(f"replace={replace_value!r} is not true or false")
        glossary = Glossary.loads(_decode_csv(data, upload.filename), source=upload.filename)
        with _conflict_is_409():
            imported = await run_in_threadpool(editing.import_glossary, glossary, replace=replace_value in TRUE_WORDS)
        return GlossaryImportOut(imported=imported, terms=len(records.glossary()))

    @router.get("/suggestions", response_model=SuggestionList, summary="Suggestions made by segment edits")
    def list_suggestions(
        status_: Annotated[
            Literal["pending", "accepted", "rejected", "all"], Query(alias="status")
        ] = "pending",
        meeting_id: Annotated[str | None, Query(max_length=200)] = None,
        seq: Annotated[int | None, Query(ge=0, le=MAX_SEQ)] = None,
        limit: Annotated[int, Query(ge=1, le=1000)] = 200,
    ) -> SuggestionList:
        found = records.suggestions(
            None if status_ == "all" else status_, meeting_id=meeting_id, seq=seq, limit=limit
        )
        return SuggestionList(items=[SuggestionOut.of(suggestion) for suggestion in found])

    def decide(suggestion_id: int, accept: bool) -> DecisionOut:
        try:
            suggestion = editing.decide_suggestion(suggestion_id, accept)
        except (SuggestionDecided, GlossaryConflict) as exc:
            raise HTTPException(status.HTTP_409_CONFLICT, str(exc)) from None
        entry = None
        if accept:
            entry = records.glossary().get(suggestion.term)
        return DecisionOut(suggestion=SuggestionOut.of(suggestion), term=TermOut.of(entry) if entry else None)

    @router.post(
        "/suggestions/{suggestion_id}/accept",
        response_model=DecisionOut,
        responses={**NOT_FOUND, **FULL, **DECIDED},
        summary="Accept a suggestion: its alias joins the term",
        description="The term is created when the glossary does not have it yet.",
    )
    def accept_suggestion(suggestion_id: SuggestionId) -> DecisionOut:
        return decide(suggestion_id, True)

    @router.post(
        "/suggestions/{suggestion_id}/reject",
        response_model=DecisionOut,
        responses={**NOT_FOUND, **DECIDED},
        summary="Reject a suggestion",
    )
    def reject_suggestion(suggestion_id: SuggestionId) -> DecisionOut:
        return decide(suggestion_id, False)

    return router
