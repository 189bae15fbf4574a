"""Camera and node health for maintainers, kept from heartbeats.

Each heartbeat updates the camera's row; a change of status or faults is logged (availability and
fault history come from that log) and announced on the feed. A camera whose heartbeats stop for
``hub.heartbeat_offline_after_s`` goes offline by itself: the sweep (run by the watcher, and before
every health read) flips it with a conditional UPDATE so two processes log it once.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from central.db import Database
from central.feed import publish, publish_many
from central.tables import AlertRow, CameraState, CameraStatusLog, NodeState, table_of
from gridwatch.config import Town
from gridwatch.config.schema import Camera
from gridwatch.wire import CameraStatus, Heartbeat, iso_time

OFFLINE = CameraStatus.OFFLINE.value
#: Where a node's stored heartbeat keeps its cameras' proposed roads (not shown with the node).
ROAD_PROPOSALS = "road_proposals"
#: Where it keeps its cameras' ONVIF state (stream URIs, clock offset, PTZ home moves; edge.onvif).
ONVIF = "onvif"
#: A camera with ``enabled: false`` in the town config is not watched: it is neither online nor
#: offline, whatever its last heartbeat said. One definition for every count (the camera list, its
#: ``by_status``, the nodes' counts and the ``gridwatch_cameras`` metric).
DISABLED = "disabled"
#: Every status a camera can be listed with, in display order.
STATUSES = (*(s.value for s in CameraStatus), DISABLED)


def status_of(cam: Camera, state_status: str | None) -> str:
    """A configured camera's status: disabled when switched off, else its last known status; a
    camera never heard from counts as offline."""
    if not cam.enabled:
        return DISABLED
    return state_status or OFFLINE


class HeartbeatRefused(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


def record_heartbeat(db: Database, town: Town, hb: Heartbeat, node_id: str, now: datetime) -> int:
    """Store a node's heartbeat; returns how many cameras changed status or faults."""
    if hb.node_id != node_id:
        raise HeartbeatRefused(403, f"this token is for node {node_id!r}, the heartbeat says {hb.node_id!r}")
    numbers = [hb.node.cpu_percent, hb.node.memory_percent]
    for ch in hb.cameras:
        numbers += [ch.fps_in, ch.fps_analysed, *ch.scores.values()]
    if not all(math.isfinite(v) for v in numbers):
        raise HeartbeatRefused(422, "heartbeat figures must be finite numbers (no NaN or Infinity)")
    cams = town.cameras_by_id()
    for ch in hb.cameras:
        cam = cams.get(ch.camera_id)
        if cam is None:
            raise HeartbeatRefused(404, f"unknown camera {ch.camera_id!r}")
        if cam.node != node_id:
            raise HeartbeatRefused(403, f"camera {cam.id!r} belongs to node {cam.node!r}, not {node_id!r}")
    with db.write() as s:
        # Core statements throughout (an ORM flush of 20 tracked rows cost more than the rest of
        # the request): one upsert of the node, one read of the cameras' status, one executemany
        # UPDATE of every camera's figures. Status changes, which are rare, are written and logged
        # one by one.
        health = hb.node.model_dump(mode="json") | {
            "sent_at": hb.sent_at.isoformat(),
            "config_version": hb.config_version,
            "config_error": hb.config_error,
            # each camera's proposed road (the console shows it as a suggestion; see road_proposal)
            ROAD_PROPOSALS: {
                ch.camera_id: [list(p) for p in ch.road_proposal]
                for ch in hb.cameras
                if ch.road_proposal
            },
            ONVIF: {ch.camera_id: ch.onvif.model_dump(mode="json") for ch in hb.cameras if ch.onvif},
        }
        node_row = {
            "node_id": node_id,
            "last_heartbeat_at": now,
            "last_heartbeat_id": hb.id,
            "live_url": hb.live_url,
            "live_key": hb.live_key,
            "health": health,
        }
        s.execute(_UPSERT_NODE[s.get_bind().dialect.name], node_row)
        ids = [ch.camera_id for ch in hb.cameras]
        known = {
            cid: (status, list(faults or [])) for cid, status, faults in s.execute(_KNOWN, {"ids": ids}).all()
        }
        figures: list[dict[str, Any]] = []
        first: list[dict[str, Any]] = []  # cameras heard of for the first time
        changes: list[dict[str, Any]] = []  # status or fault changes, for the log and the feed
        for ch in hb.cameras:
            faults = sorted(f.value for f in ch.faults)
            values: dict[str, Any] = {
                "node_id": node_id,
                "last_heartbeat_at": now,
                "last_frame_at": ch.last_frame_at,
                "fps_in": ch.fps_in,
                "fps_analysed": ch.fps_analysed,
                "decode_errors": ch.decode_errors,
                "reconnects": ch.reconnects,
                "scores": dict(ch.scores),
            }
            was = known.get(ch.camera_id)
            if was is None:
                first.append(
                    {
                        "camera_id": ch.camera_id,
                        "status": ch.status.value,
                        "faults": faults,
                        "status_since": now,
                    }
                    | values
                )
                known[ch.camera_id] = (ch.status.value, faults)
                changes.append(_change(ch.camera_id, node_id, ch.status.value, faults, None))
                continue
            old_status, old_faults = was
            if old_status != ch.status.value or old_faults != faults:
                change: dict[str, Any] = {"status": ch.status.value, "faults": faults}
                if old_status != ch.status.value:
                    change["status_since"] = now
                s.execute(update(_CAMS).where(_CAMS.c.camera_id == ch.camera_id).values(change))
                known[ch.camera_id] = (ch.status.value, faults)
                changes.append(_change(ch.camera_id, node_id, ch.status.value, faults, old_status))
            figures.append({"b_id": ch.camera_id, **values})
        if first:
            s.execute(insert(_CAMS), first)
        if figures:
            s.execute(_FIGURES, figures)
        if changes:
            log_rows = [
                {
                    "camera_id": c["camera_id"],
                    "at": now,
                    "status": c["status"],
                    "faults": c["faults"],
                    "reason": c["reason"],
                }
                for c in changes
            ]
            s.execute(insert(table_of(CameraStatusLog)), log_rows)
            publish_many(s, "camera.status", changes, now)
    return len(changes)


def _change(camera_id: str, node_id: str, status: str, faults: list[str], old: str | None) -> dict[str, Any]:
    """A camera.status feed event's data (the same as :func:`_log_change` announces)."""
    return {
        "camera_id": camera_id,
        "node_id": node_id,
        "status": status,
        "previous": old,
        "faults": list(faults),
        "reason": "heartbeat",
    }


_CAMS = table_of(CameraState)
_NODES = table_of(NodeState)
#: Every heartbeat's figures of its cameras, one executemany (SET columns come from the rows' keys).
_FIGURES = update(_CAMS).where(_CAMS.c.camera_id == bindparam("b_id"))
_KNOWN = select(_CAMS.c.camera_id, _CAMS.c.status, _CAMS.c.faults).where(
    _CAMS.c.camera_id.in_(bindparam("ids", expanding=True))
)


def _node_upsert(dialect: Any) -> Any:
    stmt = dialect.insert(_NODES)
    fields = ("last_heartbeat_at", "last_heartbeat_id", "live_url", "live_key", "health")
    return stmt.on_conflict_do_update(
        index_elements=[_NODES.c.node_id], set_={f: stmt.excluded[f] for f in fields}
    )


#: Built once per dialect: building it (its ``excluded`` alias copies every column) and working out
#: its cache key cost a heartbeat more than running it.
_UPSERT_NODE = {"postgresql": _node_upsert(postgresql), "sqlite": _node_upsert(sqlite)}


def _log_change(
    s: Session,
    camera_id: str,
    node_id: str,
    status: str,
    faults: list[str],
    old: str | None,
    now: datetime,
    reason: str,
) -> None:
    s.add(CameraStatusLog(camera_id=camera_id, at=now, status=status, faults=list(faults), reason=reason))
    publish(
        s,
        "camera.status",
        {
            "camera_id": camera_id,
            "node_id": node_id,
            "status": status,
            "previous": old,
            "faults": list(faults),
            "reason": reason,
        },
        now,
    )


#: Cameras gone silent that one sweep transaction takes offline. A node or a village losing its
#: network silences many cameras at once; one transaction per camera let the sweep hold the write
#: lock for its whole loop (re-taken before a waiting writer woke: alert intake stalled for ~0.6 s
#: when 280 cameras went quiet), one for all would do the same in one go.
SWEEP_CHUNK = 50


def sweep_offline(db: Database, town: Town, now: datetime) -> list[str]:
    """Cameras silent for longer than the limit go offline; returns their ids."""
    limit = now - timedelta(seconds=town.hub.heartbeat_offline_after_s)
    silent = (CameraState.status != OFFLINE, CameraState.last_heartbeat_at < limit)
    with db.read() as s:
        stale = dict(s.execute(select(CameraState.camera_id, CameraState.status).where(*silent)).all())
    flipped: list[str] = []
    ids = sorted(stale)
    for lo in range(0, len(ids), SWEEP_CHUNK):
        with db.write() as s:
            # the same conditions again: a heartbeat that came meanwhile keeps its camera online
            gone = s.execute(
                update(CameraState)
                .where(CameraState.camera_id.in_(ids[lo : lo + SWEEP_CHUNK]), *silent)
                .values(status=OFFLINE, status_since=now)
                .returning(CameraState.camera_id, CameraState.node_id, CameraState.faults)
                .execution_options(synchronize_session=False)
            ).all()
            for cam_id, node_id, faults in sorted(gone):
                _log_change(s, cam_id, node_id, OFFLINE, list(faults), stale[cam_id], now, "no_heartbeat")
                flipped.append(cam_id)
    return flipped


@dataclass(frozen=True, slots=True)
class Filters:
    status: str | None = None
    grid: str | None = None
    village: str | None = None
    node: str | None = None


def camera_statuses(db: Database, town: Town) -> dict[str, str]:
    """Status of every configured camera (see :func:`status_of`)."""
    with db.read() as s:
        known = dict(s.execute(select(CameraState.camera_id, CameraState.status)).all())
    return {c.id: status_of(c, known.get(c.id)) for c in town.cameras}


def count_by_status(statuses: Iterable[str]) -> dict[str, int]:
    """How many cameras have each status, every status present (0 when none)."""
    counts = dict.fromkeys(STATUSES, 0)
    for status in statuses:
        counts[status] = counts.get(status, 0) + 1
    return counts


def list_cameras(db: Database, town: Town, now: datetime, f: Filters) -> list[dict[str, Any]]:
    with db.read() as s:
        states = {st.camera_id: st for st in s.execute(select(CameraState)).scalars()}
        onvif = {cid: state for health in s.execute(select(NodeState.health)).scalars()
                 for cid, state in ((health or {}).get(ONVIF) or {}).items()}
    out = []
    for cam in town.cameras:
        st = states.get(cam.id)
        item = _camera_json(cam, st)
        item["onvif_issue"] = onvif_issue(onvif.get(cam.id))
        if f.status and item["status"] != f.status:
            continue
        if (
            (f.grid and cam.grid != f.grid)
            or (f.village and cam.village != f.village)
            or (f.node and cam.node != f.node)
        ):
            continue
        out.append(item)
    return out


def _camera_json(cam: Camera, st: CameraState | None) -> dict[str, Any]:
    return {
        "id": cam.id,
        "name": cam.name,
        "grid": cam.grid,
        "village": cam.village,
        "node": cam.node,
        "road": cam.road,
        "lat": cam.lat,
        "lon": cam.lon,
        "enabled": cam.enabled,
        "status": status_of(cam, st.status if st else None),
        "faults": list(st.faults) if st else [],
        "status_since": iso_time(st.status_since) if st else None,
        "last_heartbeat_at": iso_time(st.last_heartbeat_at) if st else None,
        "last_frame_at": iso_time(st.last_frame_at) if st else None,
        "fps_in": st.fps_in if st else 0.0,
        "fps_analysed": st.fps_analysed if st else 0.0,
        "decode_errors": st.decode_errors if st else 0,
        "reconnects": st.reconnects if st else 0,
        "scores": dict(st.scores) if st else {},
    }


def availability(log: list[CameraStatusLog], start: datetime, end: datetime) -> float | None:
    """Share of the observed part of [start, end] the camera was not offline; None if never observed.

    Pure over the status-change log (sorted by time): each entry holds until the next.
    """
    if end <= start:
        return None
    up = seen = 0.0
    for i, entry in enumerate(log):
        nxt = log[i + 1].at if i + 1 < len(log) else end
        a, b = max(entry.at, start), min(nxt, end)
        if b <= a:
            continue
        span = (b - a).total_seconds()
        seen += span
        if entry.status != OFFLINE:
            up += span
    return None if seen == 0 else up / seen


def camera_health(db: Database, town: Town, camera_id: str, now: datetime) -> dict[str, Any]:
    with db.read() as s:
        st = s.get(CameraState, camera_id)
        log = list(
            s.execute(
                select(CameraStatusLog)
                .where(CameraStatusLog.camera_id == camera_id)
                .order_by(CameraStatusLog.at, CameraStatusLog.id)
            ).scalars()
        )
    out = _camera_json(town.camera(camera_id), st)
    out["availability"] = {
        "24h": availability(log, now - timedelta(hours=24), now),
        "7d": availability(log, now - timedelta(days=7), now),
    }
    out["history"] = [
        {"at": e.at.isoformat(), "status": e.status, "faults": e.faults, "reason": e.reason}
        for e in reversed(log[-100:])
    ]
    return out


def list_nodes(db: Database, town: Town, now: datetime) -> list[dict[str, Any]]:
    statuses = camera_statuses(db, town)
    with db.read() as s:
        nodes = {n.node_id: n for n in s.execute(select(NodeState)).scalars()}
    limit = timedelta(seconds=town.hub.heartbeat_offline_after_s)
    out = []
    for n in town.nodes:
        st = nodes.get(n.id)
        cams = [c.id for c in town.cameras if c.node == n.id]  # disabled ones too, counted as such
        by_status = count_by_status(statuses[c] for c in cams)
        online = st is not None and now - st.last_heartbeat_at <= limit
        out.append(
            {
                "id": n.id,
                "name": n.name,
                "status": "online" if online else "offline",
                "last_heartbeat_at": st.last_heartbeat_at.isoformat() if st else None,
                "live": bool(st and st.live_url),
                "health": _node_figures(st.health) if st else None,
                "cameras": len(cams),
                "cameras_by_status": by_status,
            }
        )
    return out


def _node_figures(health: dict[str, Any]) -> dict[str, Any]:
    """A node's heartbeat figures without its cameras' road proposals and ONVIF states (those belong
    to each camera)."""
    return {k: v for k, v in health.items() if k not in (ROAD_PROPOSALS, ONVIF)}


def road_proposal(db: Database, node_id: str, camera_id: str) -> list[list[float]] | None:
    """The road the camera's edge proposed in its node's latest heartbeat (0..1 [x, y] vertices);
    None when it sent none (the camera has a road region, or the edge has not seen enough traffic)."""
    with db.read() as s:
        st = s.get(NodeState, node_id)
    if st is None:
        return None
    found = (st.health or {}).get(ROAD_PROPOSALS, {}).get(camera_id)
    return found or None


def onvif_issue(state: dict[str, Any] | None) -> str | None:
    """What a maintainer should fix on the camera's ONVIF side: ``error`` (the device does not answer
    as it should: wrong password, unreachable), ``clock_wrong`` (its clock is off), or None."""
    if not state:
        return None
    if not state.get("ok") and state.get("error"):
        return "error"
    return "clock_wrong" if state.get("clock_wrong") else None


def onvif_state(db: Database, node_id: str, camera_id: str) -> dict[str, Any] | None:
    """The camera's ONVIF state from its node's latest heartbeat; None for a camera without ONVIF."""
    with db.read() as s:
        st = s.get(NodeState, node_id)
    found = (st.health or {}).get(ONVIF, {}).get(camera_id) if st is not None else None
    return found or None


def latest_snapshot(db: Database, camera_id: str) -> tuple[str, datetime, int | None] | None:
    """The camera's newest alert snapshot: (media file name, when raised, its incident id). From the
    alerts, not the incidents: an incident grouping neighbouring cameras keeps the best picture of
    any of them, and a region is drawn on this camera's own picture."""
    with db.read() as s:
        row = s.execute(
            select(AlertRow.snapshot, AlertRow.raised_at, AlertRow.incident_id)
            .where(AlertRow.camera_id == camera_id, AlertRow.snapshot.is_not(None))
            .order_by(AlertRow.received_at.desc(), AlertRow.raised_at.desc())
            .limit(1)
        ).first()
    return (str(row[0]), row[1], row[2]) if row else None  # (the query takes rows with a snapshot)


def live_endpoint(db: Database, node_id: str) -> tuple[str, str | None] | None:
    """Where the node answers offers and the key it wants presented (None: no live view announced)."""
    with db.read() as s:
        st = s.get(NodeState, node_id)
        return (st.live_url, st.live_key) if st and st.live_url else None
