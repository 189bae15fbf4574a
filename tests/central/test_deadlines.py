"""Supervision with an injected clock: each missed stage deadline is noticed once (the first of an
order to its department's lead, repeated ones to the duty lead), even with two hub instances watching
one database."""

from __future__ import annotations

from datetime import timedelta

from central.app import create_app
from central.deadlines import DeadlineWatcher, breaches, check_deadlines
from central.settings import HubConfig
from central.tables import WorkOrder
from tests.central.conftest import T0, alert, b64, jpeg


def _wo(**kw) -> WorkOrder:
    base = dict(
        id=1,
        state="new",
        acknowledge_by=T0 + timedelta(minutes=5),
        arrive_by=T0 + timedelta(minutes=30),
        feedback_by=T0 + timedelta(hours=3),
        close_by=T0 + timedelta(hours=4),
        accept_by=None,
        verify_by=None,
        acknowledged_at=None,
        arrived_at=None,
        closed_at=None,
        acknowledge_escalated_at=None,
        arrive_escalated_at=None,
        close_escalated_at=None,
        accept_escalated_at=None,
        feedback_escalated_at=None,
        verify_escalated_at=None,
    )
    return WorkOrder(**(base | kw))


def test_breaches_is_pure_and_exact() -> None:
    assert breaches([_wo()], T0 + timedelta(minutes=5)) == []
    assert [b.deadline for b in breaches([_wo()], T0 + timedelta(minutes=6))] == ["acknowledge"]
    late = T0 + timedelta(hours=5)
    assert [b.deadline for b in breaches([_wo()], late)] == ["acknowledge", "arrive", "feedback", "close"]
    assert breaches([_wo(state="closed")], late) == []
    assert breaches([_wo(state="rejected")], late) == []
    done = _wo(state="on_site", acknowledged_at=T0, arrived_at=T0)
    assert [b.deadline for b in breaches([done], late)] == ["feedback", "close"]
    waiting = _wo(state="dispatched", accept_by=T0 + timedelta(minutes=10))
    assert [b.deadline for b in breaches([waiting], T0 + timedelta(minutes=11))] == ["accept"]
    fed = _wo(state="fed_back", verify_by=T0 + timedelta(minutes=40))
    assert [b.deadline for b in breaches([fed], T0 + timedelta(minutes=41))] == ["verify"]
    noticed = {f"{d}_escalated_at": late for d in ("acknowledge", "arrive", "feedback", "close")}
    assert breaches([_wo(**noticed)], late) == []


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
    assert wo["supervision_misses"] == 1
    esc = [x for x in wo["history"] if x["action"] == "supervise"]
    assert len(esc) == 1 and esc[0]["role"] == "system"
    assert esc[0]["details"] | {"due": None} == {
        "stage": "acknowledge",
        "deadline": "acknowledge",
        "level": "department_lead",
        "misses": 1,
        "to": "natural-resources",
        "due": None,
    }
    events = [e for e in _feed(hub) if e["type"] == "work_order.supervised"]
    assert len(events) == 1
    assert {k: events[0]["data"][k] for k in ("id", "stage", "level", "misses")} == {
        "id": oid,
        "stage": "acknowledge",
        "level": "department_lead",
        "misses": 1,
    }
    assert not [e for e in _feed(hub) if e["type"] == "work_order.escalated"]
    # acknowledging late does not undo the record; the arrive deadline is a second miss: the duty lead
    assert hub.act(oid, "dispatcher", "acknowledge").status_code == 200
    hub.clock.advance(minutes=30)
    assert [b.deadline for b in check_deadlines(h, hub.clock.now)] == ["arrive"]
    assert check_deadlines(h, hub.clock.now) == []
    events = [e["data"] for e in _feed(hub) if e["type"] == "work_order.supervised"]
    assert [(e["stage"], e["level"], e["misses"]) for e in events] == [
        ("acknowledge", "department_lead", 1),
        ("arrive", "duty_lead", 2),
    ]
    [esc] = [e["data"] for e in _feed(hub) if e["type"] == "work_order.escalated"]
    assert esc["deadline"] == "arrive" and esc["escalated_to"] == "duty-lead"
    assert 'gridwatch_deadline_breaches{deadline="arrive"} 1.0' in hub.client.get("/metrics").text


def test_renewed_deadlines_are_watched_afresh(hub) -> None:
    """A rework gives the department fresh accept/arrive/feedback deadlines; missing them again is
    noticed again (and, being repeated misses, goes to the duty lead)."""
    oid = hub.post_alert(alert()).json()["work_order_id"]
    h = hub.hub
    for who, action, extra in (
        ("dispatcher", "acknowledge", {}),
        ("dispatcher", "dispatch", {}),
        ("department", "accept", {}),
        ("department", "feedback", {"note": "cleared", "photos": [b64(jpeg())]}),
    ):
        assert hub.act(oid, who, action, **extra).status_code == 200, action
    hub.clock.advance(minutes=40)  # verify deadline (arrive_min, 30 min) missed
    assert [b.deadline for b in check_deadlines(h, hub.clock.now)] == ["verify"]
    r = hub.act(oid, "grid_worker", "verify", passed=False, note="rocks left", photos=[b64(jpeg())])
    assert r.status_code == 200 and r.json()["state"] == "rework"
    assert r.json()["escalations"]["verify"] is None and r.json()["deadlines"]["verify_by"] is None
    hub.clock.advance(minutes=6)  # P1 accept is acknowledge_min (5)
    assert [b.deadline for b in check_deadlines(h, hub.clock.now)] == ["accept"]
    events = [e["data"] for e in _feed(hub) if e["type"] == "work_order.supervised"]
    assert [(e["stage"], e["level"], e["misses"]) for e in events] == [
        ("verify", "department_lead", 1),
        ("accept", "duty_lead", 2),
    ]


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
    assert len([e for e in _feed(hub) if e["type"] == "work_order.supervised"]) == 3
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
