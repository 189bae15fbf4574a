"""The outbound notification queue for admins: what is waiting, what went out, what failed."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field

from central.api.deps import MAX_ID, IdPath, hub_of
from central.auth import Principal, require
from central.notifications import queue
from central.tables import NotificationMessage

router = APIRouter(tags=["notifications"])
ADMIN = ("admin",)


class NotificationOut(BaseModel):
    """One outbound message and how its delivery stands."""

    id: int = Field(description="Queue id.")
    delivery_id: str = Field(
        description="Sent with every attempt (X-Gridwatch-Delivery); receivers dedupe on it."
    )
    channel: str = Field(description="Channel name from notifications.yaml.")
    recipient: dict[str, Any] = Field(description="Who it is for: kind (department, worker, lead), id, name.")
    state: Literal["pending", "sent", "failed"] = Field(description="pending, sent, or failed (given up).")
    attempts: int = Field(description="Delivery attempts so far.")
    count: int = Field(description="Notices grouped into this message.")
    titles: list[str] = Field(description="The notices' titles.")
    triggers: list[str] = Field(description="What raised each notice (new_order, deadline_missed, ...).")
    created_at: datetime = Field(description="When the first notice was queued.")
    next_try_at: datetime = Field(description="When the next attempt is due (pending only).")
    last_try_at: datetime | None = Field(description="When it was last tried.")
    sent_at: datetime | None = Field(description="When the receiver took it.")
    last_error: str | None = Field(description="Why the last attempt failed.")


def _out(m: NotificationMessage) -> NotificationOut:
    notices = m.payload.get("notices", [])
    return NotificationOut(
        id=m.id,
        delivery_id=m.delivery_id,
        channel=m.channel,
        recipient={k: v for k, v in m.payload.get("recipient", {}).items() if k != "phone"},
        state=m.state,  # type: ignore[arg-type]
        attempts=m.attempts,
        count=len(notices),
        titles=[str(n.get("title", "")) for n in notices],
        triggers=[str(n.get("trigger", "")) for n in notices],
        created_at=m.created_at,
        next_try_at=m.next_try_at,
        last_try_at=m.last_try_at,
        sent_at=m.sent_at,
        last_error=m.last_error,
    )


@router.get("/api/v1/notifications", response_model=list[NotificationOut])
def list_notifications(
    request: Request,
    state: Literal["pending", "sent", "failed"] | None = Query(None, description="Only this state."),
    channel: str | None = Query(None, max_length=64, description="Only this channel."),
    limit: int = Query(100, ge=1, le=1000, description="Most messages returned, newest first."),
    before_id: int | None = Query(None, ge=1, le=MAX_ID, description="Page on: only ids below this."),
    _: Principal = Depends(require(*ADMIN)),
) -> list[NotificationOut]:
    return [_out(m) for m in queue.listing(hub_of(request).db, state, channel, limit, before_id)]


@router.post(
    "/api/v1/notifications/{msg_id}/retry",
    response_model=NotificationOut,
    responses={404: {"description": "No such message."}, 409: {"description": "Not failed."}},
)
def retry_notification(
    msg_id: IdPath, request: Request, _: Principal = Depends(require(*ADMIN))
) -> NotificationOut:
    """Put a failed message back in the queue with a fresh budget of attempts."""
    hub = hub_of(request)
    msg, retried = queue.retry_failed(hub.db, msg_id, hub.now())
    if msg is None:
        raise HTTPException(404, "no such notification")
    if not retried:
        raise HTTPException(409, f"only a failed notification can be retried (this one is {msg.state})")
    poke = getattr(request.app.state, "notifier", None)
    if poke is not None:
        poke.poke()
    return _out(msg)
