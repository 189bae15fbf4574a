"""Work orders: list with filters, one with its history, and lifecycle actions.

A department token sees and works its own department's orders only (a bureau's include its squads');
others' answer 404. A grid worker token named after a grid worker works the orders assigned to that
worker and verifies those of that worker's grid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from pydantic import BeforeValidator
from sqlalchemy import and_, func, or_, select
from sqlalchemy.sql import ColumnElement

from central import order_store, stages
from central.api.deps import MAX_ID, USERS, IdPath, hub_of, jpeg_from_base64
from central.api.work_order_models import (
    ACTION_ERRORS,
    ERRORS,
    ActionBody,
    Source,
    WorkOrderDetail,
    WorkOrderPage,
)
from central.auth import Principal, require
from central.media import media_url
from central.order_lifecycle import (
    Action,
    Forbidden,
    IllegalTransition,
    MissingInput,
    State,
    allowed_actions,
    decide,
)
from central.order_lifecycle import Request as ActionRequest
from central.roles import DEPARTMENT
from central.tables import Incident, WorkOrder
from gridwatch.config import Town

router = APIRouter(prefix="/api/v1/work-orders", tags=["work orders"])


def overdue_clause(now: datetime) -> ColumnElement[bool]:
    """SQL for :func:`central.stages.overdue`: some stage's clock runs and its deadline has passed."""
    return or_(
        *(
            and_(
                WorkOrder.state.in_([s.value for s in stages.RUNNING[st]]),
                getattr(WorkOrder, f"{st}_by") < now,
            )
            for st in stages.STAGES
        )
    )


def _split(value: Any) -> Any:
    """``?state=new,acknowledged`` as well as ``?state=new&state=acknowledged``."""
    if isinstance(value, list):
        return [x.strip() for item in value for x in str(item).split(",") if x.strip()]
    return value


StateFilter = Annotated[
    list[State] | None,
    BeforeValidator(_split),
    Query(description="State; several comma-separated or repeated."),
]


def departments_of(town: Town, department: str) -> list[str]:
    """A department and, for a bureau, its squads."""
    return [department] + [d.id for d in town.departments if d.parent == department]


def visible(town: Town, who: Principal, wo: WorkOrder) -> bool:
    if who.role != DEPARTMENT:
        return True
    return who.department_id is not None and wo.department_id in departments_of(town, who.department_id)


@router.get("", response_model=WorkOrderPage, responses=ERRORS)
def list_work_orders(
    request: Request,
    state: StateFilter = None,
    department: str | None = Query(None, description="Department id (a bureau includes its squads)."),
    grid: str | None = None,
    kind: str | None = None,
    camera: str | None = None,
    assignee: str | None = None,
    source: Source | None = Query(None, description="Where the order came from."),
    priority: Literal["P1", "P2", "P3"] | None = None,
    overdue: bool | None = Query(None, description="Some stage deadline has passed (or not)."),
    limit: int = Query(100, ge=1, le=500),
    offset: int = Query(0, ge=0, le=MAX_ID),
    who: Principal = Depends(require(*USERS)),
) -> dict[str, Any]:
    """Newest first. A department token's list is its own department's queue."""
    hub = hub_of(request)
    now = hub.now()
    conds: list[ColumnElement[bool]] = []
    if state:
        conds.append(WorkOrder.state.in_([s.value for s in state]))
    if who.role == DEPARTMENT:
        own = departments_of(hub.town, who.department_id or "")
        if department and department not in own:
            raise HTTPException(403, f"a department token sees its own department's queue only ({own[0]})")
        conds.append(WorkOrder.department_id.in_(departments_of(hub.town, department) if department else own))
    elif department:
        conds.append(WorkOrder.department_id.in_(departments_of(hub.town, department)))
    for col, val in (
        (WorkOrder.grid_id, grid),
        (WorkOrder.kind, kind),
        (WorkOrder.camera_id, camera),
        (WorkOrder.assignee_id, assignee),
        (WorkOrder.source, source.value if source else None),
        (WorkOrder.priority, priority),
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
            order_store.summary(hub.town, wo, now)
            | {"snapshot_url": media_url(snap), "clip_url": media_url(clip)}
            for wo, snap, clip in rows
        ]
    return {"items": items, "total": total, "limit": limit, "offset": offset}


def _grid_worker_of(town: Town, wo: WorkOrder) -> str | None:
    grid = next((g for g in town.grids if g.id == wo.grid_id), None) if wo.grid_id else None
    return grid.worker.id if grid is not None else None


def _personal_refusal(town: Town, who: Principal, wo: WorkOrder, action: Action | None) -> str | None:
    """Why this named grid worker may not act on this order (None: they may)."""
    if who.worker_id is None:
        return None
    if action is Action.VERIFY:
        mine = _grid_worker_of(town, wo)
        if mine != who.worker_id:
            return f"work order {wo.id} is verified by its grid's worker ({mine!r}), not {who.worker_id!r}"
        return None
    if wo.assignee_id != who.worker_id:
        return f"work order {wo.id} is assigned to {wo.assignee_id!r}, not to {who.worker_id!r}"
    return None


def _allowed(town: Town, who: Principal, wo: WorkOrder) -> list[str]:
    """Actions the caller may take now."""
    if not visible(town, who, wo):
        return []
    pending = wo.extension_until is not None
    return [
        a.value
        for a in allowed_actions(State(wo.state), who.role, pending)
        if _personal_refusal(town, who, wo, a) is None
    ]


@router.get("/{order_id}", response_model=WorkOrderDetail, responses=ERRORS)
def get_work_order(
    order_id: IdPath, request: Request, who: Principal = Depends(require(*USERS))
) -> dict[str, Any]:
    """The order with its history, and ``allowed_actions``: what the caller may do now."""
    hub = hub_of(request)
    with hub.db.read() as s:
        wo = s.get(WorkOrder, order_id)
        if wo is None or not visible(hub.town, who, wo):
            raise HTTPException(404, f"no work order {order_id}")
        out = order_store.detail(s, hub.town, wo, hub.now())
        out["allowed_actions"] = _allowed(hub.town, who, wo)
    return out


def _photos(body: Any, limit: int) -> list[bytes]:
    if getattr(body, "evidence", None):
        return [jpeg_from_base64(body.evidence, "evidence", limit)]
    return [jpeg_from_base64(p, f"photos[{i}]", limit) for i, p in enumerate(getattr(body, "photos", []))]


def _photo_count(body: Any) -> int:
    return 1 if getattr(body, "evidence", None) else len(getattr(body, "photos", []))


def _request(body: Any, who: Principal, wo: WorkOrder, now: datetime, photos: int) -> ActionRequest:
    return ActionRequest(
        action=Action(body.action),
        role=who.role,
        note=body.note,
        reason=getattr(body, "reason", ""),
        department=getattr(body, "department", None),
        assignee=getattr(body, "assignee", None),
        photos=photos,
        passed=getattr(body, "passed", None),
        until=getattr(body, "until", None),
        handling_due=max(filter(None, (wo.feedback_by, now))),
        pending_extension=wo.extension_until is not None,
    )


def _order(s: Any, town: Town, who: Principal, order_id: int, action: Action) -> WorkOrder:
    """The order the caller may act on: 404 when it does not exist or is not theirs to see, 403 when
    it is another grid worker's."""
    wo = s.get(WorkOrder, order_id)
    if wo is None or not visible(town, who, wo):
        raise HTTPException(404, f"no work order {order_id}")
    refusal = _personal_refusal(town, who, wo, action)
    if refusal is not None:
        raise HTTPException(403, refusal)
    return wo  # type: ignore[no-any-return]


@router.post("/{order_id}/actions", response_model=WorkOrderDetail, responses=ACTION_ERRORS)
def act(
    order_id: IdPath,
    request: Request,
    body: ActionBody,
    who: Principal = Depends(require(*USERS)),
) -> dict[str, Any]:
    """Take one action; 404 when there is no such order (for the caller), 403 when the role may not,
    409 when the order as it is now does not allow it, 422 when an input is missing or a photo is not
    a JPEG, in that order. The README lists every action's body and who may take it."""
    hub = hub_of(request)
    town = hub.town
    department = getattr(body, "department", None)
    assignee = getattr(body, "assignee", None)
    if department is not None and department not in {d.id for d in town.departments}:
        raise HTTPException(422, f"unknown department {department!r}")
    if assignee is not None and assignee not in {g.worker.id for g in town.grids}:
        raise HTTPException(422, f"unknown assignee {assignee!r} (use a grid worker id)")
    action = Action(body.action)
    try:
        with hub.db.read() as s:  # who, the state and the inputs first: photos are decoded only then
            wo = _order(s, town, who, order_id, action)
            decide(State(wo.state), _request(body, who, wo, hub.now(), _photo_count(body)))
    except Forbidden as exc:
        raise HTTPException(403, str(exc)) from None
    except IllegalTransition as exc:
        raise HTTPException(409, str(exc)) from None
    except MissingInput as exc:
        raise HTTPException(422, str(exc)) from None
    photos = _photos(body, town.hub.max_snapshot_bytes)
    saved: list[str] = []
    try:
        with hub.db.write() as s:
            wo = _order(s, town, who, order_id, action)
            now = hub.now()
            req = _request(body, who, wo, now, len(photos))
            tr = decide(State(wo.state), req)
            saved.extend(hub.media.save(p, "jpg") for p in photos)
            step = order_store.Step(
                actor=who.name,
                role=who.role,
                note=body.note,
                reason=req.reason,
                department=department,
                assignee=assignee,
                attachments=saved,
                passed=req.passed,
                until=req.until,
            )
            order_store.apply(s, town, wo, tr, now, step)
            s.flush()
            out = order_store.detail(s, town, wo, now)
            out["allowed_actions"] = _allowed(town, who, wo)
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
