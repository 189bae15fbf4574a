"""The phone view (/m/) in a real headless Chromium with a phone's viewport, against a real hub.

A grid worker signs in on the phone, sees their order, opens it (snapshot labelled with its camera,
position), and works it with one-tap actions and a photo from the "camera". With the network off,
actions are queued on the phone (and the server is unchanged); when it comes back they are replayed
and applied once. A reply lost after the hub applied the action (the link dropped on the way back)
is replayed with the same Idempotency-Key and not applied twice.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridwatch.config import Town, load_town
from tests.central.conftest import alert, b64, jpeg
from tests.support.browser import chromium
from tests.support.hub import SAMPLE_TOWN, HubProcess, make_token

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "artifacts" / "screenshots"
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True, "locale": "zh-CN"}
WAIT_MS = 30_000
CAMERA = "cam-001"


@dataclass
class Stack:
    hub: HubProcess
    town: Town
    tokens: dict[str, str]
    worker: str

    def call(self, method: str, path: str, who: str, **kw: Any) -> httpx.Response:
        return httpx.request(method, self.hub.url + path, timeout=30,
                             headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)

    def order(self, oid: int) -> dict[str, Any]:
        r = self.call("GET", f"/api/v1/work-orders/{oid}", "dispatcher")
        r.raise_for_status()
        return r.json()



@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    folder = Path(tempfile.mkdtemp(prefix="gridwatch-phone-"))
    hub = HubProcess(db_url=f"sqlite:///{folder / 'hub.db'}", config=SAMPLE_TOWN).start()
    try:
        town = load_town(SAMPLE_TOWN)
        worker = town.grid(town.cameras_by_id()[CAMERA].grid).worker.id
        tokens = {"edge-01": make_token(hub.db_url, "edge", node="edge-01"),
                  "dispatcher": make_token(hub.db_url, "dispatcher", name="desk-1"),
                  "worker": make_token(hub.db_url, "grid_worker", name=worker)}
        yield Stack(hub=hub, town=town, tokens=tokens, worker=worker)
    finally:
        hub.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _new_order(stack: Stack, event: str) -> int:
    r = stack.call("POST", "/api/v1/alerts", "edge-01",
                   json=alert(camera=CAMERA, event=event, snapshot=jpeg(64, (150, 120, 90))))
    assert r.status_code in (200, 201), r.text
    oid = r.json()["work_order_id"]
    for action in ("acknowledge", "dispatch"):
        done = stack.call("POST", f"/api/v1/work-orders/{oid}/actions", "dispatcher", json={"action": action})
        assert done.status_code == 200, done.text
    return oid


def _actions(stack: Stack, oid: int) -> list[str]:
    return [h["action"] for h in stack.order(oid)["history"]]


def _wait_state(stack: Stack, page: Any, oid: int, state: str) -> None:
    """Wait (on the page's clock, not a sleep) until the hub has the order in ``state``."""
    for _ in range(WAIT_MS // 250):
        if stack.order(oid)["state"] == state:
            return
        page.wait_for_timeout(250)
    raise AssertionError(f"order {oid} never reached {state}: {stack.order(oid)['state']}")


def _shoot(page: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def test_phone_view_works_an_order_offline_and_applies_each_action_once(stack: Stack, browser: Any,
                                                                       tmp_path: Path) -> None:
    oid = _new_order(stack, "ev-phone-1")
    context = browser.new_context(**PHONE)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.set_default_timeout(WAIT_MS)

    # Sign in on the phone (Chinese by default); the order is in "my orders".
    page.goto(stack.hub.url + "/m/")
    page.wait_for_selector("#login-form")
    assert page.inner_text("h1") == "网格员 / 部门 登录"
    page.fill("#token", stack.tokens["worker"])
    page.click("#login-submit")
    card = page.wait_for_selector(f".order-card[data-id='{oid}']")
    assert "山体滑坡" in card.inner_text() and "期限" in card.inner_text()
    _shoot(page, "phone-list")

    # Open it: the snapshot is labelled with its camera; the position is drawn; accept in one tap.
    page.click(f".order-card[data-id='{oid}']")  # (a locator: the list may have been redrawn)
    page.wait_for_selector(f"#order[data-id='{oid}']")
    assert CAMERA in page.inner_text("figcaption")
    page.wait_for_function("() => document.querySelector('img.snapshot')?.naturalWidth > 0")
    assert page.locator("svg.minimap circle.here").count() == 1
    page.click("button[data-action='accept']")
    _wait_state(stack, page, oid, "accepted")
    page.wait_for_selector("button[data-action='arrive']")
    _shoot(page, "phone-order")

    # The network goes: "on site" is queued on the phone, the hub is unchanged.
    context.set_offline(True)
    page.wait_for_selector("#net[data-state='offline']")
    page.click("button[data-action='arrive']")
    page.wait_for_selector("#queue-banner:not([hidden])")
    assert "1" in page.inner_text("#queue-banner")
    page.wait_for_selector("#queued-note")
    assert stack.order(oid)["state"] == "accepted"

    # Back online: the queued action is replayed and applied once.
    context.set_offline(False)
    _wait_state(stack, page, oid, "on_site")
    page.wait_for_selector("#queue-banner", state="hidden")
    assert _actions(stack, oid).count("arrive") == 1

    # Feed back with a photo, but the hub's reply is lost on the way back (the request arrived): the
    # phone keeps the action and replays it with the same key; the hub answers from its record.
    photo = tmp_path / "site.jpg"
    photo.write_bytes(jpeg(96, (30, 160, 60)))
    lost: list[int] = []

    def drop_reply(route: Any) -> None:
        response = route.fetch()  # reaches the hub, which applies it
        lost.append(response.status)
        route.abort("connectionreset")

    page.route("**/api/v1/work-orders/*/actions", drop_reply)
    page.wait_for_selector("button[data-action='feedback']").click()
    page.fill("#f-note", "落石已清理，道路畅通")
    page.set_input_files("#f-photos", str(photo))
    page.click("#form-submit")
    for _ in range(WAIT_MS // 250):  # the route handler runs while Playwright waits
        if lost:
            break
        page.wait_for_timeout(250)
    assert lost == [200]
    page.wait_for_selector("#queue-banner:not([hidden])")
    assert stack.order(oid)["state"] == "fed_back"
    page.unroute("**/api/v1/work-orders/*/actions")
    page.wait_for_selector("#queue-banner", state="hidden")  # the retry timer replays it
    assert _actions(stack, oid).count("feedback") == 1
    resolved = next(h for h in stack.order(oid)["history"] if h["action"] == "feedback")
    assert resolved["note"] == "落石已清理，道路畅通" and len(resolved["attachments"]) == 1
    page.wait_for_selector("#order[data-state='fed_back']")
    _shoot(page, "phone-resolved")

    # A step the hub refuses (taken elsewhere meanwhile) is reported, not retried forever.
    stack.call("POST", f"/api/v1/work-orders/{oid}/actions", "dispatcher", json={"action": "close"})
    page.evaluate(
        """([oid, body]) => {
             const q = JSON.parse(localStorage.getItem('gridwatch.m.queue') || '[]');
             q.push({key: 'stale-step-0001', orderId: oid, body, label: 'feedback', queuedAt: 'now'});
             localStorage.setItem('gridwatch.m.queue', JSON.stringify(q)); }""",
        [oid, {"action": "feedback", "note": "again", "photos": [b64(jpeg())]}],
    )
    page.wait_for_selector("#failed:not([hidden]) .error")
    assert _actions(stack, oid).count("feedback") == 1
    assert errors == [], f"JavaScript errors on the page: {errors}"
    context.close()


def test_phone_view_is_served_with_the_console_policy(stack: Stack) -> None:
    r = httpx.get(stack.hub.url + "/m/", timeout=30)
    assert r.status_code == 200 and "mobile.js" in r.text
    assert "script-src 'self'" in r.headers["content-security-policy"]
    assert httpx.get(stack.hub.url + "/m", timeout=30, follow_redirects=False).headers["location"] == "/m/"
