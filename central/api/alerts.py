"""POST /api/v1/alerts and /api/v1/heartbeats: what edge nodes send."""

from __future__ import annotations

import asyncio
import time

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from pydantic import BaseModel, Field

from central.alert_writer import AlertWriter
from central.api.contract import AUTH, BODY, errors
from central.api.deps import EDGE, hub_of
from central.auth import Principal, require
from central.health import HeartbeatRefused, record_heartbeat
from central.intake import IntakeError, check
from gridwatch.wire import Alert, AlertReceipt, Heartbeat

router = APIRouter(prefix="/api/v1", tags=["edge"])


@router.post(
    "/alerts",
    response_model=AlertReceipt,
    status_code=201,
    responses={
        200: {"model": AlertReceipt, "description": "A resend of a stored alert (duplicate=true)."},
        **errors(
            *AUTH, *BODY, 404, 503,
            e403="Not an edge token, or the alert's node or camera is not this token's node's.",
            e404="No camera of that id in the town.",
            e503="Intake is starting or stopping, or the database is unavailable; retry.",
        ),
    },
)
async def post_alert(
    alert: Alert, request: Request, response: Response, who: Principal = Depends(require(*EDGE))
) -> AlertReceipt:
    """Take in one alert; the same id again answers the same receipt with duplicate=true.

    The answer comes after the alert's batch committed (see central.alert_writer)."""
    hub = hub_of(request)
    writer: AlertWriter = request.app.state.alert_writer
    started = time.perf_counter()
    try:
        item = check(hub, alert, who)
        receipt = await asyncio.wrap_future(writer.submit(item))
    except IntakeError as exc:
        raise HTTPException(exc.status, exc.message) from None
    hub.metrics.intake_seconds.observe(time.perf_counter() - started)
    if receipt.duplicate:
        response.status_code = 200
    return receipt


class HeartbeatReceipt(BaseModel):
    accepted: bool = Field(description="Always true: the heartbeat is stored.")
    cameras: int = Field(description="Cameras the heartbeat reported on.")
    changed: int = Field(description="Of those, how many changed status or faults.")
    config_version: int = Field(
        description="The camera registry's current revision: an edge running an older one fetches its "
        "configuration again (GET /api/v1/registry/nodes/{node}/config)."
    )


@router.post(
    "/heartbeats",
    status_code=202,
    response_model=HeartbeatReceipt,
    responses=errors(
        *AUTH, *BODY, 404,
        e403="Not an edge token, or the heartbeat's node or a camera is not this token's node's.",
        e404="A camera of the heartbeat is not in the town.",
    ),
)
def post_heartbeat(
    hb: Heartbeat, request: Request, who: Principal = Depends(require(*EDGE))
) -> dict[str, object]:
    hub = hub_of(request)
    try:
        changed = record_heartbeat(hub.db, hub.town, hb, who.node_id or "", hub.now())
    except HeartbeatRefused as exc:
        raise HTTPException(exc.status, exc.message) from None
    hub.metrics.heartbeats.labels(node=hb.node_id).inc()
    # The registry's revision: a node that runs an older one fetches its configuration again.
    revision = request.app.state.registry.revision()
    return {"accepted": True, "cameras": len(hb.cameras), "changed": changed, "config_version": revision}
