"""A burst of alerts from one node's 20 cameras, sent as the edge sends them, and the checks after.

``plan_alerts`` makes the alerts: per camera, events of rotating kinds, each an onset (with a real
JPEG snapshot), updates and a clear, so the hub opens, merges and clears incidents and creates work
orders. ``BurstSender`` posts them from several threads; each camera's alerts go in order and the next
goes only after the hub acknowledged the previous one (2xx), exactly like the edge's outbox lanes. A
connection error or a 5xx means "not acknowledged": the same alert is sent again until it is.
``check_store`` then reads the database itself and checks that nothing was lost or doubled.
"""

from __future__ import annotations

import io
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, text

from gridwatch.config import Town
from gridwatch.wire import Alert, EventKind, Phase, stable_id

KINDS = [EventKind.LANDSLIDE, EventKind.ROAD_BLOCKAGE, EventKind.FLOODING, EventKind.CAMERA_FROZEN,
         EventKind.CAMERA_BLURRED]


def small_jpeg(seed: int) -> str:
    import base64

    from PIL import Image

    img = Image.new("RGB", (64, 48), ((seed * 37) % 256, (seed * 91) % 256, 120))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=70)
    return base64.b64encode(buf.getvalue()).decode()


def plan_alerts(town: Town, node: str, per_camera: int, updates: int = 3, tag: str = "") -> list[list[str]]:
    """Alert JSON bodies per camera lane, in the order each camera raises them."""
    cams = [c.id for c in town.cameras_of(node)]
    step = updates + 2
    assert per_camera % step == 0, "whole events only"
    base = datetime.now(UTC) - timedelta(minutes=30)
    lanes: list[list[str]] = []
    for ci, cam in enumerate(cams):
        lane: list[str] = []
        seq = 0
        for ev in range(per_camera // step):
            kind = KINDS[(ci + ev) % len(KINDS)]
            event_id = stable_id(tag, node, cam, "event", ev)
            start = base + timedelta(seconds=ev * 20)
            phases = [Phase.ONSET] + [Phase.UPDATE] * updates + [Phase.CLEAR]
            for pi, phase in enumerate(phases):
                alert = Alert(
                    id=stable_id(tag, event_id, pi), event_id=event_id, node_id=node, camera_id=cam,
                    kind=kind, phase=phase, seq=seq, raised_at=start + timedelta(seconds=pi * 2),
                    started_at=start, video_time_s=float(ev * 20 + pi * 2), score=0.5 + 0.1 * (pi % 4),
                    bbox=(0.1, 0.2, 0.6, 0.9), region="road",
                    snapshot_jpeg=small_jpeg(ci * 100 + ev) if phase is Phase.ONSET else None,
                    details={"pass": pi, "note": "burst"})
                lane.append(alert.model_dump_json())
                seq += 1
        lanes.append(lane)
    return lanes


@dataclass
class BurstSender:
    """Posts every lane's alerts in order, retrying each until a 2xx; ``start()``/``join()``."""

    url: str
    token: str
    lanes: list[list[str]]
    threads: int = 8
    retry_pause_s: float = 0.05
    acked: int = 0
    attempts: int = 0
    not_acked: int = 0  # posts that failed (connection refused/reset, timeout, 5xx) and were resent
    statuses: Counter[int] = field(default_factory=Counter)
    refused: list[tuple[str, int, str]] = field(default_factory=list)  # 4xx: must never happen here
    receipts: dict[str, dict[str, Any]] = field(default_factory=dict)
    errors: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _workers: list[threading.Thread] = field(default_factory=list)

    def start(self) -> BurstSender:
        for i in range(self.threads):
            mine = [lane for n, lane in enumerate(self.lanes) if n % self.threads == i]
            t = threading.Thread(target=self._run, args=(mine,), daemon=True, name=f"burst-{i}")
            t.start()
            self._workers.append(t)
        return self

    def join(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        for t in self._workers:
            t.join(max(0.0, deadline - time.monotonic()))
        return not any(t.is_alive() for t in self._workers)

    def _run(self, lanes: list[list[str]]) -> None:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        cursors = [0] * len(lanes)
        with httpx.Client(timeout=20.0, trust_env=False) as client:
            while any(c < len(lane) for c, lane in zip(cursors, lanes, strict=True)):
                for i, lane in enumerate(lanes):  # interleave this thread's cameras, each in order
                    if cursors[i] >= len(lane):
                        continue
                    if self._send_one(client, lane[cursors[i]], headers):
                        cursors[i] += 1

    def _send_one(self, client: httpx.Client, body: str, headers: dict[str, str]) -> bool:
        with self._lock:
            self.attempts += 1
        try:
            resp = client.post(self.url + "/api/v1/alerts", content=body, headers=headers)
        except httpx.HTTPError as exc:
            with self._lock:
                self.not_acked += 1
                self.errors[type(exc).__name__] += 1
            time.sleep(self.retry_pause_s)
            return False
        with self._lock:
            self.statuses[resp.status_code] += 1
        if resp.status_code >= 500:
            with self._lock:
                self.not_acked += 1
            time.sleep(self.retry_pause_s)
            return False
        if resp.status_code >= 300:
            with self._lock:
                self.refused.append((body[:80], resp.status_code, resp.text[:300]))
            return True  # a refusal is final (it would go to the edge's dead letters); the test fails
        receipt = resp.json()
        with self._lock:
            self.acked += 1
            self.receipts[receipt["alert_id"]] = receipt
        return True


def all_ids(lanes: list[list[str]]) -> set[str]:
    import json

    return {json.loads(b)["id"] for lane in lanes for b in lane}


def check_store(db_url: str, expected_ids: set[str], receipts: dict[str, dict[str, Any]],
                media_dir: Path | None = None) -> dict[str, int]:
    """Read the hub's database directly and check that nothing was lost, doubled or half-written.

    Returns the counts (for the report). Raises AssertionError naming the first broken rule.
    """
    engine = create_engine(db_url)
    try:
        with engine.connect() as c:
            q = lambda sql: c.execute(text(sql)).all()  # noqa: E731
            if engine.dialect.name == "sqlite":
                assert q("PRAGMA integrity_check") == [("ok",)], "SQLite integrity_check failed"
                assert q("PRAGMA foreign_key_check") == [], "rows point at missing parents"
            rows = q("SELECT id, event_id, incident_id, work_order_id FROM alerts")
            ids = [r[0] for r in rows]
            assert len(ids) == len(set(ids)), "an alert id is stored twice"
            missing = expected_ids - set(ids)
            assert not missing, f"{len(missing)} acknowledged alerts not stored: {sorted(missing)[:3]}"
            extra = set(ids) - expected_ids
            assert not extra, f"{len(extra)} alerts stored that nobody sent"
            assert all(r[2] is not None for r in rows), "an alert was stored without its incident"
            # Each receipt the sender got names the incident and work order that were stored.
            stored = {r[0]: (r[2], r[3]) for r in rows}
            for alert_id, rc in receipts.items():
                assert stored[alert_id] == (rc["incident_id"], rc["work_order_id"]), (
                    f"receipt of {alert_id} says {rc}, the database says {stored[alert_id]}")
            # One event is one incident: every step of an event folded into the same incident.
            per_event: dict[str, set[int]] = {}
            for _, event_id, inc, _ in rows:
                per_event.setdefault(event_id, set()).add(inc)
            split = [e for e, incs in per_event.items() if len(incs) != 1]
            assert not split, f"{len(split)} events were split over several incidents"
            incidents = q("SELECT id, alert_count FROM incidents")
            counted = Counter(r[2] for r in rows)
            assert {i for i, _ in incidents} == set(counted), "an incident without alerts (half-written)"
            wrong = [(i, n, counted[i]) for i, n in incidents if n != counted[i]]
            assert not wrong, f"alert_count differs from the stored alerts (doubled merge): {wrong[:3]}"
            created = q("SELECT COUNT(*) FROM feed_events WHERE type = 'incident.created'")[0][0]
            assert created == len(incidents), f"{created} incident.created feed events for {len(incidents)}"
            orders = q("SELECT id, incident_id FROM work_orders WHERE source = 'camera'")
            by_incident = Counter(r[1] for r in orders)
            assert all(n == 1 for n in by_incident.values()), "an incident has two work orders"
            wo_ids = {r[0] for r in orders}
            linked = {r[3] for r in rows if r[3] is not None}
            assert linked <= wo_ids, "an alert names a work order that does not exist"
            hist = dict(q("SELECT work_order_id, COUNT(*) FROM work_order_history WHERE action = 'create' "
                          "GROUP BY work_order_id"))
            assert all(hist.get(w) == 1 for w in wo_ids), "a work order's 'create' is missing or doubled"
            wo_feed = q("SELECT COUNT(*) FROM feed_events WHERE type = 'work_order.created'")[0][0]
            assert wo_feed == len(orders), f"{wo_feed} work_order.created events for {len(orders)} orders"
            if media_dir is not None:
                snaps = [r[0] for r in q("SELECT snapshot FROM alerts WHERE snapshot IS NOT NULL")]
                gone = [n for n in snaps if not (media_dir / n).is_file()]
                assert not gone, f"{len(gone)} stored alerts point at snapshot files that are not there"
            still_open = q("SELECT COUNT(*) FROM open_keys")[0][0]
            assert still_open == 0, f"{still_open} camera+kind keys still open after every event cleared"
            return {"alerts": len(ids), "incidents": len(incidents), "work_orders": len(orders)}
    finally:
        engine.dispose()
