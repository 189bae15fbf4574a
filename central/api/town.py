"""Small read endpoints: who am I, the town for the console's map, media files, health, metrics."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, PlainTextResponse, Response
from pydantic import BaseModel, Field

from central.api.contract import AUTH, errors
from central.api.deps import USERS, hub_of
from central.api.query_token import require_header_or_query
from central.auth import Principal, require
from central.media import CONTENT_TYPES
from gridwatch.config.schema import Department, Service, TownInfo, Village, Worker

router = APIRouter(tags=["town"])


class Health(BaseModel):
    ok: bool = Field(description="True: the hub answers and its database does.")
    town: str
    cameras: int = Field(description="Cameras configured.")


class Me(BaseModel):
    role: str = Field(description="dispatcher, maintainer, grid_worker, admin or edge.")
    name: str
    node: str | None = Field(description="An edge token's node.")


class GridOut(BaseModel):
    id: str
    name: str
    villages: list[str]
    worker: Worker


class NodeOut(BaseModel):
    id: str
    name: str


class CameraOut(BaseModel):
    id: str
    name: str
    village: str
    grid: str
    node: str
    lat: float
    lon: float
    road: str
    enabled: bool


class TownOut(BaseModel):
    """The town as the console draws it (no stream URLs, tokens or settings)."""

    town: TownInfo
    villages: list[Village]
    grids: list[GridOut]
    departments: list[Department]
    services: list[Service]
    nodes: list[NodeOut]
    cameras: list[CameraOut]


_BINARY = {"schema": {"type": "string", "format": "binary"}}


@router.get("/healthz", response_model=Health)
def healthz(request: Request) -> dict[str, Any]:
    hub = hub_of(request)
    from sqlalchemy import text

    with hub.db.read() as s:
        s.execute(text("SELECT 1"))
    return {"ok": True, "town": hub.town.town.name_en, "cameras": len(hub.town.cameras)}


@router.get(
    "/metrics",
    response_class=PlainTextResponse,
    responses={200: {"description": "Prometheus text exposition format 0.0.4."}},
)
def metrics(request: Request) -> Response:
    hub = hub_of(request)
    return Response(hub.metrics.render(), media_type="text/plain; version=0.0.4; charset=utf-8")


@router.get("/api/v1/me", response_model=Me, responses=errors(*AUTH))
def me(who: Principal = Depends(require(*USERS, "edge"))) -> dict[str, Any]:
    return {"role": who.role, "name": who.name, "node": who.node_id}


@router.get("/api/v1/town", response_model=TownOut, responses=errors(*AUTH))
def town(request: Request, _: Principal = Depends(require(*USERS))) -> dict[str, Any]:
    t = hub_of(request).town
    return {
        "town": t.town.model_dump(),
        "villages": [v.model_dump() for v in t.villages],
        "grids": [
            {"id": g.id, "name": g.name, "villages": g.villages, "worker": g.worker.model_dump()}
            for g in t.grids
        ],
        "departments": [d.model_dump() for d in t.departments],
        "services": [s.model_dump() for s in t.services],
        "nodes": [{"id": n.id, "name": n.name} for n in t.nodes],
        "cameras": [
            {
                "id": c.id,
                "name": c.name,
                "village": c.village,
                "grid": c.grid,
                "node": c.node,
                "lat": c.lat,
                "lon": c.lon,
                "road": c.road,
                "enabled": c.enabled,
            }
            for c in t.cameras
        ],
    }


@router.get(
    "/api/v1/media/{name}",
    response_class=Response,
    responses={
        200: {"description": "The file.", "content": {t: _BINARY for t in CONTENT_TYPES.values()}},
        **errors(*AUTH, 404, e401="No token in the header or ?token=, or an unknown one.",
                 e404="No media file of that name."),
    },
)
async def media(
    name: str,
    request: Request,
    _: Principal = Depends(require_header_or_query(*USERS, what="read media")),
) -> FileResponse:
    hub = hub_of(request)
    path = hub.media.path(name)
    if path is None:
        raise HTTPException(404, "no such media file")
    return FileResponse(path, media_type=CONTENT_TYPES[name.rsplit(".", 1)[1]])
