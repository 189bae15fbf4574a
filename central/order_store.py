"""Work orders in the database: create one from a routing decision, apply an action, show it.

The rules live in :mod:`central.order_lifecycle`, :mod:`central.stages` and :mod:`central.routing`; this
module only stores what they decide, appends the history row and announces the change on the feed,
in one transaction. The JSON views are in :mod:`central.order_views` (re-exported here).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete
from sqlalchemy.orm import Session

from central import stages
from central.feed import publish
from central.ids import Ids
from central.media import media_url
from central.order_lifecycle import HANDLING, TERMINAL, Action, State, Transition
from central.order_views import detail, history_json, incident_json, overdue, summary
from central.routing import Routing, department_for
from central.tables import HistoryRow, Incident, OpenKey, Silence, WorkOrder
from gridwatch.config import Town
from gridwatch.wire import iso_time

__all__ = [
    "SYSTEM",
    "Step",
    "apply",
    "camera_clear",
    "create",
    "detail",
    "history_json",
    "incident_json",
    "overdue",
    "summary",
]

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
    clocks = stages.initial(town.deadline(routing.kind, routing.priority), now)  # type: ignore[arg-type]
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
        rework_count=0,
        supervision_misses=0,
        **clocks,
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
        "details": {
            "department": wo.department_id,
            "assignee": wo.assignee_id,
            "priority": wo.priority,
            "source": source,
        },
    }
    _history(s, ids, history)
    created = summary(town, wo, now)
    if incident is not None:  # the picture the order is about, for the dispatch centre's feed
        created["snapshot_url"], created["clip_url"] = media_url(incident.snapshot), media_url(incident.clip)
    publish(s, "work_order.created", created, now, ids)
    return wo


@dataclass(frozen=True, slots=True)
class Step:
    """Who takes a decided transition, and what they brought with it."""

    actor: str
    role: str
    note: str = ""
    reason: str = ""
    department: str | None = None
    assignee: str | None = None
    #: Stored media names of the photos (evidence) that came with the step.
    attachments: list[str] = field(default_factory=list)
    passed: bool | None = None
    until: datetime | None = None


def apply(
    s: Session,
    town: Town,
    wo: WorkOrder,
    tr: Transition,
    now: datetime,
    step: Step | None = None,
    *,
    ids: Ids | None = None,
    **legacy: Any,
) -> None:
    """Store a decided transition: state, stage times and deadlines, history, silences, feed.

    ``legacy`` keyword arguments (actor=, role=, note=, ...) are the pre-:class:`Step` call form.
    """
    if step is None:
        legacy.pop("silence_min", None)
        step = Step(**legacy)
    action = Action.FEEDBACK if tr.action is Action.RESOLVE else tr.action
    rule = town.deadline(wo.kind, wo.priority)  # type: ignore[arg-type]
    details: dict[str, Any] = {}
    if tr.action is Action.RESOLVE:
        details["via"] = "resolve"
    stage = stages.COMPLETES.get(tr.action)
    if stage is not None:
        due, met = stages.on_time(wo, stage, now)
        details |= {"stage": stage, "due": due.isoformat() if due else None, "on_time": met}
    if action in (Action.DISPATCH, Action.REASSIGN):
        if step.department:
            wo.department_id = department_for(town, step.department, wo.grid_id)
            details["department"] = wo.department_id
        if step.assignee:
            wo.assignee_id = step.assignee
            details["assignee"] = step.assignee
        wo.dispatched_at = now
    if action is Action.ACKNOWLEDGE:
        wo.acknowledged_at = now
    elif action is Action.ACCEPT:
        wo.accepted_at = now
    elif action is Action.ARRIVE:
        wo.arrived_at = now
    elif action is Action.FEEDBACK:
        wo.resolved_at = now
        wo.status_notes = step.note
    elif action is Action.REQUEST_EXTENSION:
        wo.extension_until, wo.extension_reason = step.until, step.reason
        details |= {"until": iso_time(step.until), "handling_due": iso_time(wo.feedback_by)}
    elif action in (Action.APPROVE_EXTENSION, Action.DECLINE_EXTENSION):
        details |= {"until": iso_time(wo.extension_until), "handling_due": iso_time(wo.feedback_by)}
        details["approved"] = action is Action.APPROVE_EXTENSION
    elif action is Action.RETURN:
        details["reason"] = step.reason
        details["department"] = wo.department_id
    elif action is Action.VERIFY:
        details["passed"] = bool(step.passed)
        if step.passed:
            wo.verified_at = now
        else:
            wo.rework_count = (wo.rework_count or 0) + 1
            details["rework_count"] = wo.rework_count
    elif action is Action.CLOSE:
        wo.closed_at = now
        wo.status_notes = step.note or wo.status_notes
    elif action is Action.REJECT:
        wo.closed_at = now
        wo.status_notes = f"false alarm: {step.reason}"
        details["reason"] = step.reason
        silence_min = town.hub.silence_after_false_alarm_min
        if wo.camera_id and silence_min > 0:
            ends = now + timedelta(minutes=silence_min)
            s.add(
                Silence(
                    camera_id=wo.camera_id,
                    kind=wo.kind,
                    starts_at=now,
                    ends_at=ends,
                    created_by=step.actor,
                    work_order_id=wo.id,
                    reason=step.reason,
                )
            )
            details["silenced_until"] = ends.isoformat()
    for column, value in stages.renewed(wo, tr, rule, now, wo.extension_until).items():
        setattr(wo, column, value)
    if action is Action.APPROVE_EXTENSION:
        details["handling_due"] = iso_time(wo.feedback_by)
    if action in (Action.APPROVE_EXTENSION, Action.DECLINE_EXTENSION) or tr.to_state not in HANDLING:
        wo.extension_until, wo.extension_reason = None, None
    wo.state = tr.to_state.value
    wo.updated_at = now
    _history(
        s,
        ids,
        {
            "work_order_id": wo.id,
            "action": action.value,
            "from_state": tr.from_state.value,
            "to_state": tr.to_state.value,
            "actor": step.actor,
            "role": step.role,
            "at": now,
            "note": step.note or step.reason,
            "attachments": list(step.attachments),
            "details": details,
        },
    )
    if tr.to_state in TERMINAL and wo.incident_id is not None:
        _end_incident(s, town, wo.incident_id, now, ids)
    publish(s, "work_order.updated", summary(town, wo, now) | {"action": action.value}, now, ids)
    if action is Action.VERIFY and step.passed and town.hub.auto_close_on_verify:
        close = Transition(Action.CLOSE, State.VERIFIED, State.CLOSED)
        note = "closed on passed verification (hub.auto_close_on_verify)"
        apply(s, town, wo, close, now, Step(actor=SYSTEM, role=SYSTEM, note=note), ids=ids)


def camera_clear(
    s: Session, town: Town, wo: WorkOrder, snapshot: str | None, now: datetime, ids: Ids | None = None
) -> bool:
    """The camera's obstruction cleared: after the department's feedback, its after-snapshot is
    verification evidence (``camera_clear`` in the history); with ``hub.camera_verification: close``
    it also verifies and closes the order. False when the order is not awaiting verification."""
    if wo.state != State.FED_BACK.value:
        return False
    mode = town.hub.camera_verification
    camera = wo.camera_id or ""
    _history(
        s,
        ids,
        {
            "work_order_id": wo.id,
            "action": "camera_clear",
            "from_state": wo.state,
            "to_state": wo.state,
            "actor": camera,
            "role": "camera",
            "at": now,
            "note": f"the camera {camera} sees the road clear again",
            "attachments": [snapshot] if snapshot else [],
            "details": {"camera": camera, "incident": wo.incident_id, "camera_verification": mode},
        },
    )
    wo.updated_at = now
    publish(s, "work_order.updated", summary(town, wo, now) | {"action": "camera_clear"}, now, ids)
    if mode == "close":
        verify = Transition(Action.VERIFY, State.FED_BACK, State.VERIFIED)
        step = Step(actor=camera, role="camera", note="verified by the camera's clear", passed=True)
        apply(s, town, wo, verify, now, step, ids=ids)
        if wo.state == State.VERIFIED.value:  # not closed already by auto_close_on_verify
            close = Transition(Action.CLOSE, State.VERIFIED, State.CLOSED)
            note = "closed on the camera's clear (hub.camera_verification: close)"
            apply(s, town, wo, close, now, Step(actor=SYSTEM, role=SYSTEM, note=note), ids=ids)
    return True


def _history(s: Session, ids: Ids | None, row: dict[str, Any]) -> None:
    if ids is not None:  # a plain row, inserted by the caller's ids.write() (see Ids.append)
        ids.append(HistoryRow, row)
    else:
        s.add(HistoryRow(**row))


def _end_incident(s: Session, town: Town, incident_id: int, now: datetime, ids: Ids | None) -> None:
    """The order is over: a detection still standing starts a fresh incident next time."""
    s.execute(delete(OpenKey).where(OpenKey.incident_id == incident_id))
    inc = s.get(Incident, incident_id)
    if inc is not None and inc.state != "closed":
        inc.state = "closed"
        inc.cleared_at = inc.cleared_at or now
        publish(s, "incident.updated", incident_json(town, inc), now, ids)

