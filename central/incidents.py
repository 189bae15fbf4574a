"""Alerts become incidents: one open incident per camera and kind, like an Alertmanager group.

Onsets and updates of the same camera+kind merge while the incident is open (count, first and last
seen, best snapshot). A clear marks the detection over; the work order stays until people close it.
Steps of an event whose incident already ended (cleared, or its order closed) stay with that incident:
only a new event (new ``event_id``) opens a new incident.
Optionally the same kind on neighbouring cameras of one road, within ``hub.incident_group_window_s``,
joins the open incident instead of opening a second order for the same landslide.
An active silence (made by a false-alarm rejection) keeps the incident but makes no work order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central import orders
from central.feed import publish
from central.models import AlertRow, Incident, OpenKey, Silence, WorkOrder
from central.routing import neighbours, route_camera
from gridwatch.config import Town
from gridwatch.config.schema import Camera
from gridwatch.wire import OBSTRUCTION_KINDS, Alert, EventKind, Phase


@dataclass(frozen=True, slots=True)
class Outcome:
    incident_id: int
    work_order_id: int | None


def open_key(camera_id: str, kind: str) -> str:
    return f"{camera_id}:{kind}"


def silenced(s: Session, camera_id: str, kind: str, now: datetime) -> bool:
    q = (
        select(func.count())
        .select_from(Silence)
        .where(
            Silence.camera_id == camera_id,
            Silence.kind == kind,
            Silence.starts_at <= now,
            Silence.ends_at > now,
        )
    )
    return s.execute(q).scalar_one() > 0


def apply_alert(
    s: Session, town: Town, camera: Camera, alert: Alert, row: AlertRow, now: datetime
) -> Outcome:
    """Fold one stored alert row into incidents and work orders (inside the intake transaction)."""
    key = open_key(camera.id, alert.kind.value)
    held = s.get(OpenKey, key)
    if alert.phase is Phase.CLEAR:
        return _clear(s, town, alert, row, held, now)
    if held is not None:
        inc = s.get_one(Incident, held.incident_id)
        _merge(inc, alert, row)
        publish(s, "incident.updated", orders.incident_json(town, inc), now)
        return Outcome(inc.id, _order_id(s, inc.id))
    ended = _ended_incident_of_event(s, alert.event_id)
    if ended is not None:
        # A late update (or onset) of an event already cleared or whose order was closed: part of
        # that record, not a new incident and a second order for the same thing.
        _merge(ended, alert, row)
        return Outcome(ended.id, _order_id(s, ended.id))
    group = _group_candidate(s, town, camera, alert, now)
    if group is not None:
        group.cameras = [*group.cameras, camera.id]
        s.add(OpenKey(key=key, incident_id=group.id))
        _merge(group, alert, row)
        publish(s, "incident.updated", orders.incident_json(town, group), now)
        return Outcome(group.id, _order_id(s, group.id))
    quiet = silenced(s, camera.id, alert.kind.value, now)
    inc = Incident(
        kind=alert.kind.value,
        camera_id=camera.id,
        cameras=[camera.id],
        road=camera.road,
        state="open",
        silenced=quiet,
        first_seen=alert.started_at,
        last_seen=alert.raised_at,
        alert_count=0,
        best_score=0.0,
        region=alert.region,
        created_at=now,
    )
    s.add(inc)
    s.flush()
    s.add(OpenKey(key=key, incident_id=inc.id))
    s.flush()  # a second process opening the same key fails here -> intake retries and merges
    _merge(inc, alert, row)
    publish(s, "incident.created", orders.incident_json(town, inc), now)
    routing = route_camera(town, camera, alert.kind.value, now)
    if not routing.work_order or quiet:
        return Outcome(inc.id, None)
    desc = f"{alert.kind.value} at {camera.name}"
    wo = orders.create(
        s,
        town,
        routing,
        now,
        source="camera",
        actor=alert.node_id,
        role="edge",
        incident=inc,
        camera_id=camera.id,
        description=desc,
        service_code=_service_code(town, alert.kind.value),
    )
    return Outcome(inc.id, wo.id)


def _clear(
    s: Session, town: Town, alert: Alert, row: AlertRow, held: OpenKey | None, now: datetime
) -> Outcome:
    inc: Incident | None = None
    if held is not None:
        inc = s.get_one(Incident, held.incident_id)
        s.delete(held)
        s.flush()
        still = s.execute(
            select(func.count()).select_from(OpenKey).where(OpenKey.incident_id == inc.id)
        ).scalar_one()
        _merge(inc, alert, row)
        if still == 0 and inc.state == "open":
            inc.state = "cleared"
            inc.cleared_at = now
            publish(s, "incident.cleared", orders.incident_json(town, inc), now)
            wo = s.execute(select(WorkOrder).where(WorkOrder.incident_id == inc.id)).scalar_one_or_none()
            if wo is not None and wo.detection_cleared_at is None:
                wo.detection_cleared_at = now
                wo.updated_at = now
                publish(
                    s,
                    "work_order.updated",
                    orders.summary(town, wo, now) | {"action": "detection_cleared"},
                    now,
                )
        else:
            publish(s, "incident.updated", orders.incident_json(town, inc), now)
        return Outcome(inc.id, _order_id(s, inc.id))
    # No open incident: the clear of an event already ended (order closed) or never seen (onset lost).
    earlier = s.execute(
        select(AlertRow.incident_id)
        .where(AlertRow.event_id == alert.event_id, AlertRow.incident_id.is_not(None))
        .order_by(AlertRow.received_at.desc())
        .limit(1)
    ).scalar_one_or_none()
    if earlier is not None:
        inc = s.get_one(Incident, earlier)
        _merge(inc, alert, row)
        return Outcome(inc.id, _order_id(s, inc.id))
    inc = Incident(
        kind=alert.kind.value,
        camera_id=alert.camera_id,
        cameras=[alert.camera_id],
        road=town.camera(alert.camera_id).road,
        state="cleared",
        silenced=False,
        first_seen=alert.started_at,
        last_seen=alert.raised_at,
        cleared_at=now,
        alert_count=0,
        best_score=0.0,
        region=alert.region,
        created_at=now,
    )
    s.add(inc)
    s.flush()
    _merge(inc, alert, row)
    publish(s, "incident.cleared", orders.incident_json(town, inc), now)
    return Outcome(inc.id, None)


def _ended_incident_of_event(s: Session, event_id: str) -> Incident | None:
    q = (
        select(Incident)
        .join(AlertRow, AlertRow.incident_id == Incident.id)
        .where(AlertRow.event_id == event_id, Incident.state != "open")
        .order_by(Incident.id.desc())
        .limit(1)
    )
    return s.execute(q).scalars().first()


def _merge(inc: Incident, alert: Alert, row: AlertRow) -> None:
    inc.alert_count += 1
    inc.first_seen = min(inc.first_seen, alert.started_at)
    inc.last_seen = max(inc.last_seen, alert.raised_at)
    if row.snapshot is not None and (inc.snapshot is None or alert.score >= inc.best_score):
        inc.snapshot = row.snapshot
    if row.clip is not None and inc.clip is None:
        inc.clip = row.clip
    inc.best_score = max(inc.best_score, alert.score)
    row.incident_id = inc.id


def _group_candidate(s: Session, town: Town, camera: Camera, alert: Alert, now: datetime) -> Incident | None:
    window = town.hub.incident_group_window_s
    if window <= 0 or not camera.road or EventKind(alert.kind) not in OBSTRUCTION_KINDS:
        return None
    since = now - timedelta(seconds=window)
    q = (
        select(Incident)
        .where(
            Incident.kind == alert.kind.value,
            Incident.road == camera.road,
            Incident.state == "open",
            Incident.last_seen >= since,
        )
        .order_by(Incident.id)
    )
    for inc in s.execute(q).scalars():
        if any(neighbours(town, c, camera.id) for c in inc.cameras):
            return inc
    return None


def _order_id(s: Session, incident_id: int) -> int | None:
    return s.execute(select(WorkOrder.id).where(WorkOrder.incident_id == incident_id)).scalar_one_or_none()


def _service_code(town: Town, kind: str) -> str | None:
    return next((sv.code for sv in town.services if sv.kind == kind), None)
