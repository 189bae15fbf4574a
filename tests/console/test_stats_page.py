"""The statistics page in a real headless Chromium against a real hub process: orders played through
the loop (one with a rework, a false alarm, one left open), then the page's table and chart, its CSV
download and the printable monthly department report must say exactly what GET /api/v1/stats says for
the same period. Screenshots go to artifacts/screenshots/ (stats.png is copied to docs/screenshots/
when GRIDWATCH_UPDATE_DOC_SHOTS is set: a test run leaves the repository as it was)."""

from __future__ import annotations

import csv
import io
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import httpx
import pytest

from central.stats import columns, table
from gridwatch.config import load_town
from tests.central.conftest import alert, b64, jpeg
from tests.support.browser import chromium
from tests.support.hub import SAMPLE_TOWN, HubProcess, make_token
from tests.support.needs import require_chromium

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
SHOTS = REPO / "artifacts" / "screenshots"
WAIT_MS = 30_000
PHOTO = b64(jpeg())
DEPARTMENT = "natural-resources"


@dataclass
class Desk:
    hub: HubProcess
    tokens: dict[str, str]

    def call(self, method: str, path: str, who: str = "dispatcher", **kw: Any) -> httpx.Response:
        return httpx.request(
            method,
            self.hub.url + path,
            timeout=30,
            headers={"Authorization": f"Bearer {self.tokens[who]}"},
            **kw,
        )

    def act(self, oid: int, who: str, action: str, **extra: Any) -> None:
        r = self.call("POST", f"/api/v1/work-orders/{oid}/actions", who, json={"action": action, **extra})
        assert r.status_code == 200, (action, r.text)

    def raise_alert(self, camera: str, kind: str, event: str) -> int:
        body = alert(camera=camera, kind=kind, event=event, at=datetime.now(UTC), snapshot=jpeg())
        r = self.call("POST", "/api/v1/alerts", "edge-01", json=body)
        assert r.status_code in (200, 201, 202), r.text
        return int(r.json()["work_order_id"])


@pytest.fixture(scope="module")
def desk() -> Iterator[Desk]:
    require_chromium()
    folder = Path(tempfile.mkdtemp(prefix="gridwatch-stats-"))
    hub = HubProcess(db_url=f"sqlite:///{folder / 'hub.db'}").start()
    try:
        tokens = {
            "dispatcher": make_token(hub.db_url, "dispatcher", name="desk-1"),
            "grid_worker": make_token(hub.db_url, "grid_worker", name="gw-1"),
            "department": make_token(hub.db_url, "department", name="nr-1", department=DEPARTMENT),
            "edge-01": make_token(hub.db_url, "edge", node="edge-01"),
        }
        d = Desk(hub=hub, tokens=tokens)
        _play(d)
        yield d
    finally:
        hub.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _play(d: Desk) -> None:
    """A landslide through one rework to closed, a false alarm, and an order left open."""
    oid = d.raise_alert("cam-001", "landslide", "ev-slide")
    d.act(oid, "dispatcher", "acknowledge")
    d.act(oid, "dispatcher", "dispatch", department=DEPARTMENT)
    d.act(oid, "department", "accept")
    d.act(oid, "department", "arrive")
    d.act(oid, "department", "feedback", note="rocks moved", photos=[PHOTO])
    d.act(oid, "grid_worker", "verify", passed=False, note="mud left", photos=[PHOTO])
    d.act(oid, "department", "accept")
    d.act(oid, "department", "feedback", note="mud washed away", photos=[PHOTO])
    d.act(oid, "grid_worker", "verify", passed=True, note="road clear", photos=[PHOTO])
    d.act(oid, "dispatcher", "close", note="done")
    false_alarm = d.raise_alert("cam-002", "flooding", "ev-puddle")
    d.act(false_alarm, "dispatcher", "reject", reason="a puddle")
    d.raise_alert("cam-003", "landslide", "ev-open")


@pytest.fixture(scope="module")
def browser(desk: Desk) -> Iterator[Any]:
    with chromium() as launched:
        yield launched


def _stats_page(browser: Any, desk: Desk, who: str) -> tuple[Any, Any, list[str]]:
    """A new context logged in as ``who`` with the statistics tab open and loaded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    pg = context.new_page()
    errors: list[str] = []
    pg.on("pageerror", lambda exc: errors.append(str(exc)))
    pg.set_default_timeout(WAIT_MS)
    pg.goto(desk.hub.url + "/login")
    pg.fill("#token", desk.tokens[who])
    pg.fill("#name", who)
    pg.click("#login-submit")
    pg.wait_for_selector("body[data-ready=true]")
    pg.click("#tabs a[data-view='stats']")
    pg.wait_for_selector(".view-body[data-loaded=true]")
    return context, pg, errors


@pytest.fixture(scope="module")
def page(desk: Desk, browser: Any) -> Iterator[Any]:
    context, pg, errors = _stats_page(browser, desk, "dispatcher")
    yield pg
    assert errors == []
    context.close()


def _query(pg: Any) -> dict[str, str]:
    """The period and grouping the page asked for, read from its CSV link."""
    href = pg.get_attribute("#stats-csv", "href")
    q = {k: v[0] for k, v in parse_qs(urlsplit(href).query).items()}
    assert q.pop("format") == "csv"
    return q


def _same(shown: str, value: Any) -> bool:
    if value is None:
        return shown == ""
    return float(shown) == pytest.approx(float(value))


def _check_table(pg: Any, data: dict[str, Any]) -> None:
    rows = pg.eval_on_selector_all(
        "#stats-table tbody tr",
        "rows => rows.map(r => [r.dataset.key, Object.fromEntries([...r.querySelectorAll('td[data-field]')]"
        ".map(td => [td.dataset.field, [td.dataset.value, td.textContent]]))])",
    )
    assert [k for k, _ in rows] == [g["key"] or "" for g in data["groups"]]
    for (_, cells), g in zip(rows, data["groups"], strict=True):
        expected = {
            "orders": g["orders"],
            "open_now": g["open_now"],
            "overdue_now": g["overdue_now"],
            "closed": g["by_state"]["closed"],
            "reworks": g["reworks"],
            "rework_rate": g["rework_rate"],
            "extensions_requested": g["extensions_requested"],
            "returns": g["returns"],
            "false_alarms": g["false_alarms"],
            "feedback_on_time_rate": g["stages"]["feedback"]["on_time_rate"],
            "feedback_median_s": g["stages"]["feedback"]["median_s"],
        }
        assert set(cells) == set(expected)
        for field, value in expected.items():
            raw, text = cells[field]
            assert _same(raw, value), (g["key"], field, raw, value)
            if isinstance(value, int):
                assert text == str(value), (g["key"], field, text)
    bars = pg.eval_on_selector_all(
        "#stats-chart g.bar", "gs => gs.map(g => [g.dataset.key, g.dataset.value])"
    )
    assert bars == [[g["key"] or "", str(g["orders"])] for g in data["groups"]]


def test_stats_page_table_chart_and_csv_match_the_api(desk: Desk, page: Any) -> None:
    q = _query(page)
    assert q["group_by"] == "department"
    data = desk.call("GET", "/api/v1/stats", params=q).json()
    deps = {g["key"]: g for g in data["groups"]}
    assert deps[DEPARTMENT]["orders"] == 2 and deps[DEPARTMENT]["reworks"] == 1  # the play is in the period
    _check_table(page, data)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "stats.png"), full_page=True)
    if os.environ.get("GRIDWATCH_UPDATE_DOC_SHOTS"):  # the docs' picture, refreshed on request only
        (REPO / "docs" / "screenshots").mkdir(parents=True, exist_ok=True)
        shutil.copyfile(SHOTS / "stats.png", REPO / "docs" / "screenshots" / "stats.png")

    with page.expect_download() as dl:
        page.click("#stats-csv")
    rows = list(csv.reader(io.StringIO(Path(dl.value.path()).read_text(encoding="utf-8"))))
    assert rows[0] == columns()
    expected = [["" if v is None else str(v) for v in row] for row in table(data["groups"])]
    assert [[_norm(v) for v in row] for row in rows[1:]] == [[_norm(v) for v in row] for row in expected]
    xlsx = page.get_attribute("#stats-xlsx", "href")
    r = desk.call("GET", xlsx)
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/vnd.openxmlformats")

    for group_by in ("grid", "camera", "source"):
        page.select_option("#stats-group", group_by)
        page.wait_for_function(
            "g => document.querySelector('#stats-csv').href.includes('group_by=' + g)"
            " && document.querySelector('.view-body').dataset.loaded === 'true'",
            arg=group_by,
        )
        q = _query(page)
        assert q["group_by"] == group_by
        _check_table(page, desk.call("GET", "/api/v1/stats", params=q).json())


def _norm(v: str) -> Any:
    try:
        return round(float(v), 6)
    except ValueError:
        return v


def test_monthly_report_of_one_department_shows_its_figures(desk: Desk, page: Any) -> None:
    tz = ZoneInfo(load_town(SAMPLE_TOWN).town.timezone)
    today = datetime.now(tz)
    month = f"{today:%Y-%m}"
    page.goto(desk.hub.url + f"/#/stats/report/{DEPARTMENT}/{month}")
    page.wait_for_selector(f"#report[data-department='{DEPARTMENT}'][data-month='{month}']")
    start = today.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    nxt = (start + timedelta(days=32)).replace(day=1)
    end = nxt.astimezone(UTC) - timedelta(seconds=1)
    data = desk.call(
        "GET",
        "/api/v1/stats",
        params={"group_by": "department", "from": start.isoformat(), "to": end.isoformat()},
    ).json()
    g = next(x for x in data["groups"] if x["key"] == DEPARTMENT)
    shown = dict(
        page.eval_on_selector_all(
            "#report dd[data-field]", "ds => ds.map(d => [d.dataset.field, d.dataset.value])"
        )
    )
    expected = {
        "orders": g["orders"],
        "closed": g["by_state"]["closed"],
        "open_now": g["open_now"],
        "overdue_now": g["overdue_now"],
        "reworks": g["reworks"],
        "rework_rate": g["rework_rate"],
        "extensions_requested": g["extensions_requested"],
        "extensions_approved": g["extensions_approved"],
        "returns": g["returns"],
        "false_alarms": g["false_alarms"],
    }
    assert set(shown) == set(expected)
    for field, value in expected.items():
        assert _same(shown[field], value), (field, shown[field], value)
    assert g["reworks"] == 1 and g["orders"] == 2
    stages = page.eval_on_selector_all(
        "#report tbody tr[data-stage]",
        "rs => rs.map(r => [r.dataset.stage, Object.fromEntries([...r.querySelectorAll('td[data-field]')]"
        ".map(td => [td.dataset.field, td.dataset.value]))])",
    )
    assert [s for s, _ in stages] == data["stages"]
    for stage, cells in stages:
        for field, raw in cells.items():
            assert _same(raw, g["stages"][stage][field]), (stage, field, raw)
    assert page.eval_on_selector_all("#report g.bar", "gs => gs.length") == len(data["stages"])
    page.emulate_media(media="print")
    assert page.is_hidden(".topbar") and page.is_hidden("#report-print")
    page.screenshot(path=str(SHOTS / "stats-report-print.png"), full_page=True)
    page.emulate_media(media="screen")


def test_department_staff_see_their_own_department_only(desk: Desk, browser: Any) -> None:
    context, pg, errors = _stats_page(browser, desk, "department")
    try:
        q = _query(pg)
        data = desk.call("GET", "/api/v1/stats", "department", params=q).json()
        assert [g["key"] for g in data["groups"]] == [DEPARTMENT]
        _check_table(pg, data)
        assert errors == []
    finally:
        context.close()
