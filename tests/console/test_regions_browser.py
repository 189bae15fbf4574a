"""Drawing a camera's regions in a real headless Chromium, against a real hub and a real edge worker.

A maintainer opens the edge worker's camera (its picture is the incident snapshot the hub holds),
draws a slope polygon with the mouse, drags one of its points, saves, sees the registry's new version,
and waits until the edge worker's heartbeats report that it runs it. On another camera, whose node
posts a heartbeat with a proposed road, the proposal shows dashed; a save over a version changed
meanwhile is refused with the newer version; after a reload the accepted road is saved.
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
from gridwatch.wire import CameraHealth, CameraStatus
from tests.console import media
from tests.console.regions_page import point_at, wait_saved
from tests.edge.procs import EdgeProcess, wait_for
from tests.edge.town import NODE, write_town
from tests.support.browser import SHOTS, chromium, login
from tests.support.hub import HubProcess, make_token
from tests.support.needs import require_chromium
from tests.support.stack import hub_and_edge, live_video

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]
#: The node whose camera gets a road proposal by a posted heartbeat (no edge worker runs it).
PROPOSING_NODE = "edge-05"
PROPOSAL = [[0.1, 0.55], [0.9, 0.5], [1.0, 1.0], [0.0, 1.0]]


@dataclass
class Stack:
    hub: HubProcess
    town: Town
    camera: str
    maintainer: str
    edge: EdgeProcess

    def call(self, method: str, path: str, **kw: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.maintainer}", **kw.pop("headers", {})}
        return httpx.request(method, self.hub.url + path, headers=headers, timeout=30, **kw)

    def as_node(self, node: str, path: str, model: Any) -> httpx.Response:
        token = make_token(self.hub.db_url, "edge", node=node)
        return httpx.post(self.hub.url + path, content=model.model_dump_json(), timeout=30,
                          headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})

    def node_config(self, node: str) -> dict[str, Any]:
        nodes = self.call("GET", "/api/v1/nodes").json()["items"]
        return next(n for n in nodes if n["id"] == node)["config"]


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    require_chromium()
    folder = Path(tempfile.mkdtemp(prefix="gridwatch-regions-"))
    town_file = folder / "town.yaml"
    (camera,) = write_town(town_file, [str(live_video(folder))], "http://127.0.0.1:1",
                           edge={"heartbeat_every_s": 1.0})
    try:
        with hub_and_edge(folder, town_file) as (hub, edge):
            yield Stack(hub=hub, town=load_town(town_file), camera=camera,
                        maintainer=make_token(hub.db_url, "maintainer", name="m-1"), edge=edge)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def page(stack: Stack) -> Iterator[Any]:
    with chromium() as browser:
        context, pg, errors = login(browser, stack.hub.url, stack.maintainer, "王工")
        yield pg
        assert errors == [], f"JavaScript errors on the page: {errors}"
        context.close()


def _registry(stack: Stack, camera: str) -> dict[str, Any]:
    resp = stack.call("GET", f"/api/v1/registry/cameras/{camera}")
    assert resp.status_code == 200, resp.text
    return resp.json()  # type: ignore[no-any-return]


def test_draw_a_slope_save_and_the_edge_runs_it(stack: Stack, page: Any) -> None:
    # the edge runs the registry's revision before anything is drawn
    rev0 = stack.call("GET", "/api/v1/registry").json()["revision"]
    wait_for(lambda: stack.node_config(NODE)["current"], 60, "the edge to report the revision",
             stack.edge.log)
    # a picture of the camera: an incident snapshot from the real footage, as the edge sends one
    shot = media.jpeg(media.frames(1)[0])
    resp = stack.as_node(NODE, "/api/v1/alerts", media.alert(NODE, stack.camera, "road_blockage", shot))
    assert resp.status_code in (200, 201), resp.text
    before = _registry(stack, stack.camera)
    slopes_before = [r for r in before["camera"].get("rois", []) if r["name"] == "slope"]
    assert len(slopes_before) == 1  # the sample town's camera has a slope drawn in its YAML

    page.goto(f"{stack.hub.url}/#/cameras/{stack.camera}")
    page.wait_for_selector("#regions-version")
    page.wait_for_function("() => { const i = document.querySelector('#regions-picture');"
                           " return i && i.complete && i.naturalWidth > 0; }")
    assert page.locator("#regions-version").get_attribute("data-version") == str(before["version"])

    # one region of each kind: a new slope is refused while the camera has one
    page.select_option("#region-kind", "slope")
    page.click("#region-new")
    page.wait_for_selector("#regions-message[data-key='regions.kind_taken']")
    assert page.locator("#region-finish").count() == 0
    # select the old slope with the mouse and delete it
    (old,) = slopes_before
    inside = (sum(p[0] for p in old["polygon"]) / len(old["polygon"]),
              sum(p[1] for p in old["polygon"]) / len(old["polygon"]))
    page.mouse.click(*point_at(page, *inside))
    page.wait_for_selector("polygon.region.k-slope.selected")
    page.click("#region-delete")
    assert page.locator("polygon.region.k-slope").count() == 0
    # draw: choose the kind, click three points, double-click the fourth to close the polygon
    page.select_option("#region-kind", "slope")
    page.click("#region-new")
    for x, y in ((0.05, 0.1), (0.45, 0.1), (0.45, 0.4)):
        page.mouse.click(*point_at(page, x, y))
    page.mouse.dblclick(*point_at(page, 0.05, 0.4))
    page.wait_for_selector("polygon.region.k-slope")
    # move a point: drag the third vertex's handle
    page.mouse.move(*point_at(page, 0.45, 0.4))
    page.mouse.down()
    page.mouse.move(*point_at(page, 0.5, 0.42), steps=5)
    page.mouse.move(*point_at(page, 0.55, 0.45), steps=5)
    page.mouse.up()
    page.click("#regions-save")
    wait_saved(page)

    after = _registry(stack, stack.camera)
    assert after["version"] == before["version"] + 1
    assert after["revision"] == rev0 + 1
    (slope,) = [r for r in after["camera"]["rois"] if r["name"] == "slope"]
    others = [r for r in before["camera"]["rois"] if r["name"] != "slope"]
    assert [r for r in after["camera"]["rois"] if r["name"] != "slope"] == others  # kept as they were
    assert len(slope["polygon"]) == 4
    expected = [(0.05, 0.1), (0.45, 0.1), (0.55, 0.45), (0.05, 0.4)]
    for (x, y), (ex, ey) in zip(slope["polygon"], expected, strict=True):
        assert abs(x - ex) < 0.02 and abs(y - ey) < 0.02, slope["polygon"]
    assert page.locator("#regions-version").get_attribute("data-version") == str(after["version"])
    audit = stack.call("GET", f"/api/v1/registry/audit?camera={stack.camera}").json()["items"]
    assert "m-1" in str(audit[0])  # the audit trail names who drew it

    # the edge worker takes the new revision and says so in its heartbeats; the page shows it
    wait_for(lambda: stack.node_config(NODE) == {"version": after["revision"], "error": None,
                                                 "registry_revision": after["revision"], "current": True},
             60, "the edge to run the new regions", stack.edge.log)
    page.wait_for_selector("#regions-edge[data-current='true']", timeout=60_000)
    assert page.locator("#regions-edge").get_attribute("data-version") == str(after["revision"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "regions.png"))


def test_accept_the_proposed_road_after_a_conflict(stack: Stack, page: Any) -> None:
    cam = stack.town.cameras_of(PROPOSING_NODE)[0]
    health = CameraHealth(camera_id=cam.id, status=CameraStatus.ONLINE, fps_in=10, fps_analysed=2,
                          decode_errors=0, road_proposal=[tuple(p) for p in PROPOSAL])
    resp = stack.as_node(PROPOSING_NODE, "/api/v1/heartbeats", media.heartbeat(PROPOSING_NODE, [health]))
    assert resp.status_code == 202, resp.text
    shown = stack.call("GET", f"/api/v1/cameras/{cam.id}/health").json()
    assert shown["road_proposal"] == PROPOSAL
    # the node list keeps its figures, not its cameras' proposals
    nodes = stack.call("GET", "/api/v1/nodes").json()["items"]
    assert "road_proposals" not in next(n for n in nodes if n["id"] == PROPOSING_NODE)["health"]
    before = _registry(stack, cam.id)
    # a proposal is shown for cameras without a road: take this one's road away first if it has one
    if any(r["name"] == "road" for r in before["camera"].get("rois", [])):
        r = stack.call("PATCH", f"/api/v1/registry/cameras/{cam.id}",
                       json={"rois": [x for x in before["camera"]["rois"] if x["name"] != "road"] or None},
                       headers={"If-Match": f'"{before["version"]}"'})
        assert r.status_code == 200, r.text

    page.goto(f"{stack.hub.url}/#/cameras/{cam.id}")
    page.wait_for_selector("#road-proposal")
    assert page.locator("polygon.region.proposal").count() == 1
    assert page.locator("#regions-no-picture").count() == 1  # no incident of this camera: a blank frame
    loaded = _registry(stack, cam.id)

    # someone else edits the camera meanwhile: the browser's save is refused with the newer version
    r = stack.call("PATCH", f"/api/v1/registry/cameras/{cam.id}", json={"road": "changed meanwhile"},
                   headers={"If-Match": f'"{loaded["version"]}"'})
    assert r.status_code == 200, r.text
    newer = r.json()["version"]
    page.click("#road-accept")
    page.wait_for_selector("polygon.region.k-road")
    page.click("#regions-save")
    page.wait_for_selector("#regions-message[data-key='regions.conflict']")
    assert str(newer) in page.locator("#regions-message").inner_text()
    assert not any(x["name"] == "road" for x in _registry(stack, cam.id)["camera"].get("rois", []))

    # reload, accept again, save: the proposal is now the camera's road, the other edit kept
    page.click("#regions-reload")
    page.wait_for_selector(f"#regions-version[data-version='{newer}']")
    page.click("#road-accept")
    page.click("#regions-save")
    wait_saved(page)
    saved = _registry(stack, cam.id)
    assert saved["version"] == newer + 1
    assert saved["camera"]["road"] == "changed meanwhile"
    (road,) = [x for x in saved["camera"]["rois"] if x["name"] == "road"]
    assert road["polygon"] == PROPOSAL
    assert page.locator("#road-proposal").count() == 0  # a road exists: no suggestion any more
