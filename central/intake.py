"""Alert intake: check an alert, store it once, fold it into incidents and work orders.

Alerts are stored in batches (see :mod:`central.alert_writer`): one transaction takes every alert
queued meanwhile. Idempotent on the alert id without check-then-insert: the batch's alert rows go in
first with ``INSERT .. ON CONFLICT (id) DO NOTHING RETURNING id``, so the primary key decides which
copies are new (another process's uncommitted copy makes ours wait, then yields to it); only those
are folded into incidents, the rest answer the stored receipt with ``duplicate=true``. Snapshot and
clip files are written before the transaction and made durable by one file-system sync per batch
(running while the transaction works; the commit waits for it), so a committed row never names a
file that a crash could lose; files of copies already stored are deleted after the commit. Nothing
is half-written: a failed batch is rolled back whole and its files deleted.
"""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Sequence
from concurrent.futures import Executor, Future, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, select, text, update
from sqlalchemy.dialects import sqlite
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.auth import Principal
from central.context import Hub
from central.feed import NOTIFY_CHANNEL
from central.fold import Fold
from central.ids import Ids, Maxima
from central.incidents import apply_alert
from central.media import BadMedia, MediaStore, check_jpeg, new_name
from central.tables import AlertRow, Incident, WorkOrder, table_of
from gridwatch.wire import Alert, AlertReceipt, iso_time

log = logging.getLogger(__name__)
RETRIES = 5


class IntakeError(Exception):
    """Refused alert; ``status`` is the HTTP status to answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status, self.message = status, message


@dataclass(frozen=True, slots=True)
class Checked:
    """An alert that passed :func:`check`, with its decoded media (decoded once)."""

    alert: Alert
    snapshot: bytes | None
    clip: bytes | None


def check(hub: Hub, alert: Alert, who: Principal) -> Checked:
    """Everything that can be said about an alert cheaply, before touching the database (the
    snapshot's decoding is :func:`check_media`)."""
    if who.node_id != alert.node_id:
        raise IntakeError(403, f"this token is for node {who.node_id!r}, the alert says {alert.node_id!r}")
    camera = hub.cameras.get(alert.camera_id)
    if camera is None:
        raise IntakeError(404, f"unknown camera {alert.camera_id!r}")
    if camera.node != who.node_id:
        raise IntakeError(403, f"camera {camera.id!r} belongs to node {camera.node!r}, not {who.node_id!r}")
    problem = alert.problem()
    if problem is not None:
        raise IntakeError(422, problem)
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
    snapshot, clip = alert.snapshot_bytes(), alert.clip_bytes()
    if snapshot is not None and len(snapshot) > hub.town.hub.max_snapshot_bytes:
        raise IntakeError(
            413, f"snapshot is {len(snapshot)} bytes, the limit is {hub.town.hub.max_snapshot_bytes}"
        )
    return Checked(alert, snapshot, clip)


def check_media(item: Checked) -> None:
    """Decode the snapshot, the one check that costs real CPU. The alert writer runs it on its own
    thread (Pillow decodes without the GIL, so the requests' event loop is not held up meanwhile);
    a picture that does not decode is refused like any other bad alert."""
    if item.snapshot is not None:
        try:
            check_jpeg(item.snapshot)
        except BadMedia as exc:
            raise IntakeError(422, f"snapshot_jpeg: {exc}") from None


def store_one(hub: Hub, item: Checked, disk: Executor | None = None) -> AlertReceipt:
    """Store one checked alert; a conflict with another writer is retried from the start."""
    for _ in range(RETRIES):
        try:
            return store_batch(hub, [item], disk)[0]
        except IntegrityError as exc:
            # An incident opened for the same camera+kind by someone else meanwhile: start over
            # and merge into it.
            log.debug("intake of %s conflicted, retrying: %s", item.alert.id, exc.orig)
    raise IntakeError(503, "could not store the alert (conflicting writers); retry")


@dataclass(slots=True)
class _Ref:
    """The stored alert as incidents see it: its files, and the incident it joined."""

    snapshot: str | None
    clip: str | None
    incident_id: int | None = None


def store_batch(hub: Hub, batch: Sequence[Checked], disk: Executor | None = None) -> list[AlertReceipt]:
    """Store a batch in ONE transaction and answer a receipt per alert, in order.

    Raises on any database error, and then nothing of the batch is stored (the caller retries the
    alerts one by one, so that each gets its own answer). Copies of one id within the batch: the
    first is stored, the others are duplicates of it.
    """
    firsts: dict[str, int] = {}
    for i, item in enumerate(batch):
        firsts.setdefault(item.alert.id, i)
    refs = {
        i: _Ref(
            new_name("jpg") if batch[i].snapshot is not None else None,
            new_name("mp4") if batch[i].clip is not None else None,
        )
        for i in firsts.values()
    }
    outcomes: dict[str, tuple[int, int | None]] = {}
    stored: dict[str, tuple[int, int | None]] = {}
    # The files are written and synced on the disk thread while the transaction does its work; the
    # commit waits for them.
    files = [(name, data) for i in firsts.values()
             for name, data in ((refs[i].snapshot, batch[i].snapshot), (refs[i].clip, batch[i].clip))
             if name is not None and data is not None]
    written = [name for name, _ in files]
    syncing: Future[None] | None = None
    try:
        syncing = _store_files(hub.media, files, disk)
        with hub.db.write(notify=NOTIFY_CHANNEL) as s:  # every batch announces (its NOTIFY rides the lock)
            now = hub.now()
            rows = [_row(batch[i].alert, refs[i], now) for i in firsts.values()]
            fresh = _insert_new(s, rows)
            again = [aid for aid in firsts if aid not in fresh]
            if again:
                stored = _stored(s, again)
            new = [i for aid, i in firsts.items() if aid in fresh]
            ids = Ids(s, _NEW_ROWS)
            fold = Fold(ids=ids, near=hub.near)
            fold.preload(s, hub.town, [batch[i].alert for i in new], now)
            links: list[dict[str, Any]] = []
            for i in new:
                # Let the event loop have the GIL between alerts: folding is pure Python, and without
                # a pause the requests' thread waits for whole stretches of it (BENCHMARKS.md,
                # "Measured reasons in the code").
                time.sleep(0)
                alert = batch[i].alert
                out = apply_alert(s, hub.town, hub.cameras[alert.camera_id], alert, refs[i], now, fold)
                quiet = fold.incident(s, out.incident_id).silenced
                outcomes[alert.id] = (out.incident_id, out.work_order_id)
                links.append(
                    {"b_id": alert.id, "b_inc": out.incident_id, "b_wo": out.work_order_id, "b_quiet": quiet}
                )
            s.flush()
            ids.write()  # the feed events and history rows, after the orders they name
            if links:
                s.execute(_LINK, links)
            syncing.result()  # the files are durable before the rows that name them commit
    except BaseException:
        if syncing is not None:
            wait([syncing])  # its files are deleted below; its own error, if any, is not the one raised
        for name in written:
            hub.media.delete(name)
        raise
    for aid, i in firsts.items():  # copies of alerts stored before: their files are not needed
        if aid not in outcomes:
            hub.media.delete(refs[i].snapshot)
            hub.media.delete(refs[i].clip)
    receipts = []
    for i, item in enumerate(batch):
        aid = item.alert.id
        first = aid in outcomes and firsts[aid] == i
        incident_id, order_id = outcomes.get(aid) or stored[aid]
        receipts.append(
            AlertReceipt(alert_id=aid, incident_id=incident_id, work_order_id=order_id, duplicate=not first)
        )
        _count(hub, item.alert, duplicate=not first)
    return receipts


_ALERTS = table_of(AlertRow)
#: Tables a batch takes ids for (feed events and history rows are numbered by the database as they
#: go in, see Ids.append): their next ids are read in one query.
_NEW_ROWS = Maxima(Incident, WorkOrder)
#: Write back what folding decided (one executemany for the batch).
_LINK = (
    update(_ALERTS)
    .where(_ALERTS.c.id == bindparam("b_id"))
    .values(incident_id=bindparam("b_inc"), work_order_id=bindparam("b_wo"), silenced=bindparam("b_quiet"))
)


#: INSERT of alert rows that skips ids already stored and returns the ids it inserted; built once,
#: not per batch (building a statement costs). On SQLite one multi-row INSERT. On PostgreSQL the rows
#: travel as ONE JSON parameter that the server unpacks into the table's own row type: a multi-row
#: INSERT has 20 parameters per alert, and psycopg rewrites a statement of more than 50 parameters in
#: Python, uncached, every time (what that cost: BENCHMARKS.md, "Measured reasons in the code").
_INSERT_NEW_SQLITE = (
    sqlite.insert(_ALERTS).on_conflict_do_nothing(index_elements=["id"]).returning(_ALERTS.c.id)
)
_INSERT_NEW_POSTGRES = text(
    "INSERT INTO alerts SELECT * FROM json_populate_recordset(NULL::alerts, CAST(:rows AS json)) "
    "ON CONFLICT (id) DO NOTHING RETURNING id"
)


def _insert_new(s: Session, rows: list[dict[str, Any]]) -> set[str]:
    """Insert the alert rows not stored yet; the ids of those inserted."""
    if s.get_bind().dialect.name == "postgresql":
        # ensure_ascii=False: text that is no UTF-8 (a lone surrogate) fails in the driver as before
        # (UnicodeEncodeError, answered 422), not as a JSON syntax error of the server
        payload = json.dumps(rows, default=_utc_iso, ensure_ascii=False, allow_nan=False)
        return set(s.execute(_INSERT_NEW_POSTGRES, {"rows": payload}).scalars())
    return set(s.execute(_INSERT_NEW_SQLITE, rows).scalars())


def _utc_iso(value: object) -> str:
    """Times in the JSON rows as :class:`central.tables.UTCDateTime` stores them: aware, in UTC."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return iso_time(value)
    raise TypeError(f"{value!r} cannot be stored as an alert column")


def _row(alert: Alert, ref: _Ref, now: datetime) -> dict[str, Any]:
    return {
        "id": alert.id,
        "event_id": alert.event_id,
        "node_id": alert.node_id,
        "camera_id": alert.camera_id,
        "kind": alert.kind.value,
        "phase": alert.phase.value,
        "seq": alert.seq,
        "raised_at": alert.raised_at,
        "started_at": alert.started_at,
        "video_time_s": alert.video_time_s,
        "score": alert.score,
        "bbox": list(alert.bbox) if alert.bbox else None,
        "region": alert.region,
        "details": dict(alert.details),
        "snapshot": ref.snapshot,
        "clip": ref.clip,
        "received_at": now,
        "silenced": False,
        "incident_id": None,
        "work_order_id": None,
    }


def _stored(s: Session, ids: list[str]) -> dict[str, tuple[int, int | None]]:
    """Receipts of alerts stored before this batch."""
    out: dict[str, tuple[int, int | None]] = {}
    q = select(AlertRow.id, AlertRow.incident_id, AlertRow.work_order_id).where(AlertRow.id.in_(ids))
    for aid, incident_id, order_id in s.execute(q).all():
        if incident_id is None:  # cannot be committed so; refuse rather than answer a half receipt
            raise IntakeError(503, f"alert {aid} is stored without its incident; retry")
        out[aid] = (incident_id, order_id)
    return out


def _store_files(media: MediaStore, files: list[tuple[str, bytes]], disk: Executor | None) -> Future[None]:
    """Write a batch's files and make them durable (one ``MediaStore.sync``), on ``disk`` (the alert
    writer's own disk thread: the disk works while the transaction does, and the writer's thread,
    which holds the GIL for the folding, makes no system call for them), or here when None. The
    future gives its error, if any."""

    def run() -> None:
        for name, data in files:
            media.write(name, data)
        media.sync([name for name, _ in files])

    if disk is not None and files:
        return disk.submit(run)
    done: Future[None] = Future()
    try:
        run()
    except BaseException as exc:  # handed to the writer, as from the disk thread
        done.set_exception(exc)
    else:
        done.set_result(None)
    return done


def _count(hub: Hub, alert: Alert, duplicate: bool) -> None:
    hub.metrics.alerts.labels(
        kind=alert.kind.value, phase=alert.phase.value, duplicate=str(duplicate).lower()
    ).inc()
