"""Deadline escalation with an injected clock: missed deadlines escalate to the duty lead once, even
with two hub instances watching one database."""

from __future__ import annotations

from datetime import timedelta

from central.app import create_app
from central.deadlines import DeadlineWatcher, breaches, check_deadlines
from central.models import WorkOrder
from central.settings import HubConfig
from tests.central.conftest import T0, alert


def _wo(**kw) -> WorkOrder:
    base = dict(
        id=1,
        state="new",
        acknowledge_by=T0 + timedelta(minutes=5),
        arrive_by=T0 + timedelta(minutes=30),
        close_by=T0 + timedelta(hours=4),
        acknowledged_at=None,
        arrived_at=None,
        closed_at=None,
        acknowledge_escalated_at=None,
        arrive_escalated_at=None,
        close_escalated_at=None,
    )
    return WorkOrder(**(base | kw))


def test_breaches_is_pure_and_exact() -> None:
    assert breaches([_wo()], T0 + timedelta(minutes=5)) == []
    assert [b.deadline for b in breaches([_wo()], T0 + timedelta(minutes=6))] == ["acknowledge"]
    late = T0 + timedelta(hours=5)
    assert [b.deadline for b in breaches([_wo()], late)] == ["acknowledge", "arrive", "close"]
    assert breaches([_wo(state="closed")], late) == []
    assert breaches([_wo(state="rejected")], late) == []
    done = _wo(state="on_site", acknowledged_at=T0, arrived_at=T0)
    assert [b.deadline for b in breaches([done], late)] == ["close"]
    assert (
        breaches(
            [_wo(close_escalated_at=late, acknowledge_escalated_at=late, arrive_escalated_at=late)], late
        )
        == []
    )


def _feed(hub, after: int = 0) -> list[dict]:
    import json

    r = hub.client.get(f"/api/v1/feed?follow=false&last_event_id={after}", headers=hub.auth("dispatcher"))
    return [json.loads(line[6:]) for line in r.text.splitlines() if line.startswith("data: ")]


def test_missed_deadline_escalates_once(hub) -> None:
    oid = hub.post_alert(alert()).json()["work_order_id"]
    h = hub.hub
    assert check_deadlines(h, hub.clock.now) == []
    hub.clock.advance(minutes=6)
    first = check_deadlines(h, hub.clock.now)
    assert [(b.work_order_id, b.deadline) for b in first] == [(oid, "acknowledge")]
    assert check_deadlines(h, hub.clock.now) == []
    hub.clock.advance(minutes=1)
    assert check_deadlines(h, hub.clock.now) == []
    wo = hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth("dispatcher")).json()
    assert wo["escalated"] is True and wo["escalations"]["acknowledge"] is not None
    esc = [x for x in wo["history"] if x["action"] == "escalate"]
    assert len(esc) == 1 and esc[0]["details"]["to"] == "duty-lead" and esc[0]["role"] == "system"
    events = [e for e in _feed(hub) if e["type"] == "work_order.escalated"]
    assert (
        len(events) == 1 and events[0]["data"]["id"] == oid and events[0]["data"]["deadline"] == "acknowledge"
    )
    # acknowledging late does not undo the record; the arrive deadline escalates separately, once
    assert hub.act(oid, "dispatcher", "acknowledge").status_code == 200
    hub.clock.advance(minutes=30)
    assert [b.deadline for b in check_deadlines(h, hub.clock.now)] == ["arrive"]
    assert check_deadlines(h, hub.clock.now) == []
    assert 'gridwatch_deadline_breaches{deadline="arrive"} 1.0' in hub.client.get("/metrics").text


def test_two_hubs_on_one_database_escalate_once(hub, town, tmp_path) -> None:
    for i in range(3):
        hub.post_alert(alert(camera=f"cam-00{i + 3}", kind="flooding", event=f"ev-{i}"))
    other = create_app(
        town, HubConfig(db_url=hub.db_url, media_dir=tmp_path / "m2", watch_interval_s=0), clock=hub.clock
    )
    hub.clock.advance(minutes=20)
    from concurrent.futures import ThreadPoolExecutor

    hubs = [hub.hub, other.state.hub] * 3
    with ThreadPoolExecutor(max_workers=len(hubs)) as pool:
        results = list(pool.map(lambda h: check_deadlines(h, hub.clock.now), hubs))
    won = [(b.work_order_id, b.deadline) for r in results for b in r]
    assert len(won) == len(set(won)) == 3
    assert len([e for e in _feed(hub) if e["type"] == "work_order.escalated"]) == 3
    other.state.hub.db.dispose()


def test_watcher_runs_with_injected_clock_and_stops(hub) -> None:
    hub.post_alert(alert())
    hub.clock.advance(minutes=6)
    w = DeadlineWatcher(hub.hub, interval_s=3600)
    w.start()
    try:
        assert [b.deadline for b in w.run_once()] == ["acknowledge"]
    finally:
        w.stop()
    assert w._thread is None
