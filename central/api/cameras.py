"""Cameras and nodes for maintainers, and the live-view signalling relay to a camera's edge node."""

from __future__ import annotations

from typing import Any, Literal

import httpx
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field

from central import health
from central.api.contract import AUTH, BODY, errors
from central.api.deps import OPS, hub_of
from central.auth import Principal, require
from central.media import media_url
from gridwatch.logs import redact
from gridwatch.wire import iso_time

router = APIRouter(prefix="/api/v1", tags=["cameras"])

#: A camera's status (see ``central.health.status_of``: disabled when switched off in the config).
Status = Literal["online", "degraded", "offline", "disabled"]


class CameraRow(BaseModel):
    """One configured camera and what its last heartbeat said."""

    id: str
    name: str
    grid: str
    village: str
    node: str
    road: str | None = None
    lat: float | None = None
    lon: float | None = None
    enabled: bool
    status: Status
    faults: list[str] = Field(description="Camera faults now (camera_blurred, camera_frozen, ...).")
    status_since: str | None = Field(description="When the status last changed (ISO 8601).")
    last_heartbeat_at: str | None
    last_frame_at: str | None
    fps_in: float
    fps_analysed: float
    decode_errors: int
    reconnects: int
    scores: dict[str, float] = Field(description="The health checks' latest figures (sharpness, ...).")
    onvif_issue: Literal["error", "clock_wrong"] | None = Field(
        default=None, description="An ONVIF camera's problem for maintainers: 'error' (the device does not "
        "answer as it should: wrong password, unreachable; see its health's onvif.error), 'clock_wrong' "
        "(its clock is off by more than its limit); null when none or no ONVIF.")


class CameraList(BaseModel):
    items: list[CameraRow]
    total: int = Field(description="How many cameras matched the filters.")
    by_status: dict[Status, int] = Field(description="Of those, how many have each status.")


class Availability(BaseModel):
    day: float | None = Field(alias="24h", description="Share of the last 24 hours not offline.")
    week: float | None = Field(alias="7d", description="Share of the last 7 days not offline.")


class StatusChange(BaseModel):
    at: str
    status: str
    faults: list[str]
    reason: str | None


class NodeConfig(BaseModel):
    """Which camera-registry revision a node runs (central.registry; the edge reports it)."""

    version: int | None = Field(description="The revision the node runs (None: not reported yet).")
    error: str | None = Field(description="Why the node refused the newest revision, if it did.")
    registry_revision: int = Field(description="The registry's current revision.")
    current: bool = Field(description="Whether the node runs the current revision.")


class CameraHealth(CameraRow):
    availability: Availability
    history: list[StatusChange] = Field(description="Latest status changes first (up to 100).")
    config: NodeConfig = Field(description="The registry revision the camera's node runs.")
    road_proposal: list[list[float]] | None = Field(
        default=None, description="The road the edge proposes for a camera with no road region "
        "(0..1 [x, y] vertices, from its latest heartbeat); null when none.")
    onvif: Onvif | None = Field(
        default=None, description="The camera's ONVIF state from its edge's latest heartbeat; null for a "
        "camera without ONVIF.")


class Onvif(BaseModel):
    """What the camera's edge learnt from its ONVIF service (see gridwatch.wire.OnvifHealth)."""

    ok: bool = Field(description="Whether the edge's last exchange with the device worked.")
    error: str | None = Field(description="Why it did not: wrong password, unreachable, ...")
    checked_at: str | None = Field(description="When the edge last asked the device (ISO 8601).")
    clock_offset_s: float | None = Field(description="Device clock minus the edge's, seconds.")
    clock_wrong: bool = Field(description="The device clock is off by more than the camera's limit "
                              "(onvif.max_clock_offset_s, 60 s by default): set its time.")
    main_uri: str | None = Field(description="Main stream URI from the profiles (no credentials).")
    sub_uri: str | None = Field(description="Sub stream URI from the profiles (no credentials).")
    snapshot_uri: str | None = Field(description="Snapshot URI from the profiles (no credentials).")
    ptz_home_on_moved: bool = Field(description="Whether camera_moved sends the camera home.")
    ptz_moves: list[dict[str, Any]] = Field(
        description="The latest home moves the edge sent ({at, ok, error}), newest last.")
    ptz_moves_total: int = Field(description="Home moves since the edge started.")


class Snapshot(BaseModel):
    """Where the camera's latest picture is (a media file, read with the session or a token)."""

    url: str = Field(description="The JPEG's media URL (GET /api/v1/media/{name}).")
    at: str = Field(description="When it was taken: its alert's raised_at (ISO 8601).")
    incident_id: int | None = Field(description="The incident its alert belongs to (None: silenced).")


class NodeRow(BaseModel):
    id: str
    name: str
    status: Literal["online", "offline"]
    last_heartbeat_at: str | None
    live: bool = Field(description="Whether the node announced a live-view endpoint.")
    health: dict[str, Any] | None = Field(description="The node's figures from its last heartbeat.")
    cameras: int
    cameras_by_status: dict[Status, int]
    config: NodeConfig


class NodeList(BaseModel):
    items: list[NodeRow]


def _refresh(request: Request) -> None:
    """Lazy offline check, so a read never shows a silent camera as online."""
    hub = hub_of(request)
    health.sweep_offline(hub.db, hub.town, hub.now())


@router.get("/cameras", response_model=CameraList, responses=errors(*AUTH))
def list_cameras(
    request: Request,
    status: Status | None = Query(None, description="Only cameras with this status."),
    grid: str | None = Query(None, description="Only this grid's cameras."),
    village: str | None = Query(None, description="Only this village's cameras."),
    node: str | None = Query(None, description="Only this edge node's cameras."),
    _: Principal = Depends(require(*OPS)),
) -> dict[str, Any]:
    hub = hub_of(request)
    _refresh(request)
    items = health.list_cameras(
        hub.db, hub.town, hub.now(), health.Filters(status=status, grid=grid, village=village, node=node)
    )
    counts = health.count_by_status(c["status"] for c in items)
    return {"items": items, "total": len(items), "by_status": counts}


@router.get("/cameras/{camera_id}/health", response_model=CameraHealth, response_model_by_alias=True,
            responses=errors(*AUTH, 404, e404="No camera of that id in the town."))
def camera_health(camera_id: str, request: Request, _: Principal = Depends(require(*OPS))) -> dict[str, Any]:
    hub = hub_of(request)
    if camera_id not in hub.cameras:
        raise HTTPException(404, f"unknown camera {camera_id!r}")
    _refresh(request)
    out = health.camera_health(hub.db, hub.town, camera_id, hub.now())
    node = hub.cameras[camera_id].node
    out["config"] = next(n["config"] for n in _nodes(request) if n["id"] == node)
    out["road_proposal"] = health.road_proposal(hub.db, node, camera_id)
    out["onvif"] = health.onvif_state(hub.db, node, camera_id)
    out["onvif_issue"] = health.onvif_issue(out["onvif"])
    return out


@router.get("/cameras/{camera_id}/snapshot", response_model=Snapshot,
            responses=errors(*AUTH, 404, e404="No camera of that id, or no picture of it yet."))
def camera_snapshot(
    camera_id: str, request: Request, _: Principal = Depends(require(*OPS))
) -> dict[str, Any]:
    """The camera's latest picture the hub holds (its newest alert snapshot), for drawing regions on."""
    hub = hub_of(request)
    if camera_id not in hub.cameras:
        raise HTTPException(404, f"unknown camera {camera_id!r}")
    found = health.latest_snapshot(hub.db, camera_id)
    if found is None:
        raise HTTPException(404, f"no picture of camera {camera_id!r} yet")
    name, at, incident_id = found
    return {"url": media_url(name), "at": iso_time(at), "incident_id": incident_id}


@router.get("/nodes", response_model=NodeList, responses=errors(*AUTH))
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
    """A browser's WebRTC offer for a camera's live view."""

    model_config = ConfigDict(extra="forbid")
    sdp: str = Field(min_length=1, max_length=100_000, description="The offer's SDP.")
    type: Literal["offer"]


class Answer(BaseModel):
    """The edge node's WebRTC answer."""

    sdp: str
    type: Literal["answer"]


@router.post(
    "/cameras/{camera_id}/live/offer",
    response_model=Answer,
    responses=errors(
        *AUTH, *BODY, 404, 409, 502,
        e404="No camera of that id in the town.",
        e409="The camera's node has not announced a live-view endpoint (not running, or no live view).",
    ),
)
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
        # 409, not 503: the hub is fine; the camera's node is not offering live view now (retry later)
        raise HTTPException(409, f"node {cam.node!r} has not announced a live-view endpoint")
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
