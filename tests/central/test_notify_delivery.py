"""Notifications delivered to a real HTTP receiver on 127.0.0.1, from a hub app on SQLite and on a
real PostgreSQL: signed webhooks, the robots' formats, SMS, grouping of a burst, a receiver that is
down for a while, failures listed for admins, one sender among several notifiers."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from central.app import create_app
from central.auth import store_token
from central.db import Database
from central.deadlines import check_deadlines
from central.feed import publish
from central.notifications.channels import ready_channels
from central.notifications.notifier import Notifier
from central.settings import HubConfig
from central.tables import NotificationMessage
from gridwatch.config import Town
from gridwatch.config.notifications import NotificationSettings
from tests.central.conftest import alert
from tests.central.notify_support import ENV, SECRET, notify_town, settings
from tests.support.receiver import Receiver

WAIT = 60.0  # generous: the machine is shared


def _now() -> datetime:
    return datetime.now(UTC)


def wait_until(cond, timeout: float = WAIT, what: str = "") -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


class Hub:
    def __init__(self, client: TestClient, app: Any, tokens: dict[str, str]) -> None:
        self.client, self.app, self.tokens = client, app, tokens

    def auth(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    def alert(self, camera: str, event: str, kind: str = "landslide") -> int:
        body = alert(camera=camera, kind=kind, event=event, at=_now())
        r = self.client.post("/api/v1/alerts", json=body, headers=self.auth("edge-01"))
        assert r.status_code in (200, 201), r.text
        return int(r.json()["work_order_id"])

    def messages(self, state: str | None = None) -> list[dict[str, Any]]:
        params = {"state": state} if state else {}
        r = self.client.get("/api/v1/notifications", params=params, headers=self.auth("admin"))
        assert r.status_code == 200, r.text
        return r.json()


def _town(town: Town, notifications: NotificationSettings) -> Town:
    t = notify_town(town, notifications)  # no incident grouping: each alert its own order
    return t.model_copy(update={"hub": t.hub.model_copy(update={"incident_group_window_s": 0})})


@contextmanager
def running_hub(town: Town, db_url: str, tmp_path: Path, poll_s: float = 0.05) -> Iterator[Hub]:
    cfg = HubConfig(
        db_url=db_url,
        media_dir=tmp_path / "media",
        watch_interval_s=0,
        feed_poll_s=0.05,
        notify_poll_s=poll_s,
    )
    app = create_app(town, cfg, env=ENV)
    with TestClient(app) as client:
        db = app.state.hub.db
        tokens = {
            r: store_token(db, r, None, f"{r}-1", _now()) for r in ("admin", "dispatcher", "maintainer")
        }
        tokens["edge-01"] = store_token(db, "edge", "edge-01", None, _now())
        yield Hub(client, app, tokens)


@pytest.fixture()
def rx() -> Iterator[Receiver]:
    with Receiver() as r:
        yield r


def _verify(req) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    sig = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    assert req.headers["x-gridwatch-signature"] == f"sha256={sig}"
    body = req.json()
    assert req.headers["x-gridwatch-delivery"] == body["delivery_id"]
    return body


def test_new_order_and_escalation_reach_every_channel(rx, town, db_url, tmp_path) -> None:
    with running_hub(_town(town, settings(rx.url())), db_url, tmp_path) as hub:
        oid = hub.alert("cam-001", "ev-a")
        reqs = rx.wait_for(lambda rs: len(rs) >= 4, WAIT, "the new order's four messages")
        by_path = Counter(r.path for r in reqs)
        assert by_path == {"/ops": 2, "/wecom": 1, "/sms": 1}
        hooks = {b["recipient"]["id"]: b for b in (_verify(r) for r in reqs if r.path == "/ops")}
        assert set(hooks) == {"natural-resources", "w-07"}  # the desk and cam-001's grid worker
        notice = hooks["natural-resources"]["notices"][0]
        assert notice["trigger"] == "new_order" and notice["order_id"] == oid
        assert notice["url"] == f"http://console.test/#/orders/{oid}"
        wecom = next(r for r in reqs if r.path == "/wecom")
        assert wecom.query == {"key": ["abc"]}
        content = wecom.json()["markdown"]["content"]
        assert f"新工单 #{oid}" in content and f"(http://console.test/#/orders/{oid})" in content
        sms = next(r for r in reqs if r.path == "/sms").json()
        assert sms["to"] == "555-0107" and f"新工单 #{oid}" in sms["content"]

        # the acknowledge deadline passes: a first miss goes to the department's lead (its robot too)
        assert check_deadlines(hub.app.state.hub, _now() + timedelta(minutes=6))
        reqs = rx.wait_for(lambda rs: len(rs) >= 6, WAIT, "the first miss's notices")
        leads = [_verify(r) for r in reqs if r.path == "/ops" and r.json()["recipient"]["kind"] == "lead"]
        assert [b["recipient"]["id"] for b in leads] == ["natural-resources"]
        assert sum(r.path == "/wecom" for r in reqs) == 2
        # a second miss (on site in time) is escalated to the duty lead, on the ops hook and its robot;
        # the watcher's work_order.escalated for the same miss tells nobody twice
        assert check_deadlines(hub.app.state.hub, _now() + timedelta(minutes=31))
        reqs = rx.wait_for(lambda rs: len(rs) >= 8, WAIT, "the escalation")
        ding = next(r for r in reqs if r.path == "/ding")
        ts = ding.query["timestamp"][0]
        mac = hmac.new(b"SEC-ding", f"{ts}\nSEC-ding".encode(), hashlib.sha256).digest()
        assert ding.query["sign"] == [base64.b64encode(mac).decode()]
        assert ding.json()["markdown"]["title"] == f"督办 · 工单 #{oid} 超时未到场"
        lead = [_verify(r) for r in reqs if r.path == "/ops" and r.json()["recipient"]["kind"] == "lead"]
        assert [b["recipient"]["id"] for b in lead] == ["natural-resources", "duty-lead"]

        sent = wait_until(lambda: len(hub.messages("sent")) == 8 and hub.messages("sent"), what="8 sent")
        assert all(m["attempts"] == 1 and m["last_error"] is None for m in sent)
        assert len(rx.requests) == 8
        assert len({r.headers["x-gridwatch-delivery"] for r in rx.requests}) == 8


def test_a_burst_to_one_recipient_is_one_message(rx, town, db_url, tmp_path) -> None:
    # driven by hand (run_once): the five events are routed in one pass, whatever the machine's speed
    t = _town(town, settings(rx.url(), group_wait_s=0.5, routes={"new_order": {"department": ["ops"]}}))
    with running_hub(t, db_url, tmp_path, poll_s=0) as hub:
        notifier: Notifier = hub.app.state.notifier
        orders = [
            hub.alert(cam, f"ev-{cam}") for cam in ("cam-001", "cam-003", "cam-005", "cam-006", "cam-008")
        ]
        notifier.run_once()
        pending = hub.messages("pending")
        assert [m["count"] for m in pending if m["channel"] == "ops"] == [5]

        def delivered(paths: Counter) -> bool:  # type: ignore[type-arg]
            notifier.run_once()
            return Counter(r.path for r in rx.requests) == paths

        wait_until(lambda: delivered(Counter({"/ops": 1, "/wecom": 1})), what="the grouped messages")
        [hook] = [_verify(r) for r in rx.requests if r.path == "/ops"]
        assert hook["count"] == 5 and [n["order_id"] for n in hook["notices"]] == orders
        assert hook["recipient"]["id"] == "natural-resources"
        # the robot got the same group as one markdown message
        [robot] = [r for r in rx.requests if r.path == "/wecom"]
        assert robot.json()["markdown"]["content"].startswith("### 涌山镇 · 5 条通知")

        # after the group went out, a new order starts a new message
        later = hub.alert("cam-010", "ev-later")
        wait_until(lambda: delivered(Counter({"/ops": 2, "/wecom": 2})), what="the next messages")
        last = [r for r in rx.requests if r.path == "/ops"][-1].json()
        assert [n["order_id"] for n in last["notices"]] == [later]


def test_receiver_down_for_a_while_gets_everything_once(rx, town, db_url, tmp_path) -> None:
    rx.down()  # connections refused
    t = _town(town, settings(rx.url(), routes={"new_order": {"department": ["ops"], "grid_worker": ["ops"]}}))
    with running_hub(t, db_url, tmp_path) as hub:
        for cam in ("cam-001", "cam-003", "cam-006"):
            hub.alert(cam, f"ev-{cam}")

        # nine notices (the desk on ops and on its robot, three grid workers on ops), grouped into
        # however many messages the timing made
        def failing() -> bool:
            ms = hub.messages("pending")
            return sum(m["count"] for m in ms) == 9 and all(
                m["attempts"] >= 2 and m["last_error"] for m in ms
            )

        wait_until(failing, what="every message failing at least twice")
        assert "ConnectError" in hub.messages("pending")[0]["last_error"]
        assert hub.messages("sent") == []
        rx.up()
        wait_until(lambda: hub.messages("pending") == [], what="all sent after the receiver came back")
        sent = hub.messages("sent")
        assert sum(m["count"] for m in sent) == 9
        ids = Counter(r.headers["x-gridwatch-delivery"] for r in rx.requests)
        assert sorted(ids) == sorted(m["delivery_id"] for m in sent)
        assert set(ids.values()) == {1}, ids  # each exactly once
        assert hub.messages("pending") == [] and hub.messages("failed") == []


def test_failures_are_listed_for_admins_and_counted(rx, town, db_url, tmp_path) -> None:
    rx.down()
    s = settings(
        rx.url(),
        routes={"new_order": {"department": ["ops"]}},
        retry={"first_s": 0.05, "max_s": 0.1, "max_attempts": 2},
    )
    with running_hub(_town(town, s), db_url, tmp_path) as hub:
        hub.alert("cam-003", "ev-x")  # a landslide: the natural-resources desk (ops and its robot)
        failed = wait_until(
            lambda: len(hub.messages("failed")) == 2 and hub.messages("failed"), what="two failed messages"
        )
        assert {m["channel"] for m in failed} == {"ops", "wecom-nr"}
        assert all(m["attempts"] == 2 and "ConnectError" in m["last_error"] for m in failed)
        assert all("phone" not in m["recipient"] for m in failed)
        metrics = hub.client.get("/metrics").text
        assert 'gridwatch_notifications_failed_total{channel="ops"} 1.0' in metrics
        assert 'gridwatch_notification_attempts_total{channel="ops",outcome="error"} 2.0' in metrics

        # roles: only admins
        for who in ("dispatcher", "maintainer", "edge-01"):
            assert hub.client.get("/api/v1/notifications", headers=hub.auth(who)).status_code == 403
        assert hub.client.get("/api/v1/notifications").status_code == 401
        assert (
            hub.client.get("/api/v1/notifications?state=lost", headers=hub.auth("admin")).status_code == 422
        )
        ops = next(m for m in failed if m["channel"] == "ops")
        r = hub.client.post(f"/api/v1/notifications/{ops['id']}/retry", headers=hub.auth("dispatcher"))
        assert r.status_code == 403

        # an admin puts it back once the receiver is up again
        rx.up()
        r = hub.client.post(f"/api/v1/notifications/{ops['id']}/retry", headers=hub.auth("admin"))
        assert r.status_code == 200 and r.json()["state"] == "pending"
        wait_until(
            lambda: [m["id"] for m in hub.messages("sent")] == [ops["id"]], what="the retried one sent"
        )
        r = hub.client.post(f"/api/v1/notifications/{ops['id']}/retry", headers=hub.auth("admin"))
        assert r.status_code == 409
        assert (
            hub.client.post("/api/v1/notifications/999999/retry", headers=hub.auth("admin")).status_code
            == 404
        )
        metrics = hub.client.get("/metrics").text
        assert 'gridwatch_notifications_sent_total{channel="ops"} 1.0' in metrics
        assert 'gridwatch_notifications_failed_total{channel="wecom-nr"} 1.0' in metrics
        assert [r.headers["x-gridwatch-delivery"] for r in rx.requests] == [ops["delivery_id"]]


def test_robot_errcode_is_a_failure_and_retried(town, db_url, tmp_path) -> None:
    calls: list[int] = []

    def answer(req):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) <= 2:  # the robot's rate limit twice, then fine
            return 200, b'{"errcode":45009,"errmsg":"api freq out of limit"}'
        return 200, b'{"errcode":0,"errmsg":"ok"}'

    with Receiver(answer) as rx:
        s = settings(rx.url(), routes={"new_order": {"department": []}})
        with running_hub(_town(town, s), db_url, tmp_path) as hub:
            hub.alert("cam-001", "ev-r")
            [m] = wait_until(lambda: hub.messages("sent"), what="sent after two refusals")
            assert m["channel"] == "wecom-nr" and m["attempts"] == 3
            assert len(rx.requests) == 3
            assert len({r.body for r in rx.requests}) == 1  # the same message each time


def test_one_sender_among_several_notifiers(rx, town, db_url) -> None:
    """Two notifiers (two hub processes, or two workers) on one database: each message goes out once;
    when the sending one stops, the other takes over and sends what comes next."""
    t = _town(town, settings(rx.url(), routes={"new_order": {"department": ["ops"]}}))
    dbs = [Database(db_url), Database(db_url)]
    channels = ready_channels(t.notifications, ENV)
    channels = {"ops": channels["ops"]}
    notifiers = [Notifier(db, t, channels, _now, poll_s=0.05, holder=f"n{i}") for i, db in enumerate(dbs)]
    try:
        for n in notifiers:
            n.start()
        wait_until(lambda: _holder(dbs[0]) in ("n0", "n1"), what="a holder")
        first = _holder(dbs[0])
        for i in range(1, 13):
            _publish_order(dbs[i % 2], t, i)
        wait_until(lambda: _notices(rx) == list(range(1, 13)), what="12 orders delivered")
        leader = notifiers[int(first[1])]
        leader.stop()
        wait_until(lambda: _holder(dbs[0]) not in (None, first), what="the other notifier taking over")
        _publish_order(dbs[0], t, 13)
        wait_until(lambda: _notices(rx) == list(range(1, 14)), what="the 13th order delivered")
        states = wait_until(lambda: set(_states(dbs[0])) == {"sent"} and _states(dbs[0]), what="all sent")
        # a message is sent only while pending and claimed; once all are recorded sent, nothing more goes
        ids = Counter(r.headers["x-gridwatch-delivery"] for r in rx.requests)
        assert len(ids) == states["sent"] and set(ids.values()) == {1}
    finally:
        for n in notifiers:
            n.stop()
        for db in dbs:
            db.dispose()


def _notices(rx: Receiver) -> list[int]:
    return sorted(n["order_id"] for r in rx.requests for n in r.json()["notices"])


def _states(db: Database) -> dict[str, int]:
    with db.read() as s:
        return dict(Counter(m.state for m in s.query(NotificationMessage)))


def _holder(db: Database) -> str | None:
    from central.tables import NotifierState

    with db.read() as s:
        row = s.get(NotifierState, "notifier")
        return row.holder if row is not None else None


def _publish_order(db: Database, town: Town, i: int) -> None:
    data = {
        "id": i,
        "kind": "landslide",
        "priority": "P1",
        "department": {"id": "natural-resources"},
        "grid": {"id": "g-01"},
        "assignee": None,
    }
    with db.write() as s:
        publish(s, "work_order.created", data, _now())


def test_camera_fault_from_a_heartbeat_reaches_maintenance(rx, town, db_url, tmp_path) -> None:
    from tests.central.test_health import heartbeat

    with running_hub(_town(town, settings(rx.url())), db_url, tmp_path) as hub:
        first = heartbeat(town, "edge-01", _now(), hid="hb-notify-1")
        r = hub.client.post("/api/v1/heartbeats", json=first, headers=hub.auth("edge-01"))
        assert r.status_code == 202, r.text  # cameras registered online: no notice
        fault = {"cam-002": {"status": "degraded", "faults": ["camera_occluded"]}}
        second = heartbeat(town, "edge-01", _now(), overrides=fault, hid="hb-notify-2")
        assert (
            hub.client.post("/api/v1/heartbeats", json=second, headers=hub.auth("edge-01")).status_code == 202
        )
        [req] = rx.wait_for(lambda rs: len(rs) >= 1, WAIT, "the fault notice")
        body = _verify(req)
        assert body["recipient"]["id"] == "camera-maintenance"
        [notice] = body["notices"]
        assert notice["trigger"] == "camera_fault" and notice["camera_id"] == "cam-002"
        assert notice["title"] == "摄像头故障 cam-002 · 镜头遮挡"
        assert notice["url"] == "http://console.test/#/cameras/cam-002"
        wait_until(lambda: len(hub.messages("sent")) == 1, what="recorded sent")
        assert len(rx.requests) == 1


def test_workflow_events_reach_the_grid_worker_and_the_lead(rx, town, db_url, tmp_path) -> None:
    """The events the work-order life cycle publishes for feedback and supervision, stored as the feed
    stores them: verification due goes to the grid worker, a missed deadline to the lead named."""
    from central.tables import FeedEvent

    with running_hub(_town(town, settings(rx.url())), db_url, tmp_path) as hub:
        oid = hub.alert("cam-001", "ev-w")
        rx.wait_for(lambda rs: len(rs) >= 4, WAIT, "the new order's messages")
        order = hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth("dispatcher")).json()
        order.pop("history")
        db = hub.app.state.hub.db
        with db.write() as s:
            publish(s, "work_order.updated", order | {"action": "feedback", "state": "feedback"}, _now())
            s.add(
                FeedEvent(
                    at=_now(),
                    type="work_order.supervised",
                    data={"id": oid, "stage": "accept", "level": "department_lead", "misses": 2},
                )
            )
        reqs = rx.wait_for(lambda rs: len(rs) >= 8, WAIT, "verification and supervision")[4:]
        got = sorted((r.path, (r.json().get("recipient") or {}).get("id", "")) for r in reqs)
        assert got == [("/ops", "natural-resources"), ("/ops", "w-07"), ("/sms", ""), ("/wecom", "")]
        lead = next(r.json() for r in reqs if r.path == "/ops" and r.json()["recipient"]["kind"] == "lead")
        assert lead["notices"][0]["title"] == f"督办 · 工单 #{oid} 超时未受理"
        assert "第 2 次超时" in lead["notices"][0]["lines"]
        sms = next(r.json() for r in reqs if r.path == "/sms")
        assert sms["to"] == "555-0107" and f"待核查 · 工单 #{oid}" in sms["content"]
        robot = next(r.json() for r in reqs if r.path == "/wecom")["markdown"]["content"]
        assert f"督办 · 工单 #{oid} 超时未受理" in robot
