"""Notifications across hub restarts, with the real hub process (``gridwatch hub``) and a real HTTP
receiver: SIGKILLed between enqueue and send, nothing is lost and nothing sent twice; SIGKILLed while
the receiver holds the request, the message goes again with the same delivery id (the receiver
dedupes); with ``--workers 2`` one process sends."""

from __future__ import annotations

import hashlib
import hmac
import shutil
import sqlite3
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.central.conftest import alert
from tests.support.hub import SAMPLE_TOWN, HubProcess, make_token
from tests.support.receiver import ROBOT_OK, Receiver

pytestmark = pytest.mark.slow
SECRET = "restart-secret"
WAIT = 90.0
#: A loaded machine starts a hub slowly (uvicorn restarts a worker that is slow to answer its ping).
START_S = 180.0


def _town(tmp_path: Path, rx: Receiver, group_wait_s: float) -> Path:
    out = tmp_path / "town"
    shutil.copytree(SAMPLE_TOWN, out)
    (out / "hub.yaml").write_text("incident_group_window_s: 0\n", encoding="utf-8")
    (out / "notifications.yaml").write_text(
        f"""
channels:
  - {{name: ops, type: webhook, url: "{rx.url("/ops")}", secret_env: GW_RESTART_SECRET,
      group_wait_s: {group_wait_s}, timeout_s: 2}}
  - {{name: wecom-natural-resources, type: wecom, enabled: false, url: "http://127.0.0.1:1/x"}}
  - {{name: dingtalk-duty, type: dingtalk, enabled: false, url: "http://127.0.0.1:1/x"}}
routes:
  new_order: {{department: [ops]}}
retry: {{first_s: 0.3, max_s: 1, max_attempts: 1000}}
lease_s: 2
""",
        encoding="utf-8",
    )
    return out


def _rows(db_file: Path) -> list[tuple[str, str, int]]:
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=30) as conn:
        try:
            return conn.execute(
                "SELECT delivery_id, state, attempts FROM notification_messages ORDER BY id"
            ).fetchall()
        except sqlite3.OperationalError:  # not migrated yet
            return []


def wait_until(cond, timeout: float = WAIT, what: str = "") -> Any:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def _post(hub: HubProcess, token: str, camera: str, event: str) -> int:
    body = alert(camera=camera, event=event, at=datetime.now(UTC))
    r = httpx.post(
        hub.url + "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {token}"}, timeout=30
    )
    assert r.status_code in (200, 201), r.text
    return int(r.json()["work_order_id"])


def _kill(hub: HubProcess) -> None:
    assert hub.proc is not None
    hub.proc.kill()  # SIGKILL: no shutdown, the lease is not handed back
    hub.proc.wait(10)
    hub.stop()


def _signed(req) -> bool:  # type: ignore[no-untyped-def]
    sig = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    return req.headers["x-gridwatch-signature"] == f"sha256={sig}"


def test_sigkill_between_enqueue_and_send_loses_nothing_and_sends_once(tmp_path: Path) -> None:
    db_file = tmp_path / "hub.db"
    db_url = f"sqlite:///{db_file}"
    with Receiver() as rx:
        hub = HubProcess(
            db_url,
            config=_town(tmp_path, rx, group_wait_s=8.0),
            extra_env={"GW_RESTART_SECRET": SECRET},
            start_timeout_s=START_S,
        )
        token = make_token(db_url, "edge", node="edge-01")
        hub.start()
        try:
            first = _post(hub, token, "cam-001", "ev-1")
            [(delivery, _state, _n)] = wait_until(lambda: _rows(db_file), what="the message queued")
            _kill(hub)
            # the kill landed between enqueue and send: queued, never tried, nothing received
            assert _rows(db_file) == [(delivery, "pending", 0)]
            assert rx.requests == []

            hub.start()  # same database; takes the sending role once the dead one's lease lapses
            [req] = rx.wait_for(lambda rs: len(rs) >= 1, WAIT, "the message after the restart")
            assert req.headers["x-gridwatch-delivery"] == delivery and _signed(req)
            assert [n["order_id"] for n in req.json()["notices"]] == [first]
            wait_until(lambda: _rows(db_file) == [(delivery, "sent", 1)], what="recorded sent")

            # restarted again after the success was recorded: it does not go again
            hub.stop()
            hub.start()
            second = _post(hub, token, "cam-003", "ev-2")
            rx.wait_for(lambda rs: len(rs) >= 2, WAIT, "the second message")
            wait_until(lambda: [r[1] for r in _rows(db_file)] == ["sent", "sent"], what="both sent")
            ids = Counter(r.headers["x-gridwatch-delivery"] for r in rx.requests)
            assert ids[delivery] == 1 and len(ids) == 2 and set(ids.values()) == {1}
            assert [n["order_id"] for n in rx.requests[1].json()["notices"]] == [second]
        finally:
            hub.stop()


def test_sigkill_during_send_resends_with_the_same_delivery_id(tmp_path: Path) -> None:
    held, release = threading.Event(), threading.Event()

    def answer(_req):  # type: ignore[no-untyped-def]
        if not held.is_set():  # the first request: hold it until the hub is dead
            held.set()
            release.wait(60)
        return 200, ROBOT_OK

    db_file = tmp_path / "hub.db"
    db_url = f"sqlite:///{db_file}"
    with Receiver(answer) as rx:
        hub = HubProcess(
            db_url,
            config=_town(tmp_path, rx, group_wait_s=0.0),
            extra_env={"GW_RESTART_SECRET": SECRET},
            start_timeout_s=START_S,
        )
        token = make_token(db_url, "edge", node="edge-01")
        hub.start()
        try:
            _post(hub, token, "cam-001", "ev-1")
            assert held.wait(WAIT), "the receiver never got the message"
            _kill(hub)  # the receiver has it; the hub died before it could record that
            release.set()
            [(delivery, state, attempts)] = _rows(db_file)
            assert (state, attempts) == ("pending", 1)
            hub.start()
            reqs = rx.wait_for(lambda rs: len(rs) >= 2, WAIT, "the resend")
            wait_until(lambda: _rows(db_file) == [(delivery, "sent", 2)], what="recorded sent")
            # at least once: twice on the wire, with the same id, bytes and signature; one after dedupe
            assert [r.headers["x-gridwatch-delivery"] for r in reqs] == [delivery, delivery]
            assert reqs[0].body == reqs[1].body and all(_signed(r) for r in reqs)
            assert len({r.headers["x-gridwatch-delivery"] for r in reqs}) == 1
        finally:
            release.set()
            hub.stop()


def test_two_workers_send_each_message_once(tmp_path: Path) -> None:
    db_file = tmp_path / "hub.db"
    db_url = f"sqlite:///{db_file}"
    with Receiver() as rx:
        hub = HubProcess(
            db_url,
            config=_town(tmp_path, rx, group_wait_s=0.0),
            extra_env={"GW_RESTART_SECRET": SECRET},
            start_timeout_s=START_S,
            workers=2,
        )
        token = make_token(db_url, "edge", node="edge-01")
        hub.start()
        try:
            cams = ["cam-001", "cam-003", "cam-006", "cam-009", "cam-012", "cam-015"]
            orders = [_post(hub, token, cam, f"ev-{cam}") for cam in cams]

            def delivered() -> list[int]:
                return sorted(n["order_id"] for r in rx.requests for n in r.json()["notices"])

            wait_until(lambda: delivered() == sorted(orders), what="every order notified")
            wait_until(lambda: {r[1] for r in _rows(db_file)} == {"sent"}, what="all recorded sent")
            ids = Counter(r.headers["x-gridwatch-delivery"] for r in rx.requests)
            assert set(ids.values()) == {1} and len(ids) == len(_rows(db_file))
        finally:
            hub.stop()
