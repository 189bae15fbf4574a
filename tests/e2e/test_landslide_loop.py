"""The town's landslide example, end to end (issue 21, first "Done when"): a real hub process, a real
webhook receiver, the phone view in Chromium for the department and the grid worker.

A camera raises a landslide -> work order to natural-resources and the grid worker -> the dispatcher
acknowledges and dispatches -> the department (phone) accepts, goes on site, feeds back with a photo ->
the grid worker (phone, another browser) fails the verification with a photo -> rework -> the
department accepts, goes on site and feeds back again -> the camera's ``clear`` verifies and closes
(``hub.camera_verification: close``). Then the stats by department and by grid show exactly this
order, the receiver got each notification once (signed, distinct delivery ids), and the history holds
every step with actor, role, time and evidence that downloads as JPEG.
"""

from __future__ import annotations

import hashlib
import hmac
import shutil
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridwatch.config import load_town
from tests.central.conftest import alert, jpeg
from tests.support.browser import chromium
from tests.support.hub import SAMPLE_TOWN, HubProcess, make_token
from tests.support.receiver import Received, Receiver

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PHONE = {
    "viewport": {"width": 390, "height": 844},
    "device_scale_factor": 2,
    "is_mobile": True,
    "has_touch": True,
    "locale": "zh-CN",
}
WAIT_MS = 60_000
WAIT_S = 90.0
CAMERA = "cam-001"
DEPARTMENT = "natural-resources"
SECRET = "landslide-loop-secret"
STAGES = ("acknowledge", "accept", "arrive", "feedback", "verify", "close")


def _town(folder: Path, rx: Receiver) -> Path:
    """The sample town; camera verification closes; one signed webhook channel for every route."""
    out = folder / "town"
    shutil.copytree(SAMPLE_TOWN, out)
    (out / "hub.yaml").write_text(
        "incident_group_window_s: 0\ncamera_verification: close\n", encoding="utf-8"
    )
    (out / "notifications.yaml").write_text(
        f"""
console_url: http://console.test
channels:
  - {{name: ops, type: webhook, url: "{rx.url("/ops")}", secret_env: GW_LOOP_SECRET,
      group_wait_s: 0, timeout_s: 5}}
  - {{name: wecom-natural-resources, type: wecom, enabled: false, url: "http://127.0.0.1:1/x"}}
  - {{name: dingtalk-duty, type: dingtalk, enabled: false, url: "http://127.0.0.1:1/x"}}
routes:
  new_order: {{department: [ops], grid_worker: [ops]}}
  verification_due: {{grid_worker: [ops]}}
retry: {{first_s: 0.3, max_s: 1, max_attempts: 1000}}
""",
        encoding="utf-8",
    )
    return out



@pytest.fixture()
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


class Loop:
    def __init__(self, hub: HubProcess, tokens: dict[str, str]) -> None:
        self.hub, self.tokens = hub, tokens

    def call(self, method: str, path: str, who: str, **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.hub.url + path,
            timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            **kw,
        )

    def order(self, oid: int) -> dict[str, Any]:
        r = self.call("GET", f"/api/v1/work-orders/{oid}", "dispatcher")
        r.raise_for_status()
        return r.json()

    def wait_state(self, page: Any, oid: int, state: str) -> None:
        """Wait on the page's clock (the page keeps running) until the hub has the order in ``state``."""
        for _ in range(WAIT_MS // 250):
            if self.order(oid)["state"] == state:
                return
            page.wait_for_timeout(250)
        raise AssertionError(f"order {oid} never reached {state}: {self.order(oid)['state']}")


def _phone(browser: Any, loop: Loop, who: str, errors: list[str]) -> Any:
    """A phone (its own browser context) signed in on /m/ with ``who``'s token."""
    page = browser.new_context(**PHONE).new_page()
    page.on("pageerror", lambda exc: errors.append(f"{who}: {exc}"))
    page.set_default_timeout(WAIT_MS)
    page.goto(loop.hub.url + "/m/")
    page.wait_for_selector("#login-form")
    page.fill("#token", loop.tokens[who])
    page.click("#login-submit")
    page.wait_for_selector("#login-form", state="detached")
    return page


def _open(page: Any, oid: int, state: str) -> None:
    """Show the order fresh from the hub (another actor may have moved it) from "my orders"."""
    page.goto(page.url.split("#")[0] + "#/")
    page.reload()
    page.click(f".order-card[data-id='{oid}']")
    page.wait_for_selector(f"#order[data-id='{oid}'][data-state='{state}']")


def _tap(page: Any, loop: Loop, oid: int, action: str, state: str) -> None:
    page.click(f"button[data-action='{action}']")
    loop.wait_state(page, oid, state)
    page.wait_for_selector(f"#order[data-state='{state}']")


def _form(page: Any, loop: Loop, oid: int, action: str, note: str, photo: Path, state: str) -> None:
    page.click(f"button[data-action='{action}']")
    page.fill("#f-note", note)
    page.set_input_files("#f-photos", str(photo))
    page.click("#form-submit")
    loop.wait_state(page, oid, state)
    page.wait_for_selector(f"#order[data-state='{state}']")


def _at(h: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(h["at"])


def _expected_seconds(history: list[dict[str, Any]]) -> dict[str, float]:
    """Per stage, the seconds this order spent on it, straight from the history (README, "Evaluation"):
    acknowledge from creation, accept from dispatch or rework, arrive and feedback from accept, verify
    from feedback, close from the passed verification; rework rounds add up."""
    starts = {
        "create": ("acknowledge",),
        "dispatch": ("accept",),
        "rework": ("accept",),
        "accept": ("arrive", "feedback"),
        "feedback": ("verify",),
        "verify": ("close",),
    }
    ends = {
        "acknowledge": "acknowledge",
        "accept": "accept",
        "arrive": "arrive",
        "feedback": "feedback",
        "verify": "verify",
        "rework": "verify",
        "close": "close",
    }
    begun: dict[str, datetime] = {}
    spent: dict[str, float] = dict.fromkeys(STAGES, 0.0)
    for h in history:
        step = "rework" if h["action"] == "verify" and h["details"].get("passed") is False else h["action"]
        if step in ends:
            spent[ends[step]] += (_at(h) - begun.pop(ends[step])).total_seconds()
        for stage in starts.get(step, ()):
            begun[stage] = _at(h)
    return spent


def _signed(req: Received) -> bool:
    sig = hmac.new(SECRET.encode(), req.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(req.headers.get("x-gridwatch-signature", ""), f"sha256={sig}")


def test_landslide_loop_end_to_end(browser: Any, tmp_path: Path) -> None:
    town = load_town(SAMPLE_TOWN)
    camera = town.cameras_by_id()[CAMERA]
    worker = town.grid(camera.grid).worker.id
    errors: list[str] = []
    with Receiver() as rx:
        db_url = f"sqlite:///{tmp_path / 'hub.db'}"
        hub = HubProcess(
            db_url, config=_town(tmp_path, rx), extra_env={"GW_LOOP_SECRET": SECRET}, start_timeout_s=180.0
        )
        tokens = {
            "edge-01": make_token(db_url, "edge", node="edge-01"),
            "dispatcher": make_token(db_url, "dispatcher", name="desk-1"),
            "worker": make_token(db_url, "grid_worker", name=worker),
            "department": make_token(db_url, "department", name="nr-duty", department=DEPARTMENT),
        }
        loop = Loop(hub.start(), tokens)
        try:
            # A camera raises the landslide (the edge node posts the onset with its snapshot).
            onset = alert(
                camera=CAMERA, event="ev-landslide", at=datetime.now(UTC), snapshot=jpeg(64, (150, 120, 90))
            )
            r = loop.call("POST", "/api/v1/alerts", "edge-01", json=onset)
            assert r.status_code in (200, 201), r.text
            oid = int(r.json()["work_order_id"])
            order = loop.order(oid)
            assert order["kind"] == "landslide" and order["state"] == "new"
            assert (
                order["department"]["id"] if isinstance(order["department"], dict) else order["department"]
            ) == DEPARTMENT

            # The dispatcher acknowledges and dispatches (the desk console's steps; the API here).
            for action in ("acknowledge", "dispatch"):
                done = loop.call(
                    "POST", f"/api/v1/work-orders/{oid}/actions", "dispatcher", json={"action": action}
                )
                assert done.status_code == 200, done.text

            # The department, on its phone: accept, on site, feed back with a photo.
            fix1, fail, fix2 = (tmp_path / n for n in ("fix1.jpg", "fail.jpg", "fix2.jpg"))
            fix1.write_bytes(jpeg(96, (30, 160, 60)))
            fail.write_bytes(jpeg(96, (200, 40, 40)))
            fix2.write_bytes(jpeg(96, (40, 60, 200)))
            desk = _phone(browser, loop, "department", errors)
            _open(desk, oid, "dispatched")
            _tap(desk, loop, oid, "accept", "accepted")
            _tap(desk, loop, oid, "arrive", "on_site")
            _form(desk, loop, oid, "feedback", "落石已清理一半", fix1, "fed_back")

            # The grid worker, on another phone: the road is not clear; fails it with a photo.
            field = _phone(browser, loop, "worker", errors)
            _open(field, oid, "fed_back")
            _form(field, loop, oid, "verify_fail", "仍有落石堵路", fail, "rework")
            assert loop.order(oid)["rework_count"] == 1

            # Rework: the department accepts again, goes on site, feeds back again.
            _open(desk, oid, "rework")
            _tap(desk, loop, oid, "accept", "accepted")
            _tap(desk, loop, oid, "arrive", "on_site")
            _form(desk, loop, oid, "feedback", "落石已全部清理，道路畅通", fix2, "fed_back")

            # The camera sees the road clear: it verifies and, by the town config, closes the order.
            clear = alert(
                camera=CAMERA,
                event="ev-landslide",
                phase="clear",
                seq=2,
                at=datetime.now(UTC),
                snapshot=jpeg(64, (90, 160, 90)),
            )
            r = loop.call("POST", "/api/v1/alerts", "edge-01", json=clear)
            assert r.status_code in (200, 201), r.text
            loop.wait_state(desk, oid, "closed")
            field.goto(field.url.split("#")[0] + f"#/order/{oid}")  # closed: no longer in "my orders"
            field.reload()
            field.wait_for_selector(f"#order[data-id='{oid}'][data-state='closed']")
            assert not field.locator("#actions button").count()
            assert errors == [], f"JavaScript errors on the phones: {errors}"

            final = loop.order(oid)
            history = final["history"]
            _assert_history(loop, history, worker)
            _assert_stats(loop, oid, history, camera.grid)
            _assert_notifications(rx, oid, worker, tmp_path / "hub.db")
        except BaseException:
            print(hub.log())
            raise
        finally:
            hub.stop()


def _assert_history(loop: Loop, history: list[dict[str, Any]], worker: str) -> None:
    steps = [(h["action"], h["role"], h["actor"]) for h in history]
    assert steps == [
        ("create", "edge", "edge-01"),  # the edge node that posted the camera's alert
        ("acknowledge", "dispatcher", "desk-1"),
        ("dispatch", "dispatcher", "desk-1"),
        ("accept", "department", "nr-duty"),
        ("arrive", "department", "nr-duty"),
        ("feedback", "department", "nr-duty"),
        ("verify", "grid_worker", worker),
        ("accept", "department", "nr-duty"),
        ("arrive", "department", "nr-duty"),
        ("feedback", "department", "nr-duty"),
        ("camera_clear", "camera", CAMERA),
        ("verify", "camera", CAMERA),
        ("close", "system", "system"),
    ], steps
    times = [_at(h) for h in history]
    assert all(t.tzinfo is not None for t in times) and times == sorted(times)
    by = {i: h for i, h in enumerate(history)}
    assert by[6]["details"]["passed"] is False and by[6]["note"] == "仍有落石堵路"
    assert by[11]["details"]["passed"] is True
    assert by[5]["note"] == "落石已清理一半" and by[9]["note"] == "落石已全部清理，道路畅通"
    # Evidence: each feedback, the failed verification and the camera's clear carry one JPEG photo.
    for i in (5, 6, 9, 10):
        [url] = by[i]["attachments"]
        got = loop.call("GET", url if url.startswith("/") else "/" + url, "dispatcher")
        assert got.status_code == 200, (url, got.status_code)
        assert got.headers["content-type"].startswith("image/jpeg") and got.content[:3] == b"\xff\xd8\xff"
    assert len({by[i]["attachments"][0] for i in (5, 6, 9, 10)}) == 4


def _assert_stats(loop: Loop, oid: int, history: list[dict[str, Any]], grid: str) -> None:
    seconds = _expected_seconds(history)
    for group_by, key in (("department", DEPARTMENT), ("grid", grid)):
        r = loop.call("GET", "/api/v1/stats", "dispatcher", params={"group_by": group_by})
        assert r.status_code == 200, r.text
        [g] = r.json()["groups"]  # this town has had exactly this one order
        assert g["key"] == key and g["orders"] == 1
        assert {s: n for s, n in g["by_state"].items() if n} == {"closed": 1}
        assert (g["reworks"], g["reworked_orders"], g["rework_rate"]) == (1, 1, 1.0)
        assert (g["open_now"], g["overdue_now"], g["false_alarms"], g["returns"]) == (0, 0, 0, 0)
        assert g["extensions_requested"] == g["extensions_approved"] == g["extensions_declined"] == 0
        completed = {"acknowledge": 1, "accept": 2, "arrive": 2, "feedback": 2, "verify": 2, "close": 1}
        for stage in STAGES:
            st = g["stages"][stage]
            assert st["completed"] == completed[stage], (group_by, stage, st)
            assert st["orders_timed"] == 1, (group_by, stage, st)
            assert st["median_s"] == pytest.approx(seconds[stage], abs=2e-3), (group_by, stage, st)
            assert st["p90_s"] == st["median_s"]


def _queue(db_file: Path) -> list[tuple[str, str]]:
    """The hub's durable notification queue: (delivery id, state) of every message."""
    with sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=30) as conn:
        return conn.execute("SELECT delivery_id, state FROM notification_messages ORDER BY id").fetchall()


def _assert_notifications(rx: Receiver, oid: int, worker: str, db_file: Path) -> None:
    def notices(reqs: list[Received]) -> list[tuple[str, str, str]]:
        return sorted(
            (n["trigger"], r.json()["recipient"]["kind"], r.json()["recipient"]["id"])
            for r in reqs
            for n in r.json()["notices"]
        )

    expected = sorted(
        [
            ("new_order", "department", DEPARTMENT),
            ("new_order", "worker", worker),
            ("verification_due", "worker", worker),
            ("verification_due", "worker", worker),
        ]
    )
    rx.wait_for(lambda reqs: len(notices(reqs)) >= len(expected), WAIT_S, "every notification")
    # the queue holds nothing more to send: what the receiver has is all it will get
    deadline = time.monotonic() + WAIT_S
    while {state for _id, state in _queue(db_file)} != {"sent"}:
        assert time.monotonic() < deadline, _queue(db_file)
        time.sleep(0.1)
    reqs = rx.requests
    assert sorted(r.headers["x-gridwatch-delivery"] for r in reqs) == sorted(d for d, _s in _queue(db_file))
    assert notices(reqs) == expected, notices(reqs)
    assert all(r.path == "/ops" and r.json()["channel"] == "ops" and _signed(r) for r in reqs)
    assert all(n["order_id"] == oid for r in reqs for n in r.json()["notices"])
    ids = Counter(r.headers["x-gridwatch-delivery"] for r in reqs)
    assert len(ids) == len(reqs) and set(ids.values()) == {1}
    # each verification-due notice is its own feed event (one per feedback), told once
    due = [n["event_id"] for r in reqs for n in r.json()["notices"] if n["trigger"] == "verification_due"]
    assert len(set(due)) == 2
