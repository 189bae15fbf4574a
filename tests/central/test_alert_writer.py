"""The batching alert writer: one transaction per batch, each alert still answered on its own.

Every test runs on SQLite and on a real PostgreSQL (the ``hub`` fixture's ``db_url``).
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import func, select, text

from central.alert_writer import AlertWriter
from central.auth import Principal
from central.db import Database, IntakeTurn
from central.intake import Checked, IntakeError, check, store_batch
from central.routing import neighbours
from central.tables import AlertRow, FeedEvent, HistoryRow, Incident, WorkOrder
from gridwatch.config import HubSettings
from gridwatch.wire import Alert, AlertReceipt
from tests.central.conftest import T0, HubUnderTest, alert, jpeg, make_hub


def _checked(h: HubUnderTest, body: dict[str, Any]) -> Checked:
    node = body["node_id"]
    parsed = Alert.model_validate_json(json.dumps(body))  # as the wire brings it (JSON escapes too)
    return check(h.hub, parsed, Principal(role="edge", name=node, node_id=node))


def _counts(h: HubUnderTest) -> tuple[int, int, int]:
    with h.hub.db.read() as s:
        return (
            s.execute(select(func.count()).select_from(AlertRow)).scalar_one(),
            s.execute(select(func.count()).select_from(Incident)).scalar_one(),
            s.execute(select(func.count()).select_from(WorkOrder)).scalar_one(),
        )


def _jobs(items: list[Checked]) -> list[tuple[Checked, Future[AlertReceipt]]]:
    jobs: list[tuple[Checked, Future[AlertReceipt]]] = []
    for item in items:
        fut: Future[AlertReceipt] = Future()
        assert fut.set_running_or_notify_cancel()
        jobs.append((item, fut))
    return jobs


def _neighbour_pair(town: Any) -> tuple[str, str]:
    cams = town.cameras_of("edge-01")
    return next((a.id, b.id) for a in cams for b in cams if a.id < b.id and neighbours(town, a.id, b.id))


def test_one_batch_of_new_duplicate_and_conflicting_alerts(hub: HubUnderTest) -> None:
    hub.clock.advance(minutes=10)
    town = hub.hub.town
    near_a, near_b = _neighbour_pair(town)
    far = next(c.id for c in town.cameras_of("edge-01") if c.road != town.camera(near_a).road)
    stored_before = hub.post_alert(alert(far, event="old", snapshot=jpeg())).json()
    bodies = [
        alert(far, event="old", snapshot=jpeg()),  # stored before: a duplicate
        alert(near_a, event="a1", snapshot=jpeg()),  # opens an incident and an order
        alert(near_a, event="a1", snapshot=jpeg()),  # the same alert again within the batch
        alert(near_a, event="a2", at=T0 + timedelta(minutes=1)),  # another event, same camera+kind
        alert(near_b, event="b1", at=T0 + timedelta(minutes=2)),  # neighbour on the road: grouped
        alert(near_a, kind="camera_blurred", event="f1"),  # a fault: incident, no order
        alert(near_a, phase="update", seq=2, event="a1", score=0.95, snapshot=jpeg(colour=(9, 9, 9))),
    ]
    receipts = store_batch(hub.hub, [_checked(hub, b) for b in bodies])

    assert [r.alert_id for r in receipts] == [b["id"] for b in bodies]
    assert [r.duplicate for r in receipts] == [True, False, True, False, False, False, False]
    assert (receipts[0].incident_id, receipts[0].work_order_id) == (
        stored_before["incident_id"],
        stored_before["work_order_id"],
    )
    first = receipts[1]
    assert first.work_order_id is not None
    for r in (receipts[2], receipts[3], receipts[4], receipts[6]):
        assert (r.incident_id, r.work_order_id) == (first.incident_id, first.work_order_id)
    assert receipts[5].incident_id != first.incident_id and receipts[5].work_order_id is None
    # 1 + 5 new alert rows, 2 + 1 incidents, 1 + 1 work orders
    assert _counts(hub) == (6, 3, 2)
    with hub.hub.db.read() as s:
        inc = s.get_one(Incident, first.incident_id)
        assert inc.alert_count == 4 and inc.best_score == 0.95
        assert sorted(inc.cameras) == sorted([near_a, near_b])
        rows = {r.id: r for r in s.execute(select(AlertRow)).scalars()}
        created = s.execute(
            select(func.count()).select_from(FeedEvent).where(FeedEvent.type == "incident.created")
        ).scalar_one()
    assert created == 3
    for body, receipt in zip(bodies, receipts, strict=True):
        row = rows[body["id"]]
        assert (row.incident_id, row.work_order_id) == (receipt.incident_id, receipt.work_order_id)
    # every stored snapshot exists; no file for a duplicate copy
    snaps = {r.snapshot for r in rows.values() if r.snapshot}
    assert snaps == {p.name for p in hub.hub.config.media_dir.glob("*.jpg")}
    assert len(snaps) == 3  # "old", a1's onset, a1's update
    assert inc.snapshot == rows[bodies[6]["id"]].snapshot  # the best score's picture


def test_every_column_of_a_stored_alert_reads_back_as_sent(hub: HubUnderTest) -> None:
    """The alert rows go in as one multi-row INSERT on SQLite and as one JSON parameter on
    PostgreSQL: either way each column reads back as the alert had it (times in UTC to the
    microsecond, floats exactly, JSON values, text with quotes, backslashes and non-ASCII, NULLs)."""
    hub.clock.advance(minutes=10)
    odd = (T0 + timedelta(minutes=5, microseconds=123456)).astimezone(timezone(timedelta(hours=8)))
    bodies = [
        alert("cam-001", event="full", at=odd, seq=2**53 - 1, score=0.1 + 0.2, video_time_s=12.000001,
              region='路口 "north"\\', details={"width_share": 1e-7, "n": 3, "why": "a'b\"c", "ok": True,
                                                   "none": None}),
        alert("cam-002", event="bare", bbox=None, region=None, details={}),
    ]
    checked = [_checked(hub, b) for b in bodies]
    store_batch(hub.hub, checked)
    with hub.hub.db.read() as s:
        rows = {r.id: r for r in s.execute(select(AlertRow)).scalars()}
    for item in checked:
        a, row = item.alert, rows[item.alert.id]
        assert (row.event_id, row.node_id, row.camera_id, row.kind, row.phase, row.seq) == (
            a.event_id, a.node_id, a.camera_id, a.kind.value, a.phase.value, a.seq)
        assert row.raised_at == a.raised_at and row.started_at == a.started_at
        assert row.raised_at.utcoffset() == timedelta(0)
        assert row.received_at == hub.clock.now
        assert (row.video_time_s, row.score, row.region) == (a.video_time_s, a.score, a.region)
        assert row.bbox == (list(a.bbox) if a.bbox else None)
        assert row.details == a.details
    assert rows[checked[0].alert.id].raised_at == odd


def test_clear_and_late_update_in_one_batch(hub: HubUnderTest) -> None:
    """The steps of one event in one batch end as they do one by one: the late update after the
    clear stays with the cleared incident instead of opening a second one."""
    hub.clock.advance(minutes=10)
    steps = [
        alert(seq=1),
        alert(phase="clear", seq=3, at=T0 + timedelta(minutes=5)),
        alert(phase="update", seq=2, at=T0 + timedelta(minutes=3)),
        alert(event="ev-next", at=T0 + timedelta(minutes=6)),  # a new event: a new incident
    ]
    receipts = store_batch(hub.hub, [_checked(hub, b) for b in steps])
    assert len({r.incident_id for r in receipts[:3]}) == 1
    assert receipts[2].work_order_id == receipts[0].work_order_id is not None
    assert receipts[3].incident_id != receipts[0].incident_id
    assert receipts[3].work_order_id not in (None, receipts[0].work_order_id)
    with hub.hub.db.read() as s:
        inc = s.get_one(Incident, receipts[0].incident_id)
        assert inc.state == "cleared" and inc.alert_count == 3
    assert _counts(hub) == (4, 2, 2)


def test_grouping_in_a_batch_sees_stored_incidents_as_one_by_one_would(hub: HubUnderTest) -> None:
    """A batch reads stored grouping candidates as plain columns, within the window only. An incident
    last seen before the window is no candidate, unless an earlier alert of the same batch merged into
    it (then it was seen just now), exactly as when the alerts come one at a time."""
    near_a, near_b = _neighbour_pair(hub.hub.town)
    later = T0 + timedelta(minutes=30)  # the sample town groups within 10 minutes
    slide = hub.post_alert(alert(near_a, event="s1")).json()
    block = hub.post_alert(alert(near_a, kind="road_blockage", event="k1")).json()
    hub.clock.advance(minutes=30)
    lone, refreshed, joined = store_batch(hub.hub, [
        _checked(hub, alert(near_b, event="s2", at=later)),  # landslide seen 30 min ago: too old
        _checked(hub, alert(near_a, kind="road_blockage", phase="update", seq=2, event="k1", at=later)),
        _checked(hub, alert(near_b, kind="road_blockage", event="k2", at=later)),
    ])
    assert lone.incident_id != slide["incident_id"] and lone.work_order_id is not None
    assert refreshed.incident_id == joined.incident_id == block["incident_id"]
    assert joined.work_order_id == block["work_order_id"]
    with hub.hub.db.read() as s:
        assert sorted(s.get_one(Incident, block["incident_id"]).cameras) == sorted([near_a, near_b])
        assert s.get_one(Incident, slide["incident_id"]).cameras == [near_a]


def test_a_batch_of_updates_asks_one_query_for_its_incidents(hub: HubUnderTest) -> None:
    """Alerts merging into open incidents: the batch reads the open keys, their incidents and orders
    in one query, and on PostgreSQL its NOTIFY goes with the lock (each statement is a round trip,
    and on PostgreSQL the writer waits for every one)."""
    from sqlalchemy import event

    town = hub.hub.town
    cams = [c for c in town.cameras if c.enabled][:6]
    opened = store_batch(hub.hub, [_checked(hub, alert(c.id, node=c.node, event=f"e-{c.id}")) for c in cams])
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()[:4]).lower())

    updates = [alert(c.id, node=c.node, phase="update", seq=2, event=f"e-{c.id}") for c in cams]
    event.listen(hub.hub.db.engine, "before_cursor_execute", seen)
    try:
        merged = store_batch(hub.hub, [_checked(hub, body) for body in updates])
    finally:
        event.remove(hub.hub.db.engine, "before_cursor_execute", seen)
    assert [(r.incident_id, r.work_order_id, r.duplicate) for r in merged] == [
        (r.incident_id, r.work_order_id, False) for r in opened
    ]
    reads = [st for st in statements if st.startswith("select") and "nextval" not in st and "max(" not in st
             and "pg_advisory" not in st]
    assert len(reads) == 1 and reads[0].startswith("select open_keys."), statements
    if hub.hub.db.is_postgres:
        assert statements[0].startswith("select pg_advisory_xact_lock(%(k)s), pg_notify("), statements
        assert len([st for st in statements if "pg_notify" in st]) == 1, statements
    with hub.hub.db.read() as s:  # (neighbours' alerts may share a grouped incident)
        assert sum(s.get_one(Incident, i).alert_count for i in {r.incident_id for r in merged}) == 12


def test_alerts_joining_stored_neighbours_incidents_cost_no_query_each(hub: HubUnderTest) -> None:
    """A batch loads the stored grouping candidates that neighbour its cameras whole, with their work
    orders, in its preload: alerts that join them ask the database nothing more each (one look-up
    of the incident and one of its order per joining alert made a burst's transactions dearer)."""
    from sqlalchemy import event

    town = hub.hub.town
    hub.clock.advance(minutes=10)
    pairs: dict[str, tuple[str, str]] = {}
    for a in town.cameras:
        for b in town.cameras:
            if a.road and a.road not in pairs and a.id < b.id and neighbours(town, a.id, b.id):
                pairs[a.road] = (a.id, b.id)
    assert len(pairs) >= 4
    pairs = dict(sorted(pairs.items())[:4])
    def blockage(cam: str, event_id: str) -> dict[str, Any]:
        return alert(cam, node=town.camera(cam).node, kind="road_blockage", event=event_id)

    first = [blockage(a, f"s-{a}") for a, _ in pairs.values()]
    stored = dict(zip(pairs, store_batch(hub.hub, [_checked(hub, body) for body in first]), strict=True))
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()[:3]).lower())

    bodies = [blockage(b, f"j-{b}") for _, b in pairs.values()]
    event.listen(hub.hub.db.engine, "before_cursor_execute", seen)
    try:
        receipts = store_batch(hub.hub, [_checked(hub, body) for body in bodies])
    finally:
        event.remove(hub.hub.db.engine, "before_cursor_execute", seen)
    for road, r in zip(pairs, receipts, strict=True):
        assert (r.incident_id, r.work_order_id) == (stored[road].incident_id, stored[road].work_order_id)
    reads = [st for st in statements if st.startswith(("select incidents.", "select work_orders."))]
    # the grouping candidates' columns, the joinable ones whole, their orders: three, not 2 per alert
    assert len(reads) == 3, statements
    with hub.hub.db.read() as s:
        for road, (a, b) in pairs.items():
            assert sorted(s.get_one(Incident, stored[road].incident_id).cameras) == sorted([a, b])


def test_a_batch_writes_its_new_incidents_and_orders_with_one_insert_per_table(hub: HubUnderTest) -> None:
    """New incidents get their ids without a round trip each: the batch's incidents, orders and their
    history rows each go in with one INSERT (what makes bursts of new events affordable), with ids
    that carry on from the stored rows, and every feed event still in alert order."""
    from sqlalchemy import event

    hub.clock.advance(minutes=10)
    town = hub.hub.town
    first = hub.post_alert(alert("cam-001", event="before")).json()  # rows stored before the batch
    roads = {town.camera("cam-001").road: "cam-001"}
    for c in town.cameras:  # one camera per road: no grouping, every alert opens its own incident
        roads.setdefault(c.road, c.id)
    cams = [c for c in roads.values() if c != "cam-001"][:12]
    assert len(cams) == 12
    bodies = [alert(c, node=town.camera(c).node, event=f"new-{c}") for c in cams]
    statements: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        statements.append(" ".join(statement.split()[:3]).lower())

    engine = hub.hub.db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        receipts = store_batch(hub.hub, [_checked(hub, b) for b in bodies])
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert statements.count("insert into incidents") == 1, statements
    assert statements.count("insert into work_orders") == 1, statements
    assert statements.count("insert into work_order_history") == 1, statements
    assert statements.count("insert into feed_events") == 1, statements
    if hub.hub.db.is_sqlite:  # incidents' and orders' next ids read together
        assert len([st for st in statements if "max(" in st]) == 1, statements
    else:  # an incident's id and its order's in one round trip (feed and history rows need none)
        assert len([st for st in statements if "nextval" in st]) == 12, statements
    incidents = sorted({r.incident_id for r in receipts})
    orders = sorted(r.work_order_id for r in receipts if r.work_order_id is not None)
    assert incidents[0] > first["incident_id"] and orders[0] > first["work_order_id"]
    assert len(incidents) == len(orders) == len(set(orders)) == 12
    # numbers people read have no gaps (a work order's number is taken only for an order made)
    assert incidents == list(range(first["incident_id"] + 1, first["incident_id"] + 13))
    assert orders == list(range(first["work_order_id"] + 1, first["work_order_id"] + 13))
    with hub.hub.db.read() as s:
        for r in receipts:
            inc = s.get_one(Incident, r.incident_id)
            assert inc.state == "open" and inc.alert_count >= 1
            if r.work_order_id is not None:
                wo = s.get_one(WorkOrder, r.work_order_id)
                assert wo.incident_id == r.incident_id
                hist = s.execute(select(HistoryRow).where(HistoryRow.work_order_id == wo.id)).scalars().all()
                assert [h.action for h in hist] == ["create"]
        created = [
            e.data["id"]
            for e in s.execute(
                select(FeedEvent).where(FeedEvent.type == "incident.created").order_by(FeedEvent.id)
            ).scalars()
        ]
    assert created[1:] == list(dict.fromkeys(r.incident_id for r in receipts))
    # a work order made the ordinary way (an Open311 report: the ORM, the id from the sequence's
    # default) takes the next number, and the next batch carries on after it
    chexi = next(v for v in town.villages if v.id == "v-chexi")
    form = {"api_key": hub.tokens["grid_worker"], "service_code": "landslide",
            "lat": str(chexi.lat), "long": str(chexi.lon), "description": "rocks on the road"}
    assert hub.client.post("/open311/v2/requests.json", data=form).status_code == 200
    with hub.hub.db.read() as s:
        assert s.execute(select(func.max(WorkOrder.id))).scalar_one() == orders[-1] + 1
    flood = alert(cams[1], "flooding", node=town.camera(cams[1]).node, event="flood")  # a new incident
    fresh = store_batch(hub.hub, [_checked(hub, flood)])
    assert fresh[0].incident_id == incidents[-1] + 1 and fresh[0].work_order_id == orders[-1] + 2


def _refuse_alerts_of(h: HubUnderTest, camera_id: str) -> None:
    """Make the database itself refuse alert rows of one camera (a trigger), the way it refuses a
    value it cannot store."""
    with h.hub.db.write() as s:
        if h.hub.db.is_postgres:
            s.execute(
                text(
                    "CREATE FUNCTION refuse_alert() RETURNS trigger LANGUAGE plpgsql AS "
                    "$$ BEGIN RAISE EXCEPTION 'refused by the database'; END $$"
                )
            )
            s.execute(
                text(
                    "CREATE TRIGGER refuse BEFORE INSERT ON alerts FOR EACH ROW "
                    f"WHEN (NEW.camera_id = '{camera_id}') EXECUTE FUNCTION refuse_alert()"
                )
            )
        else:
            s.execute(
                text(
                    f"CREATE TRIGGER refuse BEFORE INSERT ON alerts WHEN NEW.camera_id = '{camera_id}' "
                    "BEGIN SELECT RAISE(ABORT, 'refused by the database'); END"
                )
            )


def test_a_failing_batch_falls_back_to_one_by_one(ungrouped: HubUnderTest) -> None:
    """An alert the database refuses fails alone: the others of its batch are stored and answered,
    and the refused one leaves no file behind."""
    hub = ungrouped
    hub.clock.advance(minutes=10)
    _refuse_alerts_of(hub, "cam-004")
    good = [alert(f"cam-00{n}", event=f"g{n}", snapshot=jpeg()) for n in (1, 2, 3)]
    bad = alert("cam-004", event="bad", snapshot=jpeg())
    items = [_checked(hub, b) for b in (good[0], bad, good[1], good[2])]
    with pytest.raises(Exception, match="refused by the database"):
        store_batch(hub.hub, items)  # the batch as one transaction fails, and stores nothing
    assert _counts(hub) == (0, 0, 0)
    writer = AlertWriter(hub.hub)
    jobs = _jobs(items)
    writer.write(jobs)
    results = [fut.exception() or fut.result() for _, fut in jobs]
    # its own error: the database's (PostgreSQL), or "retry" after the retries of an integrity
    # error (SQLite's RAISE(ABORT) counts as a constraint)
    assert isinstance(results[1], Exception) and not isinstance(results[1], AlertReceipt)
    ok = [r for r in results if isinstance(r, AlertReceipt)]
    assert [r.alert_id for r in ok] == [b["id"] for b in good]
    assert all(not r.duplicate and r.work_order_id is not None for r in ok)
    assert _counts(hub) == (3, 3, 3)
    with hub.hub.db.read() as s:
        snaps = set(s.execute(select(AlertRow.snapshot)).scalars())
    assert snaps == {p.name for p in hub.hub.config.media_dir.iterdir()}  # no orphan of the bad one


def test_files_that_cannot_be_written_store_nothing_and_leave_no_file(ungrouped: HubUnderTest) -> None:
    """The files are written on the writer's disk thread while the transaction runs: a write that
    fails there (a full disk) fails the batch before its commit, and no file of it stays behind."""
    hub = ungrouped
    hub.clock.advance(minutes=10)
    media = hub.hub.media
    real_write = media.write
    written: list[str] = []

    def write(name: str, data: bytes) -> None:
        if len(written) == 1:
            raise OSError(28, "No space left on device")
        real_write(name, data)
        written.append(name)

    media.write = write  # type: ignore[method-assign]
    items = [_checked(hub, alert(f"cam-00{n}", event=f"d{n}", snapshot=jpeg())) for n in (1, 2, 3)]
    with ThreadPoolExecutor(max_workers=1) as disk, pytest.raises(OSError, match="No space left"):
        store_batch(hub.hub, items, disk)
    assert written and _counts(hub) == (0, 0, 0)
    assert not list(hub.hub.config.media_dir.glob("*"))  # the one written before the failure is gone
    media.write = real_write  # type: ignore[method-assign]
    with ThreadPoolExecutor(max_workers=1) as disk:
        receipts = store_batch(hub.hub, items, disk)
    assert [r.duplicate for r in receipts] == [False] * 3 and _counts(hub) == (3, 3, 3)
    with hub.hub.db.read() as s:
        snaps = set(s.execute(select(AlertRow.snapshot)).scalars())
    assert snaps == {p.name for p in hub.hub.config.media_dir.iterdir()}


def test_stop_stores_every_queued_alert(ungrouped: HubUnderTest) -> None:
    """stop() returns only after everything queued is stored and answered; afterwards new alerts
    are refused with 503 (retry), never dropped silently."""
    hub = ungrouped
    hub.clock.advance(minutes=10)
    writer = AlertWriter(hub.hub, max_batch=4)
    writer.start()
    blocker = Database(hub.db_url)
    release = threading.Event()
    holding = threading.Event()

    def hold_the_write_lock() -> None:
        # another writer's transaction: SQLite's write lock, PostgreSQL's feed lock
        with blocker.write() as s:
            s.execute(text("SELECT 1"))
            holding.set()
            release.wait(60)

    holder = threading.Thread(target=hold_the_write_lock)
    holder.start()
    assert holding.wait(60)
    try:
        bodies = [alert(f"cam-0{10 + n}", event=f"q{n}", snapshot=jpeg()) for n in range(10)]
        futures = [writer.submit(_checked(hub, b)) for b in bodies]
        stopper = threading.Thread(target=writer.stop)
        stopper.start()
        with pytest.raises(IntakeError) as refused:
            writer.submit(_checked(hub, alert("cam-020", event="late")))
        assert refused.value.status == 503
    finally:
        release.set()
        holder.join()
        blocker.dispose()
    stopper.join(120)
    assert not stopper.is_alive()
    receipts = [f.result(timeout=0) for f in futures]
    assert [r.alert_id for r in receipts] == [b["id"] for b in bodies]
    assert not any(r.duplicate for r in receipts)
    assert _counts(hub) == (10, 10, 10)


def test_alerts_that_wait_for_another_writers_turn_go_in_as_one_batch(ungrouped: HubUnderTest) -> None:
    """Several hub processes' alert writers take turns. A writer takes its batch from the queue only
    once it has the turn, so every alert that came in while another process wrote goes into the next
    transaction (taking it before waiting made a batch of the first alert alone, and the rest waited
    for a second turn: more transactions, each with its fixed cost)."""
    from sqlalchemy import event

    hub = ungrouped
    hub.clock.advance(minutes=10)
    writer = AlertWriter(hub.hub)
    other = Database(hub.db_url)  # another process's writer
    release, holding = threading.Event(), threading.Event()
    inserts: list[str] = []

    def seen(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if statement.lower().startswith("insert into alerts"):
            inserts.append(statement)

    def other_process_writes() -> None:
        turn = IntakeTurn(other)
        try:
            with turn.hold(), other.write() as s:
                s.execute(text("SELECT 1"))
                holding.set()
                release.wait(60)
        finally:
            turn.close()

    holder = threading.Thread(target=other_process_writes)
    holder.start()
    event.listen(hub.hub.db.engine, "before_cursor_execute", seen)
    writer.start()
    try:
        assert holding.wait(60)
        bodies = [alert(f"cam-0{10 + n}", event=f"t{n}") for n in range(6)]
        futures = [writer.submit(_checked(hub, b)) for b in bodies]
        deadline = time.monotonic() + 30
        while writer.queued < len(bodies) and time.monotonic() < deadline:
            time.sleep(0.01)
        assert writer.queued == len(bodies)  # none taken while the other process writes
    finally:
        release.set()
        holder.join()
        other.dispose()
    receipts = [f.result(timeout=60) for f in futures]
    writer.stop()  # (the writer's queue is empty: it returns at once)
    event.remove(hub.hub.db.engine, "before_cursor_execute", seen)
    assert [r.alert_id for r in receipts] == [b["id"] for b in bodies]
    assert len(inserts) == 1  # one transaction for all six


@pytest.fixture()
def ungrouped(town: Any, db_url: str, tmp_path: Any, clock: Any) -> Any:
    """A hub whose town does not group neighbours, so the expected incidents do not depend on the
    order in which concurrent alerts happen to be stored."""
    flat = town.model_copy(update={"hub": HubSettings(incident_group_window_s=0)})
    yield from make_hub(flat, db_url, tmp_path, clock)


def test_burst_of_concurrent_posts_makes_exactly_the_right_records(ungrouped: HubUnderTest) -> None:
    h = ungrouped
    h.clock.advance(minutes=30)
    town = h.hub.town
    cams = [(c.id, node) for node in ("edge-01", "edge-02") for c in town.cameras_of(node)[:8]]
    bodies = []
    for n, (cam, node) in enumerate(cams):
        at = T0 + timedelta(seconds=n)
        bodies += [
            alert(cam, node=node, event=f"e-{cam}", at=at, snapshot=jpeg()),
            alert(cam, node=node, event=f"e-{cam}", phase="update", seq=2, at=at, score=0.9),
            alert(cam, node=node, event=f"f-{cam}", at=at),  # a second event: same incident
            alert(cam, "flooding", node=node, event=f"w-{cam}", at=at),
            alert(cam, "camera_blurred", node=node, event=f"b-{cam}", at=at),
        ]
    sends = bodies + bodies[::7]  # some resends, racing their first copies
    with ThreadPoolExecutor(max_workers=24) as pool:
        answers = list(pool.map(h.post_alert, sends))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers if a.status_code > 201]
    by_id: dict[str, list[dict[str, Any]]] = {}
    for body, a in zip(sends, answers, strict=True):
        by_id.setdefault(body["id"], []).append(a.json())
    for copies in by_id.values():
        assert sorted(c["duplicate"] for c in copies) == [False] + [True] * (len(copies) - 1)
        assert len({(c["incident_id"], c["work_order_id"]) for c in copies}) == 1
    incident_of: dict[tuple[str, str], set[int]] = {}
    order_of: dict[tuple[str, str], set[int | None]] = {}
    for body in bodies:
        r = by_id[body["id"]][0]
        incident_of.setdefault((body["camera_id"], body["kind"]), set()).add(r["incident_id"])
        order_of.setdefault((body["camera_id"], body["kind"]), set()).add(r["work_order_id"])
    assert all(len(v) == 1 for v in incident_of.values())  # one incident per camera and kind
    assert len({next(iter(v)) for v in incident_of.values()}) == 3 * len(cams)  # all different
    for (_, kind), orders in order_of.items():
        (order,) = orders
        assert (order is None) == (kind == "camera_blurred")
    assert _counts(h) == (len(bodies), 3 * len(cams), 2 * len(cams))
    with h.hub.db.read() as s:
        types = Counter(s.execute(select(FeedEvent.type)).scalars())
        history = s.execute(select(func.count()).select_from(HistoryRow)).scalar_one()
        per_kind = select(Incident.kind, func.sum(Incident.alert_count)).group_by(Incident.kind)
        counts = dict(s.execute(per_kind).all())
    assert types["incident.created"] == 3 * len(cams) and types["work_order.created"] == 2 * len(cams)
    assert history == 2 * len(cams)
    assert counts == {"landslide": 3 * len(cams), "flooding": len(cams), "camera_blurred": len(cams)}
    assert len(list(h.hub.config.media_dir.glob("*.jpg"))) == len(cams)
