"""GET /api/v1/feed: Server-Sent Events from the persisted event log.

Resumes after ``Last-Event-ID`` (or ``?last_event_id=``): every later event once, in order. With
``?follow=false`` it sends what is there and ends (for catching up and for tests).
Browsers' EventSource cannot set headers, so ``?token=`` is accepted here as well.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from central.api.deps import OPS, hub_of
from central.api.query_token import require_header_or_query
from central.auth import Principal
from central.feed import events_after, sse_frame
from central.feed_tail import FeedTail

router = APIRouter(prefix="/api/v1", tags=["feed"])


def _start_id(header: str | None, query: int | None) -> int:
    raw = header if header is not None else query
    if raw is None:
        return 0
    try:
        value = int(raw)
    except ValueError:
        raise HTTPException(422, f"Last-Event-ID must be an event id (integer), got {header!r}") from None
    if not 0 <= value < 2**63:
        raise HTTPException(422, "Last-Event-ID is out of range")
    return value


@router.get(
    "/feed",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Event stream."}},
)
async def feed(
    request: Request,
    last_event_id: int | None = Query(None, ge=0, le=2**63 - 1),
    follow: bool = True,
    _: Principal = Depends(require_header_or_query(*OPS, what="read the feed")),
) -> StreamingResponse:
    hub = hub_of(request)
    start = _start_id(request.headers.get("last-event-id"), last_event_id)

    tail: FeedTail = request.app.state.feed_tail

    async def stream() -> AsyncIterator[str]:
        last = start
        woken = tail.register()
        try:
            yield "retry: 2000\n\n"
            quiet_since = time.monotonic()
            while True:
                woken.clear()  # cleared before the look, so an event arriving during it is not missed
                # from the process's window of new events; from the table when catching up from
                # further back, and for follow=false (all that is committed, not only what the
                # tail has read so far)
                frames = tail.after(last) if follow else None
                if frames is None:
                    batch = await run_in_threadpool(events_after, hub.db, last)
                    frames = [(ev.id, sse_frame(ev)) for ev in batch]
                for event_id, frame in frames:
                    last = event_id
                    yield frame
                if frames:
                    quiet_since = time.monotonic()
                    continue
                if not follow or await request.is_disconnected():
                    return
                if time.monotonic() - quiet_since > hub.config.feed_keepalive_s:
                    quiet_since = time.monotonic()
                    yield ": keep-alive\n\n"
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(woken.wait(), timeout=hub.config.feed_poll_s)
        finally:
            tail.unregister(woken)

    return StreamingResponse(
        stream(),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
