"""Cameras and nodes for maintainers, and the live-view signalling relay to a camera's edge node."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from central import health
from central.api.deps import OPS, hub_of
from central.auth import Principal, require
from gridwatch.logs import redact

router = APIRouter(prefix="/api/v1", tags=["cameras"])


def _refresh(request: Request) -> None:
    """Lazy offline check, so a read never shows a silent camera as online."""
    hub = hub_of(request)
    health.sweep_offline(hub.db, hub.town, hub.now())


@router.get("/cameras")
def list_cameras(
    request: Request,
    status: Literal["online", "degraded", "offline"] | None = Query(None),
    grid: str | None = None,
    village: str | None = None,
    node: str | None = None,
    _: Principal = Depends(require(*OPS)),
) -> dict[str, Any]:
    hub = hub_of(request)
    _refresh(request)
    items = health.list_cameras(
        hub.db, hub.town, hub.now(), health.Filters(status=status, grid=grid, village=village, node=node)
    )
    counts = {k: sum(1 for c in items if c["status"] == k) for k in ("online", "degraded", "offline")}
    return {"items": items, "total": len(items), "by_status": counts}


@router.get("/cameras/{camera_id}/health")
def camera_health(camera_id: str, request: Request, _: Principal = Depends(require(*OPS))) -> dict[str, Any]:
    hub = hub_of(request)
    if camera_id not in hub.cameras:
        raise HTTPException(404, f"unknown camera {camera_id!r}")
    _refresh(request)
    out = health.camera_health(hub.db, hub.town, camera_id, hub.now())
    node = hub.cameras[camera_id].node
    out["config"] = next(n["config"] for n in _nodes(request) if n["id"] == node)
    return out


@router.get("/nodes")
def list_nodes(request: Request, _: Principal = Depends(require(*OPS))) -> dict[str, Any]:
    return {"items": _nodes(request)}


def _nodes(request: Request) -> list[dict[str, Any]]:
    """Nodes with the registry revision each runs (``config``): ``current`` is false while a node
    runs an older one, and ``error`` says why a node refused the newest."""
    hub = hub_of(request)
    revision = request.app.state.registry.revision()
    items = health.list_nodes(hub.db, hub.town, hub.now())
    for n in items:
        h = n["health"] or {}
        running = h.get("config_version")
        n["config"] = {"version": running, "error": h.get("config_error"), "registry_revision": revision,
                       "current": running == revision}
    return items


class Offer(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sdp: str = Field(min_length=1, max_length=100_000)
    type: Literal["offer"]


@router.post("/cameras/{camera_id}/live/offer")
async def live_offer(
    camera_id: str, offer: Offer, request: Request, _: Principal = Depends(require(*OPS))
) -> dict[str, Any]:
    """Relay a WebRTC offer to the node that reads the camera; answer with the node's answer."""
    hub = hub_of(request)
    cam = hub.cameras.get(camera_id)
    if cam is None:
        raise HTTPException(404, f"unknown camera {camera_id!r}")
    endpoint = health.live_endpoint(hub.db, cam.node)
    if endpoint is None:
        raise HTTPException(503, f"node {cam.node!r} has not announced a live-view endpoint")
    base, key = endpoint
    url = f"{base.rstrip('/')}/offer"
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    try:
        async with httpx.AsyncClient(timeout=hub.config.live_relay_timeout_s) as client:
            resp = await client.post(url, params={"camera_id": camera_id}, json=offer.model_dump(),
                                     headers=headers)
    except httpx.HTTPError as exc:
        raise HTTPException(502, f"node {cam.node!r} live view unreachable: {redact(str(exc))}") from None
    if resp.status_code != 200:
        raise HTTPException(
            502, f"node {cam.node!r} refused the offer ({resp.status_code}): {resp.text[:200]}"
        )
    try:
        answer = resp.json()
        if answer.get("type") != "answer" or not isinstance(answer.get("sdp"), str):
            raise ValueError
    except ValueError:
        raise HTTPException(502, f"node {cam.node!r} sent no valid answer") from None
    return {"sdp": answer["sdp"], "type": "answer"}
