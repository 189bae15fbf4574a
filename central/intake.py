"""Alert intake: check an alert, store it once, fold it into incidents and work orders.

Idempotent on the alert id without check-then-insert: the alert row is inserted first in the
transaction, and the primary key refuses a second copy (another process's insert blocks ours until it
commits, then ours fails). The loser rolls back, deletes the files it wrote, and answers the stored
receipt with ``duplicate=true``. Nothing is half-written: one transaction or nothing.
"""

from __future__ import annotations

import logging
import math
from datetime import timedelta

from sqlalchemy.exc import IntegrityError

from central.auth import Principal
from central.context import Hub
from central.incidents import apply_alert
from central.media import BadMedia, check_jpeg
from central.models import AlertRow, Incident
from gridwatch.wire import Alert, AlertReceipt

log = logging.getLogger(__name__)
RETRIES = 5


class IntakeError(Exception):
    """Refused alert; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def check(hub: Hub, alert: Alert, who: Principal) -> None:
    """Everything that can be said about an alert before touching the database."""
    if who.node_id != alert.node_id:
        raise IntakeError(403, f"this token is for node {who.node_id!r}, the alert says {alert.node_id!r}")
    camera = hub.cameras.get(alert.camera_id)
    if camera is None:
        raise IntakeError(404, f"unknown camera {alert.camera_id!r}")
    if camera.node != who.node_id:
        raise IntakeError(403, f"camera {camera.id!r} belongs to node {camera.node!r}, not {who.node_id!r}")
    texts = [alert.region or "", *alert.details, *(v for v in alert.details.values() if isinstance(v, str))]
    if any("\x00" in t for t in texts):
        raise IntakeError(422, "region and details must not contain NUL characters")
    if alert.seq >= 2**63:
        raise IntakeError(422, "seq is too large (must fit in 63 bits)")
    numbers = [alert.video_time_s or 0.0, *(v for v in alert.details.values() if isinstance(v, float))]
    if not all(math.isfinite(v) for v in numbers):
        raise IntakeError(422, "video_time_s and details must be finite numbers (no NaN or Infinity)")
    now = hub.now()
    if alert.raised_at > now + timedelta(seconds=hub.config.max_clock_skew_s):
        raise IntakeError(
            422,
            f"raised_at {alert.raised_at.isoformat()} is in the future "
            f"(hub time {now.isoformat()}); check the node's clock",
        )
    if alert.raised_at < now - timedelta(seconds=hub.config.max_alert_age_s):
        raise IntakeError(422, f"raised_at {alert.raised_at.isoformat()} is too old to act on")
    snapshot = alert.snapshot_bytes()
    if snapshot is not None:
        if len(snapshot) > hub.town.hub.max_snapshot_bytes:
            raise IntakeError(
                413, f"snapshot is {len(snapshot)} bytes, the limit is {hub.town.hub.max_snapshot_bytes}"
            )
        try:
            check_jpeg(snapshot)
        except BadMedia as exc:
            raise IntakeError(422, f"snapshot_jpeg: {exc}") from None


def stored_receipt(hub: Hub, alert_id: str) -> AlertReceipt | None:
    with hub.db.read() as s:
        row = s.get(AlertRow, alert_id)
        if row is None or row.incident_id is None:
            return None
        return AlertReceipt(
            alert_id=row.id, incident_id=row.incident_id, work_order_id=row.work_order_id, duplicate=True
        )


def ingest(hub: Hub, alert: Alert, who: Principal) -> AlertReceipt:
    """Store the alert once; answer its receipt (``duplicate`` true for any copy after the first)."""
    check(hub, alert, who)
    for _ in range(RETRIES):
        known = stored_receipt(hub, alert.id)
        if known is not None:
            _count(hub, alert, duplicate=True)
            return known
        files = _save_media(hub, alert)
        try:
            receipt = _store(hub, alert, files)
        except IntegrityError as exc:
            log.debug("intake of %s conflicted, retrying: %s", alert.id, exc.orig)
            # Same alert stored by someone else meanwhile, or an incident opened for the same
            # camera+kind: start over and find it.
            for name in files:
                hub.media.delete(name)
            continue
        except BaseException:
            for name in files:
                hub.media.delete(name)
            raise
        _count(hub, alert, duplicate=False)
        return receipt
    raise IntakeError(503, "could not store the alert (conflicting writers); retry")


def _save_media(hub: Hub, alert: Alert) -> list[str]:
    names: list[str] = []
    snap, clip = alert.snapshot_bytes(), alert.clip_bytes()
    if snap is not None:
        names.append(hub.media.save(snap, "jpg"))
    if clip is not None:
        names.append(hub.media.save(clip, "mp4"))
    return names


def _store(hub: Hub, alert: Alert, files: list[str]) -> AlertReceipt:
    now = hub.now()
    snap = next((f for f in files if f.endswith(".jpg")), None)
    clip = next((f for f in files if f.endswith(".mp4")), None)
    with hub.db.write() as s:
        row = AlertRow(
            id=alert.id,
            event_id=alert.event_id,
            node_id=alert.node_id,
            camera_id=alert.camera_id,
            kind=alert.kind.value,
            phase=alert.phase.value,
            seq=alert.seq,
            raised_at=alert.raised_at,
            started_at=alert.started_at,
            video_time_s=alert.video_time_s,
            score=alert.score,
            bbox=list(alert.bbox) if alert.bbox else None,
            region=alert.region,
            details=dict(alert.details),
            snapshot=snap,
            clip=clip,
            received_at=now,
            silenced=False,
            incident_id=None,
            work_order_id=None,
        )
        s.add(row)
        s.flush()  # the idempotency point: a second copy of this id fails here
        outcome = apply_alert(s, hub.town, hub.cameras[alert.camera_id], alert, row, now)
        row.work_order_id = outcome.work_order_id
        inc = s.get_one(Incident, outcome.incident_id)
        row.silenced = inc.silenced
    return AlertReceipt(
        alert_id=alert.id,
        incident_id=outcome.incident_id,
        work_order_id=outcome.work_order_id,
        duplicate=False,
    )


def _count(hub: Hub, alert: Alert, duplicate: bool) -> None:
    hub.metrics.alerts.labels(
        kind=alert.kind.value, phase=alert.phase.value, duplicate=str(duplicate).lower()
    ).inc()
