"""GET /api/v1/incidents: what the cameras saw, merged, for the console."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.sql import ColumnElement

from central import order_store
from central.api.contract import AUTH, errors
from central.api.deps import MAX_ID, USERS, IdPath, hub_of
from central.auth import Principal, require
from central.tables import AlertRow, Incident, WorkOrder
from gridwatch.wire import EventKind, Phase

router = APIRouter(prefix="/api/v1/incidents", tags=["incidents"])

#: open while cameras still see it, cleared when they all stopped, closed with its work order.
IncidentState = Literal["open", "cleared", "closed"]


class IncidentRow(BaseModel):
    """What the cameras saw, merged: one or more cameras' alerts of one kind on one road."""

    id: int
    kind: EventKind
    camera_id: str = Field(description="The first camera that saw it.")
    cameras: list[str] = Field(description="Every camera grouped into it.")
    road: str
    state: IncidentState
    silenced: bool
    first_seen: str
    last_seen: str
    cleared_at: str | None
    alert_count: int
    best_score: float
    region: str | None
    snapshot_url: str | None
    clip_url: str | None
    work_order_id: int | None = Field(description="The work order it made, if any.")


class IncidentList(BaseModel):
    items: list[IncidentRow]
    total: int
    limit: int
    offset: int


class IncidentAlert(BaseModel):
    id: str
    event_id: str
    camera_id: str
    phase: Phase
    raised_at: str
    score: float
    bbox: list[float] | None
    region: str | None
    silenced: bool


class IncidentDetail(IncidentRow):
    alerts: list[IncidentAlert] = Field(description="Its alerts, oldest first (up to 200).")


@router.get("", response_model=IncidentList, responses=errors(*AUTH))
def list_incidents(
    request: Request,
    state: IncidentState | None = Query(None, description="Only incidents in this state."),
    kind: EventKind | None = Query(None, description="Only incidents of this kind."),
    camera: str | None = Query(None, description="Only incidents first seen by this camera."),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
    _: Principal = Depends(require(*USERS)),
) -> dict[str, Any]:
    hub = hub_of(request)
    conds: list[ColumnElement[bool]] = []
    if state:
        conds.append(Incident.state == state)
    if kind:
        conds.append(Incident.kind == kind)
    if camera:
        conds.append(Incident.camera_id == camera)
    with hub.db.read() as s:
        total = s.execute(select(func.count()).select_from(Incident).where(*conds)).scalar_one()
        rows = list(
            s.execute(
                select(Incident).where(*conds).order_by(Incident.id.desc()).limit(limit).offset(offset)
            ).scalars()
        )
        wos = dict(
            s.execute(
                select(WorkOrder.incident_id, WorkOrder.id).where(
                    WorkOrder.incident_id.in_([r.id for r in rows])
                )
            ).all()
        )
    items = [order_store.incident_json(hub.town, r) | {"work_order_id": wos.get(r.id)} for r in rows]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


@router.get("/{incident_id}", response_model=IncidentDetail,
            responses=errors(*AUTH, 404, e404="No incident of that id."))
def get_incident(
    incident_id: IdPath, request: Request, _: Principal = Depends(require(*USERS))
) -> dict[str, Any]:
    hub = hub_of(request)
    with hub.db.read() as s:
        inc = s.get(Incident, incident_id)
        if inc is None:
            raise HTTPException(404, f"no incident {incident_id}")
        wo = s.execute(select(WorkOrder.id).where(WorkOrder.incident_id == inc.id)).scalar_one_or_none()
        alerts = s.execute(
            select(AlertRow).where(AlertRow.incident_id == inc.id).order_by(AlertRow.raised_at).limit(200)
        ).scalars()
        out = order_store.incident_json(hub.town, inc) | {"work_order_id": wo}
        out["alerts"] = [
            {
                "id": a.id,
                "event_id": a.event_id,
                "camera_id": a.camera_id,
                "phase": a.phase,
                "raised_at": a.raised_at.isoformat(),
                "score": a.score,
                "bbox": a.bbox,
                "region": a.region,
                "silenced": a.silenced,
            }
            for a in alerts
        ]
    return out
