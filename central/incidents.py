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
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from central import order_store
from central.feed import publish
from central.fold import Fold, open_key
from central.routing import Neighbourhoods, route_camera
from central.tables import AlertRow, Incident, OpenKey, Silence, WorkOrder
from gridwatch.config import Town
from gridwatch.config.schema import Camera
from gridwatch.wire import OBSTRUCTION_KINDS, Alert, EventKind, Phase


@dataclass(frozen=True, slots=True)
class Outcome:
    incident_id: int
    work_order_id: int | None


class Stored(Protocol):
    """The stored alert as folding sees it (its files; the incident it joins is written back)."""

    snapshot: str | None
    clip: str | None
    incident_id: int | None


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
    s: Session, town: Town, camera: Camera, alert: Alert, row: Stored, now: datetime, fold: Fold | None = None
) -> Outcome:
    """Fold one stored alert into incidents and work orders (inside the intake transaction)."""
    fold = fold if fold is not None else Fold()
    out = _apply(s, town, camera, alert, row, now, fold)
    fold.events.setdefault(alert.event_id, []).append(out.incident_id)
    return out


def _apply(
    s: Session, town: Town, camera: Camera, alert: Alert, row: Stored, now: datetime, fold: Fold
) -> Outcome:
    key = open_key(camera.id, alert.kind.value)
    if alert.phase is Phase.CLEAR:
        # clears are rare and look at the database (how many keys still hold their incident): write
        # out what the batch made so far, then everything is found the usual way
        s.flush()
        fold.new_keys.clear()
        held = None if key in fold.absent else s.get(OpenKey, key)
        return _clear(s, town, alert, row, held, now, fold)
    held = fold.open_key(s, key)
    if held is not None:
        inc = fold.incident(s, held.incident_id)
        _merge(inc, alert, row)
        fold.keep(inc)  # changed: read live from now on (a weakly held object could be collected)
        if (inc.kind, inc.road) in fold.groups:  # seen now, so within the grouping window again
            fold.groups[(inc.kind, inc.road)].add(inc.id)
        publish(s, "incident.updated", order_store.incident_json(town, inc), now, fold.ids)
        return Outcome(inc.id, _order_id(s, inc.id, fold))
    ended = _ended_incident_of_event(s, alert.event_id, fold)
    if ended is not None:
        # A late update (or onset) of an event already cleared or whose order was closed: part of
        # that record, not a new incident and a second order for the same thing.
        _merge(ended, alert, row)
        return Outcome(ended.id, _order_id(s, ended.id, fold))
    group = _group_candidate(s, town, camera, alert, now, fold)
    if group is not None:
        group.cameras = [*group.cameras, camera.id]
        fold.add_key(s, key, group.id)
        fold.keep(group)
        _merge(group, alert, row)
        publish(s, "incident.updated", order_store.incident_json(town, group), now, fold.ids)
        return Outcome(group.id, _order_id(s, group.id, fold))
    pair = (camera.id, alert.kind.value)
    if pair in fold.silence_known:
        quiet = pair in fold.silenced
    else:
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
    _merge(inc, alert, row)  # before the INSERT, so the new row is written once, complete
    routing = route_camera(town, camera, alert.kind.value, now)
    fold.add_incident(s, inc, with_order=routing.work_order and not quiet)
    row.incident_id = inc.id
    # A second process opening the same key fails at the next flush (at the latest the commit):
    # the transaction is then retried and merges into the incident the other one opened.
    fold.add_key(s, key, inc.id)
    fold.groups.get((inc.kind, inc.road), set()).add(inc.id)
    publish(s, "incident.created", order_store.incident_json(town, inc), now, fold.ids)
    fold.orders[inc.id] = None
    if not routing.work_order or quiet:
        return Outcome(inc.id, None)
    desc = f"{alert.kind.value} at {camera.name}"
    wo = order_store.create(
        s,
        town,
        routing,
        now,
        ids=fold.ids,
        source="camera",
        actor=alert.node_id,
        role="edge",
        incident=inc,
        camera_id=camera.id,
        description=desc,
        service_code=_service_code(town, alert.kind.value),
    )
    fold.orders[inc.id] = wo.id
    return Outcome(inc.id, wo.id)


def _clear(
    s: Session, town: Town, alert: Alert, row: Stored, held: OpenKey | None, now: datetime, fold: Fold
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
            publish(s, "incident.cleared", order_store.incident_json(town, inc), now, fold.ids)
            wo = s.execute(select(WorkOrder).where(WorkOrder.incident_id == inc.id)).scalar_one_or_none()
            if wo is not None and wo.detection_cleared_at is None:
                wo.detection_cleared_at = now
                wo.updated_at = now
                publish(
                    s,
                    "work_order.updated",
                    order_store.summary(town, wo, now) | {"action": "detection_cleared"},
                    now,
                    fold.ids,
                )
                if EventKind(alert.kind) in OBSTRUCTION_KINDS:  # the camera's word on the fix
                    order_store.camera_clear(s, town, wo, row.snapshot, now, fold.ids)
        else:
            publish(s, "incident.updated", order_store.incident_json(town, inc), now, fold.ids)
        return Outcome(inc.id, _order_id(s, inc.id, fold))
    # No open incident: the clear of an event already ended (order closed) or never seen (onset lost).
    # The latest alert of the event wins; alerts of this transaction are later than any stored one.
    recent = fold.events.get(alert.event_id)
    earlier = (
        recent[-1]
        if recent
        else s.execute(
            select(AlertRow.incident_id)
            .where(AlertRow.event_id == alert.event_id, AlertRow.incident_id.is_not(None))
            .order_by(AlertRow.received_at.desc())
            .limit(1)
        ).scalar_one_or_none()
    )
    if earlier is not None:
        inc = s.get_one(Incident, earlier)
        _merge(inc, alert, row)
        return Outcome(inc.id, _order_id(s, inc.id, fold))
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
    fold.add_incident(s, inc)
    fold.orders[inc.id] = None
    _merge(inc, alert, row)
    publish(s, "incident.cleared", order_store.incident_json(town, inc), now, fold.ids)
    return Outcome(inc.id, None)


def _ended_incident_of_event(s: Session, event_id: str, fold: Fold) -> Incident | None:
    """The latest incident this event's alerts joined that is no longer open, if any."""
    stored = fold.stored_events.get(event_id)
    found: Incident | None = None
    if stored is None:
        q = (
            select(Incident)
            .join(AlertRow, AlertRow.incident_id == Incident.id)
            .where(AlertRow.event_id == event_id, Incident.state != "open")
            .order_by(Incident.id.desc())
            .limit(1)
        )
        found = s.execute(q).scalars().first()
        stored = set()
    # alerts of this transaction are not in the alerts table with their incident yet
    for inc_id in sorted({*stored, *fold.events.get(event_id, ())}):
        inc = fold.incident(s, inc_id)
        if inc.state != "open" and (found is None or inc.id > found.id):
            found = inc
    return found


def _merge(inc: Incident, alert: Alert, row: Stored) -> None:
    inc.alert_count += 1
    inc.first_seen = min(inc.first_seen, alert.started_at)
    inc.last_seen = max(inc.last_seen, alert.raised_at)
    if row.snapshot is not None and (inc.snapshot is None or alert.score >= inc.best_score):
        inc.snapshot = row.snapshot
    if row.clip is not None and inc.clip is None:
        inc.clip = row.clip
    inc.best_score = max(inc.best_score, alert.score)
    row.incident_id = inc.id


def _group_candidate(
    s: Session, town: Town, camera: Camera, alert: Alert, now: datetime, fold: Fold
) -> Incident | None:
    """The first (oldest) incident open for this kind on this road, seen within the grouping window,
    that has a camera neighbouring this one."""
    window = town.hub.incident_group_window_s
    if window <= 0 or not camera.road or EventKind(alert.kind) not in OBSTRUCTION_KINDS:
        return None
    since = now - timedelta(seconds=window)
    mine = (fold.near or Neighbourhoods(town)).of(camera.id)

    def touches(cameras: list[str]) -> bool:
        return not mine.isdisjoint(cameras)

    candidates = fold.groups.get((alert.kind.value, camera.road))
    if candidates is not None:  # preloaded for the batch
        for inc_id in sorted(candidates):
            live, state, last_seen, cameras = fold.candidate(s, inc_id)
            if state == "open" and last_seen >= since and touches(cameras):
                return live if live is not None else _stored_incident(s, inc_id)
        return None
    # ids and cameras only: a busy road has many open incidents, and only one is wanted whole
    q = (
        select(Incident.id, Incident.cameras)
        .where(
            Incident.kind == alert.kind.value,
            Incident.road == camera.road,
            Incident.state == "open",
            Incident.last_seen >= since,
        )
        .order_by(Incident.id)
    )
    for inc_id, cameras in s.execute(q).all():
        if touches(cameras):
            return s.get_one(Incident, inc_id)
    return None


def _stored_incident(s: Session, incident_id: int) -> Incident:
    """A stored incident the session does not hold yet. Without an autoflush: nothing pending can
    change a row the session has not loaded, and a flush here would write out what the batch made so
    far in the middle of folding (one INSERT per table and batch, not per alert that joins a group)."""
    with s.no_autoflush:
        return s.get_one(Incident, incident_id)


def _order_id(s: Session, incident_id: int, fold: Fold) -> int | None:
    if incident_id not in fold.orders:
        # Not known to this batch: a stored incident, whose order (made with it) is stored too, so no
        # autoflush is needed (see _stored_incident).
        with s.no_autoflush:
            fold.orders[incident_id] = s.execute(
                select(WorkOrder.id).where(WorkOrder.incident_id == incident_id)
            ).scalar_one_or_none()
    return fold.orders[incident_id]


def _service_code(town: Town, kind: str) -> str | None:
    return next((sv.code for sv in town.services if sv.kind == kind), None)
