"""Health (no token: monitoring and the login screen use it), its last hour (token) and the box's current
state."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator
from edge.api.health_history import HealthHistory
from edge.api.schemas import UNAUTHORIZED, HealthHistoryOut, HealthOut, StateOut
from edge.pipeline.control import BoxControl


def build_router(control: BoxControl, auth: Authenticator, history: HealthHistory) -> APIRouter:
    router = APIRouter(tags=["status"])

    @router.get("/health", response_model=HealthOut, summary="Health: queues, drops, real-time factor, uptime")
    async def health() -> HealthOut:
        return HealthOut.model_validate(await run_in_threadpool(control.health))

    @router.get(
        "/health/history",
        response_model=HealthHistoryOut,
        dependencies=[Depends(auth)],
        responses=UNAUTHORIZED,
        summary="The last hour of health, one sample every interval_s seconds, for plots",
    )
    def health_history() -> HealthHistoryOut:
        return HealthHistoryOut(interval_s=history.interval_s, series=history.series())

    @router.get(
        "/state",
        response_model=StateOut,
        dependencies=[Depends(auth)],
        responses=UNAUTHORIZED,
        summary="idle, recording or processing",
    )
    async def state() -> StateOut:
        return StateOut.model_validate(await run_in_threadpool(control.state))

    return router
