"""The pictures behind a work order, each labelled with the camera that took it.

An incident may group several cameras (neighbours on one road that saw the same thing), and its one
``snapshot`` is the best-scoring picture of any of them, so an order for cam-001 could show cam-002's
picture unlabelled. Here every grouped camera's best snapshot is listed with its camera, the order's
own camera first, so the console shows the right picture first and says whose each one is.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from central.media import media_url
from central.tables import AlertRow
from gridwatch.config import Town


def order_snapshots(s: Session, town: Town, incident_id: int, own_camera: str | None) -> list[dict[str, Any]]:
    """One entry per camera of the incident that sent a snapshot: its best-scoring one (the latest
    among equals); the order's own camera first, then by camera id."""
    rows = s.execute(
        select(AlertRow.camera_id, AlertRow.snapshot, AlertRow.raised_at, AlertRow.score)
        .where(AlertRow.incident_id == incident_id, AlertRow.snapshot.is_not(None))
        .order_by(AlertRow.score.desc(), AlertRow.raised_at.desc())
        .limit(500)
    ).all()
    best: dict[str, Any] = {}
    for row in rows:
        best.setdefault(row.camera_id, row)
    cameras = town.cameras_by_id()
    order = sorted(best, key=lambda cid: (cid != own_camera, cid))
    return [
        {
            "camera_id": cid,
            "camera_name": cameras[cid].name if cid in cameras else cid,
            "url": media_url(best[cid].snapshot),
            "raised_at": best[cid].raised_at.isoformat(),
            "score": best[cid].score,
        }
        for cid in order
    ]
