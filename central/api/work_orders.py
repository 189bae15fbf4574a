"""Work orders: list with filters, one with its history, and lifecycle actions."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BaseModel, ConfigDict, Field, field_validator
from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import ColumnElement

from central import orders
from central.api.deps import MAX_ID, USERS, IdPath, hub_of, jpeg_from_base64
from central.auth import Principal, require
from central.media import media_url
from central.models import Incident, WorkOrder
from central.workorders import (
    TERMINAL,
    Action,
    Forbidden,
    IllegalTransition,
    MissingInput,
    State,
    allowed_actions,
    decide,
)
from central.workorders import Request as ActionRequest

router = APIRouter(prefix="/api/v1/work-orders", tags=["work orders"])


class ActionBody(BaseModel):
    """One lifecycle action on a work order."""

    model_config = ConfigDict(extra="forbid")
    action: Action
    note: str = Field(default="", max_length=4000)
    reason: str = Field(default="", max_length=4000, description="Why (needed by reject).")
    department: str | None = Field(default=None, max_length=64, description="dispatch/reassign target.")
    assignee: str | None = Field(default=None, max_length=64, description="Worker id (dispatch/reassign).")
    evidence: str | None = Field(default=None, description="Base64 JPEG (needed by resolve).")

    @field_validator("note", "reason", "department", "assignee")
    @classmethod
    def _no_nul(cls, value: str | None) -> str | None:
        if value is not None and "\x00" in value:
            raise ValueError("must not contain NUL characters")
        return value


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    open_states = [s.value for s in State if s not in TERMINAL]
    return and_(
        WorkOrder.state.in_(open_states),
        or_(
            and_(WorkOrder.acknowledged_at.is_(None), WorkOrder.acknowledge_by < now),
            and_(WorkOrder.arrived_at.is_(None), WorkOrder.arrive_by < now),
            WorkOrder.close_by < now,
        ),
    )


@router.get("")
def list_work_orders(
    request: Request,
    state: str | None = Query(None, description="State, or several comma-separated."),
    department: str | None = None,
    grid: str | None = None,
    kind: str | None = None,
    camera: str | None = None,
    assignee: str | None = None,
    overdue: bool | None = None,
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
    _: Principal = Depends(require(*USERS)),
) -> dict[str, Any]:
    hub = hub_of(request)
    now = hub.now()
    conds: list[ColumnElement[bool]] = []
    if state:
        states = [x.strip() for x in state.split(",") if x.strip()]
        bad = [x for x in states if x not in {s.value for s in State}]
        if bad:
            raise HTTPException(
                422, f"unknown state {bad[0]!r} (states: {', '.join(s.value for s in State)})"
            )
        conds.append(WorkOrder.state.in_(states))
    if department:
        # a bureau's filter includes its squads' orders
        deps = [department] + [d.id for d in hub.town.departments if d.parent == department]
        conds.append(WorkOrder.department_id.in_(deps))
    for col, val in (
        (WorkOrder.grid_id, grid),
        (WorkOrder.kind, kind),
        (WorkOrder.camera_id, camera),
        (WorkOrder.assignee_id, assignee),
    ):
        if val:
            conds.append(col == val)
    if overdue is not None:
        clause = overdue_clause(now)
        conds.append(clause if overdue else ~clause)
    with hub.db.read() as s:
        total = s.execute(select(func.count()).select_from(WorkOrder).where(*conds)).scalar_one()
        rows = s.execute(
            select(WorkOrder, Incident.snapshot, Incident.clip)
            .outerjoin(Incident, Incident.id == WorkOrder.incident_id)
            .where(*conds)
            .order_by(WorkOrder.id.desc())
            .limit(limit)
            .offset(offset)
        )
        items = [
            orders.summary(hub.town, wo, now) | {"snapshot_url": media_url(snap), "clip_url": media_url(clip)}
            for wo, snap, clip in rows
        ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _allowed(who: Principal, state: State, assignee: str | None) -> list[str]:
    """Actions the caller may take now (a named grid worker only on orders assigned to them)."""
    if who.worker_id is not None and assignee != who.worker_id:
        return []
    return [a.value for a in allowed_actions(state, who.role)]


@router.get("/{order_id}")
def get_work_order(
    order_id: IdPath, request: Request, who: Principal = Depends(require(*USERS))
) -> dict[str, Any]:
    """The order with its history, and ``allowed_actions``: what the caller's role may do now."""
    hub = hub_of(request)
    with hub.db.read() as s:
        wo = s.get(WorkOrder, order_id)
        if wo is None:
            raise HTTPException(404, f"no work order {order_id}")
        out = orders.detail(s, hub.town, wo, hub.now())
    out["allowed_actions"] = _allowed(who, State(out["state"]), wo.assignee_id)
    return out


@router.post("/{order_id}/actions")
def act(
    order_id: IdPath, body: ActionBody, request: Request, who: Principal = Depends(require(*USERS))
) -> dict[str, Any]:
    """Take one action; 409 when the order's state does not allow it, 403 when the role may not."""
    hub = hub_of(request)
    town = hub.town
    if body.department is not None and body.department not in {d.id for d in town.departments}:
        raise HTTPException(422, f"unknown department {body.department!r}")
    if body.assignee is not None and body.assignee not in {g.worker.id for g in town.grids}:
        raise HTTPException(422, f"unknown assignee {body.assignee!r} (use a grid worker id)")
    evidence = (
        jpeg_from_base64(body.evidence, "evidence", town.hub.max_snapshot_bytes) if body.evidence else None
    )
    req = ActionRequest(
        action=body.action,
        role=who.role,
        note=body.note,
        reason=body.reason,
        department=body.department,
        assignee=body.assignee,
        has_evidence=evidence is not None,
    )
    saved: list[str] = []
    try:
        with hub.db.write() as s:
            wo = s.get(WorkOrder, order_id)
            if wo is None:
                raise HTTPException(404, f"no work order {order_id}")
            if who.worker_id is not None and wo.assignee_id != who.worker_id:
                raise HTTPException(
                    403, f"work order {order_id} is assigned to {wo.assignee_id!r}, not to {who.worker_id!r}"
                )
            tr = decide(State(wo.state), req)
            if evidence is not None:
                saved.append(hub.media.save(evidence, "jpg"))
            now = hub.now()
            orders.apply(
                s,
                town,
                wo,
                tr,
                now,
                actor=who.name,
                role=who.role,
                note=body.note,
                reason=body.reason,
                department=body.department,
                assignee=body.assignee,
                attachments=saved,
                silence_min=town.hub.silence_after_false_alarm_min,
            )
            s.flush()
            out = orders.detail(s, town, wo, now)
            out["allowed_actions"] = _allowed(who, State(wo.state), wo.assignee_id)
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from None
    except IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except MissingInput as exc:
        raise HTTPException(422, str(exc)) from None
    except BaseException:
        for name in saved:
            hub.media.delete(name)
        raise
    return out
