"""Live stream of the box's events as Server-Sent Events: partials, committed segments, state, ...

Each client gets its own bounded LiveBus subscription; a slow client loses its oldest events (it is
told so by a `dropped` event and can re-read segments from the API), never the pipeline's time.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from edge.api.auth import Authenticator, BearerCredentials, LiveTickets, unauthorized
from edge.api.schemas import UNAUTHORIZED, ErrorOut, TicketOut
from edge.core.events import BoxState, LiveDropped, LiveEvent
from edge.core.queues import Empty, QueueClosed
from edge.pipeline.control import BoxControl

POLL_INTERVAL_S = 0.05
KEEPALIVE_INTERVAL_S = 15.0
RETRY_MS = 3000


def sse_message(event: LiveEvent | LiveDropped) -> str:
    # json.dumps escapes newlines, so the data is one line and cannot inject SSE fields.
    return f"event: {event.kind}\ndata: {json.dumps(event.to_payload(), ensure_ascii=False)}\n\n"


async def live_events(control: BoxControl, stopping: threading.Event) -> AsyncIterator[str]:
    """The SSE stream of one client. Subscribes before reading the state, so nothing falls between."""
    with control.subscribe_live() as queue:
        yield f"retry: {RETRY_MS}\n\n"
        state = control.state()
        yield sse_message(BoxState(state["state"], state["meeting_id"]))
        dropped_reported = 0
        last_sent = time.monotonic()
        while not stopping.is_set():
            # Reported before the next event, so the client knows of a gap before it sees what follows it.
            if queue.dropped > dropped_reported:
                yield sse_message(LiveDropped(queue.dropped - dropped_reported))
                dropped_reported = queue.dropped
            try:
                event = queue.get(timeout=0)
            except Empty:
                if time.monotonic() - last_sent > KEEPALIVE_INTERVAL_S:
                    yield ": keepalive\n\n"
                    last_sent = time.monotonic()
                # Polling keeps a waiting client off the thread pool: a blocking get() would hold a thread each.
                await asyncio.sleep(POLL_INTERVAL_S)
                continue
            except QueueClosed:
                return
            yield sse_message(event)
            last_sent = time.monotonic()


def build_router(
    control: BoxControl, auth: Authenticator, tickets: LiveTickets, stopping: threading.Event
) -> APIRouter:
    router = APIRouter(prefix="/live", tags=["live"])

    @router.post(
        "/ticket",
        response_model=TicketOut,
        dependencies=[Depends(auth)],
        responses=UNAUTHORIZED,
        summary="A single-use ticket for opening the live stream from a browser",
        description="EventSource cannot send headers; open GET /api/v1/live?ticket=... within the expiry.",
    )
    async def live_ticket() -> TicketOut:
        return TicketOut(ticket=tickets.issue(), expires_in_s=tickets.ttl_s)

    @router.get(
        "",
        # Not fastapi.sse: its `yield` mode forces Cache-Control: no-cache (transcripts need no-store) and own pings.
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "Server-Sent Events: `state`, `partial`, `segment`, `segment_update`, `speakers`, "
                "`dropped`, ...;"
                " each `data` is the event's JSON payload.",
                "content": {"text/event-stream": {"schema": {"type": "string"}}},
            },
            401: {"model": ErrorOut, "description": "Neither a valid bearer token nor a valid ticket."},
        },
        summary="Live events (Server-Sent Events)",
    )
    async def live(
        request: Request,
        credentials: BearerCredentials,
        ticket: Annotated[
            str | None, Query(max_length=100, description="From POST /api/v1/live/ticket (for browsers).")
        ] = None,
    ) -> StreamingResponse:
        if ticket is None or credentials is not None:  # a token, or the page's session cookie
            await run_in_threadpool(auth.authorize, request, credentials)
        elif not tickets.redeem(ticket):
            raise unauthorized("the live ticket is unknown, used or expired; get a new one from /api/v1/live/ticket")
        return StreamingResponse(
            live_events(control, stopping),
            status_code=status.HTTP_200_OK,
            media_type="text/event-stream",
            headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
        )

    return router
