"""Which feed events notify whom over which channels, and what they say: pure, no sockets."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central import order_store
from central.notifications.rules import Event, OrderFacts, route, trigger_of
from central.tables import WorkOrder
from gridwatch.config import Town
from tests.central.conftest import T0
from tests.central.notify_support import notify_town, settings


def _order(**kw) -> WorkOrder:
    base = dict(
        id=7,
        source="camera",
        kind="landslide",
        service_code=None,
        state="new",
        priority="P1",
        department_id="natural-resources",
        grid_id="g-01",
        village_id="v-chexi",
        camera_id="cam-001",
        assignee_id="w-01",
        incident_id=3,
        description="塌方 [见](http://evil)",
        address=None,
        lat=None,
        lon=None,
        media_url=None,
        status_notes="",
        created_at=T0,
        updated_at=T0,
        acknowledge_by=T0 + timedelta(minutes=5),
        arrive_by=T0 + timedelta(minutes=30),
        close_by=T0 + timedelta(hours=8),
        acknowledged_at=None,
        arrived_at=None,
        resolved_at=None,
        closed_at=None,
        detection_cleared_at=None,
        acknowledge_escalated_at=None,
        arrive_escalated_at=None,
        close_escalated_at=None,
    )
    return WorkOrder(**(base | kw))


@pytest.fixture(scope="module")
def ntown(town: Town) -> Town:
    return notify_town(town, settings("http://127.0.0.1:9"))


def _pairs(deliveries) -> list[tuple[str, str]]:
    return [(d.channel, d.recipient.key) for d in deliveries]


def _no_lookup(_oid: int) -> OrderFacts | None:
    raise AssertionError("the event carries the order; no look-up needed")


def test_new_order_goes_to_the_department_and_the_grid_worker(ntown: Town) -> None:
    ev = Event(11, "work_order.created", T0, order_store.summary(ntown, _order(), T0))
    got = route(ev, ntown, ntown.notifications, _no_lookup)
    assert _pairs(got) == [
        ("ops", "department:natural-resources"),
        ("wecom-nr", "department:natural-resources"),  # the department's own robot (departments.yaml)
        ("ops", "worker:w-01"),
        ("sms", "worker:w-01"),  # the worker has a phone in grids.yaml
    ]
    worker = got[3].recipient
    assert (worker.name, worker.phone) == (ntown.grid("g-01").worker.name, "555-0101")
    n = got[0].notice
    assert n.trigger == "new_order" and n.order_id == 7 and n.event_id == 11
    assert n.url == "http://console.test/#/orders/7"
    assert n.title == "新工单 #7 · 山体滑坡 · P1"
    assert "处置部门: 自然资源规划与服务中心" in n.lines
    assert any(line.startswith("确认时限: 11-26 16:05") for line in n.lines)  # Asia/Shanghai


def test_grid_worker_from_the_grid_when_the_assignee_is_not_a_worker(ntown: Town) -> None:
    data = order_store.summary(ntown, _order(assignee_id=None, grid_id="g-02"), T0)
    got = route(Event(1, "work_order.created", T0, data), ntown, ntown.notifications, _no_lookup)
    assert ("ops", "worker:w-02") in _pairs(got)


def test_a_department_without_a_phone_gets_no_sms(ntown: Town) -> None:
    s = settings("http://x", routes={"new_order": {"department": ["ops", "sms"]}})
    t = notify_town(ntown, s)
    data = order_store.summary(t, _order(department_id="urban-management"), T0)
    assert _pairs(route(Event(1, "work_order.created", T0, data), t, s, _no_lookup)) == [
        ("ops", "department:urban-management")
    ]


def test_supervision_goes_to_the_lead_its_level_names(ntown: Town) -> None:
    facts = OrderFacts(7, "natural-resources", "g-01", "w-01", "landslide", "P1")
    looked: list[int] = []

    def lookup(oid: int) -> OrderFacts | None:
        looked.append(oid)
        return facts

    dep_lead = Event(
        5, "work_order.supervised", T0, {"id": 7, "stage": "accept", "level": "department_lead", "misses": 1}
    )
    got = route(dep_lead, ntown, ntown.notifications, lookup)
    assert looked == [7]
    assert _pairs(got) == [("ops", "lead:natural-resources"), ("wecom-nr", "lead:natural-resources")]
    assert got[0].recipient.phone == "555-0900"  # lead_phone
    assert got[0].notice.title == "督办 · 工单 #7 超时未受理"
    assert got[0].notice.trigger == "deadline_missed"

    duty = Event(
        6, "work_order.supervised", T0, {"id": 7, "stage": "feedback", "level": "duty_lead", "misses": 3}
    )
    got = route(duty, ntown, ntown.notifications, lookup)
    assert _pairs(got) == [("ops", "lead:duty-lead"), ("ding-duty", "lead:duty-lead")]
    assert "第 3 次超时" in got[0].notice.lines and "督办对象: 值班长" in got[0].notice.lines
    # an order that does not exist notifies nobody
    assert route(duty, ntown, ntown.notifications, lambda _oid: None) == []


def test_the_watchers_escalation_is_not_told_twice(ntown: Town) -> None:
    """work_order.escalated repeats a miss already published as work_order.supervised (level duty_lead)."""
    data = order_store.summary(ntown, _order(), T0) | {"deadline": "acknowledge", "escalated_to": "duty-lead"}
    assert route(Event(9, "work_order.escalated", T0, data), ntown, ntown.notifications, _no_lookup) == []


def test_feedback_asks_the_grid_worker_to_verify(ntown: Town) -> None:
    data = order_store.summary(ntown, _order(), T0)
    feedback = Event(3, "work_order.updated", T0, data | {"action": "feedback", "state": "feedback"})
    got = route(feedback, ntown, ntown.notifications, _no_lookup)
    assert _pairs(got) == [("ops", "worker:w-01"), ("sms", "worker:w-01")]
    assert got[0].notice.trigger == "verification_due"
    assert got[0].notice.title == "待核查 · 工单 #7 · 山体滑坡"
    for action in ("acknowledge", "dispatch", "resolve", "close"):
        assert trigger_of(Event(3, "work_order.updated", T0, data | {"action": action})) is None


def test_camera_fault_goes_to_maintenance(ntown: Town) -> None:
    data = {
        "camera_id": "cam-001",
        "node_id": "edge-01",
        "status": "degraded",
        "previous": "online",
        "faults": ["camera_occluded"],
        "reason": "heartbeat",
    }
    got = route(Event(4, "camera.status", T0, data), ntown, ntown.notifications, _no_lookup)
    assert _pairs(got) == [("ops", "department:camera-maintenance")]
    n = got[0].notice
    assert n.camera_id == "cam-001" and n.url == "http://console.test/#/cameras/cam-001"
    assert n.title == "摄像头故障 cam-001 · 镜头遮挡"
    back = data | {"status": "online", "previous": "degraded", "faults": []}
    assert route(Event(5, "camera.status", T0, back), ntown, ntown.notifications, _no_lookup) == []


def test_other_events_and_left_out_targets_notify_nobody(ntown: Town) -> None:
    for kind in ("incident.created", "incident.updated", "incident.cleared"):
        assert route(Event(1, kind, T0, {"id": 1}), ntown, ntown.notifications, _no_lookup) == []
    only_department = settings("http://x", routes={"new_order": {"department": []}})
    t = notify_town(ntown, only_department)
    data = order_store.summary(t, _order(), T0)
    assert _pairs(route(Event(1, "work_order.created", T0, data), t, only_department, _no_lookup)) == [
        ("wecom-nr", "department:natural-resources")  # only its own robot; no grid worker
    ]


def test_disabled_channels_are_left_out(ntown: Town) -> None:
    s = settings("http://x")
    channels = [c.model_copy(update={"enabled": c.name != "ops"}) for c in s.channels]
    s = s.model_copy(update={"channels": channels})
    t = notify_town(ntown, s)
    data = order_store.summary(t, _order(), T0)
    assert _pairs(route(Event(1, "work_order.created", T0, data), t, s, _no_lookup)) == [
        ("wecom-nr", "department:natural-resources"),
        ("sms", "worker:w-01"),
    ]
