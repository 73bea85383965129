"""The audit log for admins: who exported, deleted, edited, approved or changed what, newest first."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, Field

from edge.api.audit import AuditLog
from edge.api.auth import Authenticator
from edge.api.schemas import UNAUTHORIZED


class AuditEntryOut(BaseModel):
    id: int
    at: str = Field(description="When (UTC, ISO 8601), by the box's wall clock.")
    actor: str = Field(description="The user's name, or token:<name> for an integration's API token.",
                       examples=["김민지", "token:home-assistant"])
    action: str = Field(description="export, delete, edit, approve, start, stop, upload, cancel, glossary, users, "
                        "tokens, login or login.failed.")
    target: str = Field(description="The meeting, segment, term, user or token it was done to.")
    detail: str = Field(description="The request's query (an export's format, for example).")


class AuditPage(BaseModel):
    items: list[AuditEntryOut]
    retention_days: int


def build_router(auth: Authenticator, audit: AuditLog) -> APIRouter:
    router = APIRouter(tags=["users"], dependencies=[Depends(auth)], responses=UNAUTHORIZED)

    @router.get("/audit", response_model=AuditPage, summary="The audit log, newest first (admin)")
    def audit_log(
        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
        before_id: Annotated[int | None, Query(ge=1, le=2**62, description="Entries older than this id.")] = None,
    ) -> AuditPage:
        entries = audit.entries(limit=limit, before_id=before_id)
        return AuditPage(items=[AuditEntryOut(**vars(entry)) for entry in entries],
                         retention_days=audit.retention_days)

    return router
