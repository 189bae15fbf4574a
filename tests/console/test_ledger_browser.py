"""The maintainer's path from the console alone (issue 22's done-when), in a real headless Chromium
against a real hub and a real ``gridwatch edge`` worker reading a password-protected RTSP camera.

A ledger with bad rows is uploaded first: nothing is imported and every bad row is listed (row,
column, reason). Then the town's 280-row ledger (.xlsx, Chinese headers): the page says 280 created,
the health wall shows the new cameras; the edge takes the registry's revision, reads the ledger's
camera whose row points at the RTSP server (password by reference, from the edge's secrets file) and
proposes its road; the maintainer opens the camera from the wall, accepts the proposed road, draws its
slope, saves, and watches the edge report the new version. Screenshots go to artifacts/screenshots/
(ledger-*.png are copied to docs/img/ for docs/MAINTAINER.md).
"""

from __future__ import annotations

import csv
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridwatch.config import Town, load_town
from tests.central.test_registry_cli import ZH, ledger_rows, xlsx
from tests.console import media
from tests.console.regions_page import point_at, wait_saved
from tests.edge.procs import EdgeProcess, wait_for
from tests.edge.town import NODE, write_town
from tests.support.browser import SHOTS, chromium, login
from tests.support.hub import HubProcess, make_token
from tests.support.needs import require_chromium
from tests.support.rtsp import RtspServer, rtsp_available
from tests.support.stack import hub_and_edge, live_video

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.rtsp]

SECRET = "ledger-Cam-9"
SECRET_REF = "ledger-cam-001"
#: The ledger's camera the edge worker reads (row 1); the other rows are on other nodes.
LIVE = "led-001"


@dataclass
class Stack:
    hub: HubProcess
    town: Town
    folder: Path
    maintainer: str
    edge: EdgeProcess
    rtsp: RtspServer

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.maintainer}", **kw.pop("headers", {})}
        return httpx.request(method, self.hub.url + path, headers=headers, timeout=30, **kw)

    def node_config(self) -> dict[str, Any]:
        nodes = self.call("GET", "/api/v1/nodes").json()["items"]
        return next(n for n in nodes if n["id"] == NODE)["config"]  # type: ignore[no-any-return]

    def cameras(self) -> int:
        return self.call("GET", "/api/v1/registry/cameras").json()["total"]  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_chromium()
    if not rtsp_available():
        pytest.skip("GStreamer RTSP server bindings missing for /usr/bin/python3")
    folder = Path(tempfile.mkdtemp(prefix="gridwatch-ledger-"))
    # the real footage, so the edge sees traffic and proposes the road (about 15 s of it at 2 fps)
    rtsp = RtspServer(user="viewer", password=SECRET, file=live_video(folder))
    rtsp.start()
    town_file = folder / "town.yaml"
    write_town(town_file, [], "http://127.0.0.1:1", detection={"analysis_fps": 2.0},
               edge={"heartbeat_every_s": 1.0, "reconnect_max_s": 2.0, "config_poll_s": 5.0})
    secrets = folder / "secrets.yaml"
    secrets.write_text(f"{SECRET_REF}: {SECRET}\n", encoding="utf-8")
    try:
        with hub_and_edge(folder, town_file, ("--secrets", str(secrets))) as (hub, edge):
            yield Stack(hub=hub, town=load_town(town_file), folder=folder, edge=edge, rtsp=rtsp,
                        maintainer=make_token(hub.db_url, "maintainer", name="m-ledger"))
    finally:
        rtsp.stop()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def page(stack: Stack) -> Iterator[Any]:
    with chromium() as browser:
        context, pg, errors = login(browser, stack.hub.url, stack.maintainer, "王工")
        yield pg
        assert errors == [], f"JavaScript errors on the page: {errors}"
        context.close()


def _ledger(stack: Stack) -> list[list[Any]]:
    """The 280-row ledger; row 1 is the RTSP camera on the edge worker's node, the others elsewhere."""
    others = [n.id for n in stack.town.nodes if n.id != NODE]
    rows = [[*r[:11], r[11] if r[11] != NODE else others[i % len(others)], ""]
            for i, r in enumerate(ledger_rows(stack.town))]
    rows[0][10], rows[0][11] = SECRET_REF, NODE
    rows[0][12] = f"rtsp://viewer:{{password}}@127.0.0.1:{stack.rtsp.port}/cam"
    return rows


def _inside(p: tuple[float, float], polygon: list[list[float]]) -> bool:
    """Whether ``p`` is inside ``polygon`` (ray casting)."""
    x, y, inside = p[0], p[1], False
    for (x0, y0), (x1, y1) in zip(polygon, polygon[1:] + polygon[:1], strict=True):
        if (y0 > y) != (y1 > y) and x < x0 + (y - y0) * (x1 - x0) / (y1 - y0):
            inside = not inside
    return inside


def _upload(page: Any, path: Path) -> None:
    page.goto(f"{page.url.split('#')[0]}#/health")
    page.wait_for_selector("#ledger-open")
    if page.locator("#ledger-panel").is_hidden():
        page.click("#ledger-open")
    page.set_input_files("#ledger-file", str(path))
    page.click("#ledger-import")
    page.wait_for_selector("#ledger-result[data-state='ok'], #ledger-result[data-state='error']")


def test_a_ledger_with_bad_rows_imports_nothing_and_lists_them(stack: Stack, page: Any) -> None:
    before = stack.cameras()
    rows = _ledger(stack)[:5]
    rows[1][4] = "east"  # longitude not a number
    rows[3][2] = "no such village"
    bad = stack.folder / "bad.csv"
    with open(bad, "w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([[*ZH, "主码流"], *rows])
    _upload(page, bad)
    assert page.locator("#ledger-result").get_attribute("data-state") == "error"
    listed = page.locator("#ledger-errors tbody tr").all_inner_texts()
    assert len(listed) == 2, listed
    assert listed[0].startswith("3") and "lon" in listed[0]  # spreadsheet row 3: the header is row 1
    assert listed[1].startswith("5") and "village" in listed[1]
    assert "Nothing imported" in page.locator("#ledger-message").inner_text() or \
        "未导入" in page.locator("#ledger-message").inner_text()
    assert stack.cameras() == before


def test_from_the_ledger_to_the_edge_running_the_drawn_regions(stack: Stack, page: Any) -> None:
    before = stack.cameras()
    ledger = xlsx(stack.folder / "台账.xlsx", [*ZH, "主码流"], _ledger(stack))
    _upload(page, ledger)
    result = page.locator("#ledger-result")
    assert result.get_attribute("data-state") == "ok", page.locator("#ledger-message").inner_text()
    assert result.get_attribute("data-created") == "280"
    assert stack.cameras() == before + 280
    # every ledger camera is on the health wall, without reloading the page
    page.wait_for_selector(f"a.tile[data-camera='{LIVE}']")
    assert page.locator("a.tile[data-camera^='led-']").count() == 280
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "ledger-import.png"))

    # the edge takes the new revision, reads the ledger's camera and proposes its road
    revision = stack.call("GET", "/api/v1/registry").json()["revision"]
    wait_for(lambda: stack.node_config()["version"] == revision, 60, "the edge to run the ledger",
             stack.edge.log)

    def health() -> dict[str, Any]:
        return stack.call("GET", f"/api/v1/cameras/{LIVE}/health").json()  # type: ignore[no-any-return]

    proposal = wait_for(lambda: health()["status"] != "offline" and health()["road_proposal"], 120,
                        "the edge to read the camera and propose its road", stack.edge.log)

    # a picture to draw on: an incident snapshot of the real footage, as the camera's edge sends one
    token = make_token(stack.hub.db_url, "edge", node=NODE)
    alert = media.alert(NODE, LIVE, "road_blockage", media.jpeg(media.frames(1)[0]))
    resp = httpx.post(stack.hub.url + "/api/v1/alerts", content=alert.model_dump_json(), timeout=30,
                      headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    assert resp.status_code in (200, 201), resp.text

    # open it from the wall, accept the proposed road, draw the slope, save
    page.click(f"a.tile[data-camera='{LIVE}']")
    page.wait_for_selector("#road-proposal")
    page.wait_for_function("() => { const i = document.querySelector('#regions-picture');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    version = int(page.locator("#regions-version").get_attribute("data-version"))
    page.click("#road-accept")
    page.wait_for_selector("polygon.region.k-road")
    # the accepted road is selected (the kind list would turn it into a slope): click beside it first
    beside = next((x / 10, y / 10) for y in range(1, 10) for x in range(1, 10)
                  if not _inside((x / 10, y / 10), proposal))
    page.mouse.click(*point_at(page, *beside))
    page.wait_for_selector("polygon.region.selected", state="detached")
    page.select_option("#region-kind", "slope")
    page.click("#region-new")
    for x, y in ((0.05, 0.05), (0.6, 0.05), (0.6, 0.3)):
        page.mouse.click(*point_at(page, x, y))
    page.mouse.dblclick(*point_at(page, 0.05, 0.3))
    page.wait_for_selector("polygon.region.k-slope")
    page.screenshot(path=str(SHOTS / "ledger-regions.png"))
    page.click("#regions-save")
    wait_saved(page)
    saved = stack.call("GET", f"/api/v1/registry/cameras/{LIVE}").json()
    assert saved["version"] == version + 1
    assert sorted(r["name"] for r in saved["camera"]["rois"]) == ["road", "slope"]

    # the edge runs it and says so; the page shows it
    wait_for(lambda: stack.node_config() == {"version": saved["revision"], "error": None,
                                             "registry_revision": saved["revision"], "current": True},
             60, "the edge to run the drawn regions", stack.edge.log)
    page.wait_for_selector("#regions-edge[data-current='true']", timeout=60_000)
    assert page.locator("#regions-edge").get_attribute("data-version") == str(saved["revision"])
    page.screenshot(path=str(SHOTS / "ledger-edge-runs.png"))
    assert SECRET not in stack.edge.log()
