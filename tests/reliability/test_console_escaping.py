"""Hostile text rendered by the real console in headless Chromium: a grid worker's report whose
description and a dispatcher's note carry HTML and SQL. The page must show the text literally: no
script runs (no dialog, no injected element), and the visible text equals what was typed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.hub import HubProcess, make_token
from tests.support.needs import require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]
CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--no-first-run", "--disable-sync"]
HOSTILE = ("<script>window.__pwned = 1; alert('x')</script><img src=x onerror=\"window.__pwned = 2\">"
           "'; DROP TABLE work_orders; -- <b>bold?</b> 山体滑坡")


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    require_chromium()
    root = tmp_path_factory.mktemp("escaping")
    proc = HubProcess(db_url=f"sqlite:///{root / 'hub.db'}", media_dir=root / "media").start()
    yield proc
    proc.stop()


def test_console_shows_hostile_text_literally(hub: HubProcess) -> None:
    from playwright.sync_api import sync_playwright

    worker = make_token(hub.db_url, "grid_worker", name="gw-1")
    desk = make_token(hub.db_url, "dispatcher", name="desk-1")
    service = httpx.get(hub.url + "/open311/v2/services.json").json()[0]["service_code"]
    r = httpx.post(hub.url + "/open311/v2/requests.json", data={
        "api_key": worker, "service_code": service, "lat": "29.03", "long": "117.21",
        "description": HOSTILE})
    assert r.status_code in (200, 201), r.text
    order = r.json()[0]["service_request_id"]
    act = httpx.post(f"{hub.url}/api/v1/work-orders/{order}/actions", json={"action": "acknowledge",
                     "note": HOSTILE}, headers={"Authorization": f"Bearer {desk}"})
    assert act.status_code == 200, act.text
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_context().new_page()
            dialogs: list[str] = []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.set_default_timeout(30_000)
            page.goto(hub.url + "/login")
            page.fill("#token", desk)
            page.click("#login-submit")
            page.wait_for_selector("body[data-ready=true]")
            page.goto(f"{hub.url}/#/orders/{order}")
            page.wait_for_selector(f"#order[data-order='{order}']")
            page.wait_for_function("() => document.querySelectorAll('#order-history li').length >= 2")
            body_text = page.inner_text("#view")
            pwned = page.evaluate("() => window.__pwned ?? null")
            injected = page.evaluate(
                "() => document.querySelectorAll('#view script, #view img[src=\"x\"]').length + "
                "[...document.querySelectorAll('#view b')].filter(b => b.textContent === 'bold?').length")
        finally:
            browser.close()
    assert pwned is None and not dialogs, "the hostile text ran as script"
    assert injected == 0, "the hostile text became elements"
    assert body_text.count("<script>window.__pwned = 1; alert('x')</script>") >= 2  # description + note
    assert "'; DROP TABLE work_orders; -- <b>bold?</b> 山体滑坡" in body_text
