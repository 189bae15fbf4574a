"""Work orders in the database: create one from a routing decision, apply an action, show it.

The rules live in :mod:`central.workorders` and :mod:`central.routing`; this module only stores what
they decide, appends the history row and announces the change on the feed, in one transaction.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from central.feed import publish
from central.ids import Ids
from central.media import media_url
from central.models import HistoryRow, Incident, OpenKey, Silence, WorkOrder
from central.routing import Routing, department_for
from central.snapshots import order_snapshots
from central.workorders import TERMINAL, Action, State, Transition
from gridwatch.config import Town

SYSTEM = "system"


def create(
    s: Session,
    town: Town,
    routing: Routing,
    now: datetime,
    *,
    ids: Ids | None = None,
    source: str,
    actor: str,
    role: str,
    incident: Incident | None = None,
    camera_id: str | None = None,
    description: str = "",
    service_code: str | None = None,
    address: str | None = None,
    lat: float | None = None,
    lon: float | None = None,
    media: str | None = None,
) -> WorkOrder:
    wo = WorkOrder(
        id=ids.take(WorkOrder) if ids is not None else None,
        source=source,
        kind=routing.kind,
        service_code=service_code,
        state=State.NEW.value,
        priority=routing.priority,
        department_id=routing.department_id,
        grid_id=routing.grid_id,
        village_id=routing.village_id,
        camera_id=camera_id,
        assignee_id=routing.assignee_id,
        incident_id=incident.id if incident else None,
        description=description,
        address=address,
        lat=lat,
        lon=lon,
        media_url=media,
        status_notes="",
        created_at=now,
        updated_at=now,
        acknowledge_by=routing.deadlines.acknowledge_by,
        arrive_by=routing.deadlines.arrive_by,
        close_by=routing.deadlines.close_by,
    )
    s.add(wo)
    if ids is None:  # the id comes from the INSERT (a caller with ids saves this flush)
        s.flush()
    history = {
        "work_order_id": wo.id,
        "action": "create",
        "from_state": None,
        "to_state": State.NEW.value,
        "actor": actor,
        "role": role,
        "at": now,
        "note": description[:500],
        "attachments": [],
        "details": {"department": wo.department_id, "assignee": wo.assignee_id, "priority": wo.priority},
    }
    if ids is not None:  # a plain row, inserted by the caller's ids.write() (see Ids.append)
        ids.append(HistoryRow, history)
    else:
        s.add(HistoryRow(**history))
    created = summary(town, wo, now)
    if incident is not None:  # the picture the order is about, for the dispatch centre's feed
        created["snapshot_url"], created["clip_url"] = media_url(incident.snapshot), media_url(incident.clip)
    publish(s, "work_order.created", created, now, ids)
    return wo


def apply(
    s: Session,
    town: Town,
    wo: WorkOrder,
    tr: Transition,
    now: datetime,
    *,
    actor: str,
    role: str,
    note: str,
    reason: str,
    department: str | None,
    assignee: str | None,
    attachments: list[str],
    silence_min: int,
) -> None:
    """Store a decided transition: state, timestamps, history, silences, feed."""
    details: dict[str, Any] = {}
    if tr.action in (Action.DISPATCH, Action.REASSIGN):
        if department:
            wo.department_id = department_for(town, department, wo.grid_id)
            details["department"] = wo.department_id
        if assignee:
            wo.assignee_id = assignee
            details["assignee"] = assignee
    if tr.action is Action.ACKNOWLEDGE:
        wo.acknowledged_at = now
    elif tr.action is Action.ARRIVE:
        wo.arrived_at = now
    elif tr.action is Action.RESOLVE:
        wo.resolved_at = now
        wo.status_notes = note
    elif tr.action is Action.CLOSE:
        wo.closed_at = now
        wo.status_notes = note or wo.status_notes
    elif tr.action is Action.REJECT:
        wo.closed_at = now
        wo.status_notes = f"false alarm: {reason}"
        details["reason"] = reason
        if wo.camera_id and silence_min > 0:
            ends = now + timedelta(minutes=silence_min)
            s.add(
                Silence(
                    camera_id=wo.camera_id,
                    kind=wo.kind,
                    starts_at=now,
                    ends_at=ends,
                    created_by=actor,
                    work_order_id=wo.id,
                    reason=reason,
                )
            )
            details["silenced_until"] = ends.isoformat()
    wo.state = tr.to_state.value
    wo.updated_at = now
    s.add(
        HistoryRow(
            work_order_id=wo.id,
            action=tr.action.value,
            from_state=tr.from_state.value,
            to_state=tr.to_state.value,
            actor=actor,
            role=role,
            at=now,
            note=note or reason,
            attachments=attachments,
            details=details,
        )
    )
    if tr.to_state in TERMINAL and wo.incident_id is not None:
        _end_incident(s, town, wo.incident_id, now)
    publish(s, "work_order.updated", summary(town, wo, now) | {"action": tr.action.value}, now)


def _end_incident(s: Session, town: Town, incident_id: int, now: datetime) -> None:
    """The order is over: a detection still standing starts a fresh incident next time."""
    s.execute(delete(OpenKey).where(OpenKey.incident_id == incident_id))
    inc = s.get(Incident, incident_id)
    if inc is not None and inc.state != "closed":
        inc.state = "closed"
        inc.cleared_at = inc.cleared_at or now
        publish(s, "incident.updated", incident_json(town, inc), now)


def overdue(wo: WorkOrder, now: datetime) -> dict[str, bool]:
    open_ = wo.state not in (State.CLOSED.value, State.REJECTED.value)
    return {
        "acknowledge": open_ and wo.acknowledged_at is None and now > wo.acknowledge_by,
        "arrive": open_ and wo.arrived_at is None and now > wo.arrive_by,
        "close": open_ and now > wo.close_by,
    }


def summary(town: Town, wo: WorkOrder, now: datetime) -> dict[str, Any]:
    """The work order as JSON for the API and the feed (without history)."""
    dep = _department(town, wo.department_id)
    grid = _grid(town, wo.grid_id)
    village = _village(town, wo.village_id)
    camera = _camera(town, wo.camera_id)
    worker = grid.worker if grid is not None and wo.assignee_id == grid.worker.id else None
    flags = overdue(wo, now)
    return {
        "id": wo.id,
        "source": wo.source,
        "kind": wo.kind,
        "service_code": wo.service_code,
        "state": wo.state,
        "priority": wo.priority,
        "department": {
            "id": wo.department_id,
            "name": dep.name if dep else wo.department_id,
            "name_en": dep.name_en if dep else "",
        },
        "grid": {"id": grid.id, "name": grid.name} if grid else None,
        "village": {"id": village.id, "name": village.name, "name_en": village.name_en} if village else None,
        "camera": {"id": camera.id, "name": camera.name, "lat": camera.lat, "lon": camera.lon}
        if camera
        else None,
        "assignee": {
            "id": wo.assignee_id,
            "name": worker.name if worker else wo.assignee_id,
            "phone": worker.phone if worker else "",
        }
        if wo.assignee_id
        else None,
        "incident_id": wo.incident_id,
        "description": wo.description,
        "address": wo.address,
        "lat": wo.lat,
        "long": wo.lon,
        "status_notes": wo.status_notes,
        "created_at": wo.created_at.isoformat(),
        "updated_at": wo.updated_at.isoformat(),
        "deadlines": {
            "acknowledge_by": wo.acknowledge_by.isoformat(),
            "arrive_by": wo.arrive_by.isoformat(),
            "close_by": wo.close_by.isoformat(),
        },
        "overdue": flags,
        "is_overdue": any(flags.values()),
        "escalated": any(
            getattr(wo, f"{d}_escalated_at") is not None for d in ("acknowledge", "arrive", "close")
        ),
        "escalations": {
            d: _iso(getattr(wo, f"{d}_escalated_at")) for d in ("acknowledge", "arrive", "close")
        },
        "acknowledged_at": _iso(wo.acknowledged_at),
        "arrived_at": _iso(wo.arrived_at),
        "resolved_at": _iso(wo.resolved_at),
        "closed_at": _iso(wo.closed_at),
        "detection_cleared_at": _iso(wo.detection_cleared_at),
        "snapshot_url": None,
        "clip_url": None,
    }


def detail(s: Session, town: Town, wo: WorkOrder, now: datetime) -> dict[str, Any]:
    out = summary(town, wo, now)
    if wo.incident_id is not None:
        inc = s.get(Incident, wo.incident_id)
        if inc is not None:
            out["snapshot_url"], out["clip_url"] = media_url(inc.snapshot), media_url(inc.clip)
            out["snapshots"] = order_snapshots(s, town, inc.id, wo.camera_id)
            if out["snapshots"]:  # the order's own camera's picture when it sent one
                out["snapshot_url"] = out["snapshots"][0]["url"]
    out.setdefault("snapshots", [])
    rows = s.execute(
        select(HistoryRow).where(HistoryRow.work_order_id == wo.id).order_by(HistoryRow.id)
    ).scalars()
    out["history"] = [
        {
            "id": h.id,
            "action": h.action,
            "from_state": h.from_state,
            "to_state": h.to_state,
            "actor": h.actor,
            "role": h.role,
            "at": h.at.isoformat(),
            "note": h.note,
            "attachments": [media_url(a) for a in h.attachments],
            "details": h.details,
        }
        for h in rows
    ]
    return out


def incident_json(town: Town, inc: Incident) -> dict[str, Any]:
    return {
        "id": inc.id,
        "kind": inc.kind,
        "camera_id": inc.camera_id,
        "cameras": inc.cameras,
        "road": inc.road,
        "state": inc.state,
        "silenced": inc.silenced,
        "first_seen": inc.first_seen.isoformat(),
        "last_seen": inc.last_seen.isoformat(),
        "cleared_at": _iso(inc.cleared_at),
        "alert_count": inc.alert_count,
        "best_score": inc.best_score,
        "region": inc.region,
        "snapshot_url": media_url(inc.snapshot),
        "clip_url": media_url(inc.clip),
    }


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


def _department(town: Town, dep_id: str) -> Any:
    return next((d for d in town.departments if d.id == dep_id), None)


def _grid(town: Town, grid_id: str | None) -> Any:
    return next((g for g in town.grids if g.id == grid_id), None) if grid_id else None


def _village(town: Town, vid: str | None) -> Any:
    return next((v for v in town.villages if v.id == vid), None) if vid else None


def _camera(town: Town, cid: str | None) -> Any:
    return town.cameras_by_id().get(cid) if cid else None
