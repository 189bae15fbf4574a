"""Scale-out: two hub processes on one database stay correct together (PostgreSQL, and one SQLite
file on one machine).

- the same alert posted to both at the same moment is stored once: one incident, one work order,
  one receipt with duplicate=false and the other copy answered with the same ids;
- a feed client on process A gets every event, caused through A or B, once and in id order, and can
  resume on process B with Last-Event-ID where it left A;
- a missed deadline is escalated exactly once while both processes' deadline watchers run.

All against real processes (``gridwatch hub``) and a real PostgreSQL or SQLite file; no timing is
asserted, only waited for (with generous limits that fail the test only if something never happens).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from central.app import build_hub
from central.context import Hub
from central.db import Database
from central.deadlines import check_deadlines
from central.settings import HubConfig
from central.tables import AlertRow, FeedEvent, HistoryRow, Incident, WorkOrder
from gridwatch.config import load_town
from tests.central.conftest import alert, jpeg
from tests.scale.conftest import Pair
from tests.support.hub import SAMPLE_TOWN

pytestmark = [pytest.mark.slow]  # (the PostgreSQL pair is marked postgres)

WAIT_S = 60.0  # a limit for things that must happen eventually, never a speed requirement


def post(url: str, token: str, body: dict[str, Any]) -> httpx.Response:
    return httpx.post(url + "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {token}"},
                      timeout=60)


def at_once(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    """Run the calls in threads released together by a barrier."""
    barrier = threading.Barrier(len(calls))

    def run(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait()
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


def wait_for(what: str, check: Callable[[], bool], limit_s: float = WAIT_S) -> None:
    deadline = time.monotonic() + limit_s
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.2)


def feed_events(url: str, token: str, last: int | None, until: int) -> Iterator[dict[str, Any]]:
    """Read the live feed (follow) from ``last`` until the event with id ``until`` has come."""
    headers = {"Authorization": f"Bearer {token}"}
    if last is not None:
        headers["Last-Event-ID"] = str(last)
    with httpx.stream("GET", url + "/api/v1/feed", headers=headers, timeout=WAIT_S) as r:
        assert r.status_code == 200
        for line in r.iter_lines():
            if line.startswith("data: "):
                ev = json.loads(line[6:])
                yield ev
                if ev["id"] >= until:
                    return


def test_same_alert_to_both_processes_is_stored_once(pair: Pair) -> None:
    now = datetime.now(UTC)
    snap = jpeg()
    token = pair.edge["edge-01"]
    for n, cam in enumerate(("cam-001", "cam-004", "cam-006")):
        body = alert(cam, event=f"same-{n}", at=now, snapshot=snap)
        # each process gets the alert twice, all four copies released at the same moment
        rs = at_once([lambda u=u, b=body: post(u, token, b) for u in (pair.a.url, pair.b.url) * 2])
        assert all(r.status_code in (200, 201) for r in rs), [r.text for r in rs]
        receipts = [r.json() for r in rs]
        assert sorted(r["duplicate"] for r in receipts) == [False, True, True, True]
        assert len({(r["incident_id"], r["work_order_id"]) for r in receipts}) == 1
        assert receipts[0]["work_order_id"] is not None
        db = pair.db()
        try:
            with db.read() as s:
                stored = select(func.count()).select_from(AlertRow).where(AlertRow.id == body["id"])
                assert s.scalar(stored) == 1
                orders = s.scalar(select(func.count()).select_from(WorkOrder)
                                  .where(WorkOrder.incident_id == receipts[0]["incident_id"]))
                assert orders == 1
        finally:
            db.dispose()


def test_two_events_on_one_camera_through_two_processes_make_one_incident(pair: Pair) -> None:
    """Different alerts for the same camera and kind, one to each process at once: one incident."""
    now = datetime.now(UTC)
    token = pair.edge["edge-02"]
    a = alert("cam-021", "road_blockage", event="twin-a", at=now, node="edge-02")
    b = alert("cam-021", "road_blockage", event="twin-b", at=now, node="edge-02")
    ra, rb = at_once([lambda: post(pair.a.url, token, a), lambda: post(pair.b.url, token, b)])
    assert ra.status_code == 201 and rb.status_code == 201, (ra.text, rb.text)
    assert ra.json()["incident_id"] == rb.json()["incident_id"]
    assert ra.json()["work_order_id"] == rb.json()["work_order_id"] is not None
    db = pair.db()
    try:
        with db.read() as s:
            open_incidents = s.scalar(
                select(func.count()).select_from(Incident)
                .where(Incident.camera_id == "cam-021", Incident.kind == "road_blockage"))
            assert open_incidents == 1
    finally:
        db.dispose()


def test_feed_on_one_process_is_complete_and_in_order_for_writes_through_both(pair: Pair) -> None:
    start = _last_event_id(pair)
    token = pair.edge["edge-03"]
    cams = [f"cam-{n:03d}" for n in range(41, 61)]
    now = datetime.now(UTC)
    bodies = [alert(c, "flooding", event=f"feed-{i}", at=now, node="edge-03") for i, c in enumerate(cams)]
    received: list[dict[str, Any]] = []
    reader_ready = threading.Event()
    hang_up = threading.Event()

    def read_live() -> None:
        # follows process A's feed from before the writes until told to hang up
        headers = {"Authorization": f"Bearer {pair.desk}", "Last-Event-ID": str(start)}
        with httpx.stream("GET", pair.a.url + "/api/v1/feed", headers=headers, timeout=WAIT_S) as r:
            reader_ready.set()
            for line in r.iter_lines():
                if line.startswith("data: "):
                    received.append(json.loads(line[6:]))
                if hang_up.is_set():
                    return

    reader = threading.Thread(target=read_live, daemon=True)
    reader.start()
    assert reader_ready.wait(WAIT_S)
    # writes go to both processes at once, alternating, from several threads
    urls = [pair.a.url, pair.b.url]
    with ThreadPoolExecutor(6) as pool:
        rs = list(pool.map(lambda ib: post(urls[ib[0] % 2], token, ib[1]), enumerate(bodies)))
    assert all(r.status_code == 201 for r in rs), [r.text for r in rs if r.status_code != 201]
    final = _last_event_id(pair)
    wait_for("the feed on A delivers the last event written (through A or B)",
             lambda: any(e["id"] >= final for e in received))
    hang_up.set()

    expected = [i for i in _event_ids_after(pair, start) if i <= final]
    got = [e["id"] for e in received if e["id"] <= final]
    assert got == expected  # all of them, once each, in order
    # every alert's incident was announced on A's feed, whichever process took it
    announced = {e["data"]["id"] for e in received if e["type"].startswith("incident.")}
    assert {r.json()["incident_id"] for r in rs} <= announced

    # resume across processes: read part of the log on A, hang up, continue on B from the last id
    middle = expected[len(expected) // 2]
    first = [e["id"] for e in feed_events(pair.a.url, pair.desk, start, middle)]
    second = [e["id"] for e in feed_events(pair.b.url, pair.desk, first[-1], expected[-1])]
    assert first + second == expected


def test_missed_deadline_is_escalated_once_with_both_watchers_running(pair: Pair, tmp_path: Path) -> None:
    token = pair.edge["edge-01"]
    now = datetime.now(UTC)
    cams = ["cam-010", "cam-019", "cam-020", "cam-005"]
    rs = [post(pair.a.url if i % 2 else pair.b.url, token,
               alert(c, "landslide", event=f"late-{i}", at=now)) for i, c in enumerate(cams)]
    assert all(r.status_code == 201 for r in rs), [r.text for r in rs]
    orders = sorted({r.json()["work_order_id"] for r in rs})
    assert None not in orders
    db = pair.db()
    try:
        # Time passes for these orders: their acknowledge deadline is now behind us. Both processes
        # run their deadline watchers (every 5 s by default) against this one database.
        with db.write() as s:
            s.execute(update(WorkOrder).where(WorkOrder.id.in_(orders))
                      .values(acknowledge_by=datetime.now(UTC) - timedelta(minutes=1))
                      .execution_options(synchronize_session=False))

        def escalated() -> bool:
            with db.read() as s:
                return s.scalar(select(func.count()).select_from(WorkOrder).where(
                    WorkOrder.id.in_(orders), WorkOrder.acknowledge_escalated_at.is_not(None))) == len(orders)

        # More watchers race the two processes' own: passes released at the same moment from
        # threads, each with its own engine, like further hub processes.
        hubs = [build_hub(load_town(SAMPLE_TOWN), HubConfig(db_url=pair.db_url, media_dir=tmp_path))
                for _ in range(4)]
        try:
            barrier = threading.Barrier(len(hubs))

            def race(hub: Hub) -> int:
                barrier.wait()
                return len([b for b in check_deadlines(hub, datetime.now(UTC)) if b.work_order_id in orders])

            with ThreadPoolExecutor(len(hubs)) as pool:
                won = list(pool.map(race, hubs))
        finally:
            for hub in hubs:
                hub.db.dispose()
        assert sum(won) <= len(orders)  # (the processes' watchers may have taken some first)
        wait_for("the late orders are escalated", escalated)
        # the watchers make further passes over the same (already escalated) orders
        _watchers_pass_again(pair, db, token, passes=2)
        with db.read() as s:
            per_order = dict(s.execute(
                select(HistoryRow.work_order_id, func.count()).where(
                    HistoryRow.work_order_id.in_(orders), HistoryRow.action == "supervise")
                .group_by(HistoryRow.work_order_id)).all())
            events = [e.data for e in s.execute(
                select(FeedEvent).where(FeedEvent.type == "work_order.supervised")).scalars()]
        assert per_order == {o: 1 for o in orders}
        announced = [e["id"] for e in events if e["id"] in orders]
        assert sorted(announced) == orders
    finally:
        db.dispose()


def _watchers_pass_again(pair: Pair, db: Database, token: str, passes: int) -> None:
    """Wait until watchers have made ``passes`` more passes, seen by their work: a probe order made
    late, one after the other, escalated each time (a pass sees every order whose deadline is past)."""
    for i, cam in enumerate(("cam-012", "cam-016", "cam-003")[:passes]):
        r = post(pair.a.url, token, alert(cam, "flooding", event=f"probe-{i}", at=datetime.now(UTC)))
        assert r.status_code == 201, r.text
        probe = r.json()["work_order_id"]
        assert probe is not None, r.text
        with db.write() as s:
            s.execute(update(WorkOrder).where(WorkOrder.id == probe)
                      .values(acknowledge_by=datetime.now(UTC) - timedelta(minutes=1))
                      .execution_options(synchronize_session=False))

        def probe_escalated(order: int = probe) -> bool:
            with db.read() as s:
                return s.scalar(select(WorkOrder.acknowledge_escalated_at).where(WorkOrder.id == order)) \
                    is not None

        wait_for(f"a watcher pass escalates probe order {probe}", probe_escalated)
    assert all(p.proc is not None and p.proc.poll() is None for p in (pair.a, pair.b)), "a hub process died"


def _last_event_id(pair: Pair) -> int:
    db = pair.db()
    try:
        with db.read() as s:
            return int(s.scalar(select(func.max(FeedEvent.id))) or 0)
    finally:
        db.dispose()


def _event_ids_after(pair: Pair, start: int) -> list[int]:
    db = pair.db()
    try:
        with db.read() as s:
            return list(s.scalars(select(FeedEvent.id).where(FeedEvent.id > start).order_by(FeedEvent.id)))
    finally:
        db.dispose()


def test_burst_through_both_processes_makes_exactly_the_right_records(pair: Pair) -> None:
    """Every alert of a burst posted to both processes at once (batched by each process's writer):
    each stored once, one incident per camera and kind, one work order per obstruction."""
    from central.routing import neighbours

    town = load_town(SAMPLE_TOWN)
    chosen: list[str] = []  # cameras of edge-02 no two of which group (so the outcome is fixed)
    for cam in town.cameras_of("edge-02"):
        if cam.id != "cam-021" and not any(neighbours(town, cam.id, other) for other in chosen):
            chosen.append(cam.id)
    chosen = chosen[:6]
    assert len(chosen) >= 3
    now = datetime.now(UTC)
    bodies = []
    for cam in chosen:
        bodies += [
            alert(cam, "landslide", event=f"burst-{cam}-1", at=now, node="edge-02", snapshot=jpeg()),
            alert(cam, "landslide", event=f"burst-{cam}-2", at=now, node="edge-02"),
            alert(cam, "camera_blurred", event=f"burst-{cam}-f", at=now, node="edge-02"),
        ]
    token = pair.edge["edge-02"]
    sends = [(url, body) for body in bodies for url in (pair.a.url, pair.b.url)]
    with ThreadPoolExecutor(16) as pool:
        answers = list(pool.map(lambda s: post(s[0], token, s[1]), sends))
    assert all(r.status_code in (200, 201) for r in answers), [r.text for r in answers if r.status_code > 201]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for (_, body), r in zip(sends, answers, strict=True):
        by_id.setdefault(body["id"], []).append(r.json())
    for copies in by_id.values():
        assert sorted(c["duplicate"] for c in copies) == [False, True]
        assert copies[0]["incident_id"] == copies[1]["incident_id"]
        assert copies[0]["work_order_id"] == copies[1]["work_order_id"]
    per_key: dict[tuple[str, str], set[tuple[int, int | None]]] = {}
    for body in bodies:
        r = by_id[body["id"]][0]
        key = (body["camera_id"], body["kind"])
        per_key.setdefault(key, set()).add((r["incident_id"], r["work_order_id"]))
    assert all(len(v) == 1 for v in per_key.values())
    for (_, kind), ((_, order),) in ((k, tuple(v)) for k, v in per_key.items()):
        assert (order is None) == (kind == "camera_blurred")
    db = pair.db()
    try:
        with db.read() as s:
            counts = [
                s.scalar(select(func.count()).select_from(table).where(table.camera_id.in_(chosen)))
                for table in (AlertRow, Incident, WorkOrder)
            ]
    finally:
        db.dispose()
    assert counts == [len(bodies), 2 * len(chosen), len(chosen)]
