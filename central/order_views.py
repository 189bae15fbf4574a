"""Work orders and incidents as JSON for the API and the feed: what a reader sees, nothing stored."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central import stages
from central.media import media_url
from central.snapshots import order_snapshots
from central.tables import HistoryRow, Incident, WorkOrder
from gridwatch.config import Town
from gridwatch.wire import iso_time


def overdue(wo: WorkOrder, now: datetime) -> dict[str, bool]:
    """Per stage (acknowledge, accept, arrive, feedback, verify, close): its deadline has passed."""
    return stages.overdue(wo, now)


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
        "deadlines": {f"{st}_by": iso_time(stages.due(wo, st)) for st in stages.STAGES},
        "overdue": flags,
        "is_overdue": any(flags.values()),
        "escalated": any(getattr(wo, f"{st}_escalated_at") is not None for st in stages.STAGES),
        "escalations": {st: iso_time(getattr(wo, f"{st}_escalated_at")) for st in stages.STAGES},
        "supervision_misses": wo.supervision_misses or 0,
        "rework_count": wo.rework_count or 0,
        "extension_request": {"until": wo.extension_until.isoformat(), "reason": wo.extension_reason or ""}
        if wo.extension_until is not None
        else None,
        "acknowledged_at": iso_time(wo.acknowledged_at),
        "dispatched_at": iso_time(wo.dispatched_at),
        "accepted_at": iso_time(wo.accepted_at),
        "arrived_at": iso_time(wo.arrived_at),
        "fed_back_at": iso_time(wo.resolved_at),
        "resolved_at": iso_time(wo.resolved_at),
        "verified_at": iso_time(wo.verified_at),
        "closed_at": iso_time(wo.closed_at),
        "detection_cleared_at": iso_time(wo.detection_cleared_at),
        "snapshot_url": None,
        "clip_url": None,
    }


def history_json(h: HistoryRow) -> dict[str, Any]:
    return {
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
    out["history"] = [history_json(h) for h in rows]
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
        "cleared_at": iso_time(inc.cleared_at),
        "alert_count": inc.alert_count,
        "best_score": inc.best_score,
        "region": inc.region,
        "snapshot_url": media_url(inc.snapshot),
        "clip_url": media_url(inc.clip),
    }



def _department(town: Town, dep_id: str) -> Any:
    return next((d for d in town.departments if d.id == dep_id), None)


def _grid(town: Town, grid_id: str | None) -> Any:
    return next((g for g in town.grids if g.id == grid_id), None) if grid_id else None


def _village(town: Town, vid: str | None) -> Any:
    return next((v for v in town.villages if v.id == vid), None) if vid else None


def _camera(town: Town, cid: str | None) -> Any:
    return town.cameras_by_id().get(cid) if cid else None
