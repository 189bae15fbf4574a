"""The console in a real headless Chromium against a real hub process and a real edge worker.

One hub (SQLite) and one edge worker whose first camera reads a local video file are started for the
module; the browser logs in with a dispatcher token and then, without ever reloading the page, sees an
alert posted by an edge node appear in the feed, acknowledges and dispatches its work order, watches
the history grow, switches language, opens the 280-camera health wall, and plays a camera's live
view over WebRTC relayed by the hub. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import random
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from gridwatch.config import Town, load_town
from gridwatch.wire import CameraHealth, CameraStatus, EventKind
from tests.console import media
from tests.edge.procs import EdgeProcess, query, wait_for
from tests.edge.town import NODE, write_town
from tests.support.browser import SHOTS, VIEWPORT, WAIT_MS, chromium, login
from tests.support.hub import HubProcess, make_token
from tests.support.net import free_port
from tests.support.stack import hub_and_edge, live_video

pytestmark = [pytest.mark.browser, pytest.mark.slow]

REPO = Path(__file__).resolve().parents[2]

#: The node whose alerts the tests post (not the edge worker's node, whose camera is live).
ALERT_NODE = "edge-05"
BOARD_TAB = "#tabs a[data-view='board']"



@dataclass
class Stack:
    hub: HubProcess
    town: Town
    town_file: Path
    live_camera: str
    dispatcher: str
    edge_tokens: dict[str, str]
    edge: EdgeProcess

    def post(self, path: str, model: Any, node: str) -> httpx.Response:
        if node not in self.edge_tokens:
            self.edge_tokens[node] = make_token(self.hub.db_url, "edge", node=node)
        return httpx.post(self.hub.url + path, content=model.model_dump_json(), timeout=30,
                          headers={"Authorization": f"Bearer {self.edge_tokens[node]}",
                                   "Content-Type": "application/json"})

    def api(self, path: str) -> Any:
        resp = httpx.get(self.hub.url + path, timeout=30,
                         headers={"Authorization": f"Bearer {self.dispatcher}"})
        resp.raise_for_status()
        return resp.json()


@pytest.fixture(scope="module")
def stack() -> Iterator[Stack]:
    folder = Path(tempfile.mkdtemp(prefix="gridwatch-console-"))
    town_file = folder / "town.yaml"
    (live_camera,) = write_town(town_file, [str(live_video(folder))], "http://127.0.0.1:1",
                                edge={"heartbeat_every_s": 1.0})
    try:
        with hub_and_edge(folder, town_file, ("--live-port", str(free_port()))) as (hub, edge):
            yield Stack(hub=hub, town=load_town(town_file), town_file=town_file, live_camera=live_camera,
                        dispatcher=make_token(hub.db_url, "dispatcher", name="desk-1"), edge_tokens={},
                        edge=edge)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def page(stack: Stack, browser: Any) -> Iterator[Any]:
    """One logged-in dispatcher page for the whole module (as the desk keeps it open all shift)."""
    context = browser.new_context(viewport=VIEWPORT)
    pg = context.new_page()
    pg.set_default_timeout(WAIT_MS)
    pg.goto(stack.hub.url + "/login")
    pg.fill("#token", "not-a-real-token")
    pg.click("#login-submit")
    pg.wait_for_selector("#login-error:not([hidden])")
    context.close()
    context, pg, errors = login(browser, stack.hub.url, stack.dispatcher, "李明")
    pg.wait_for_selector("#feed-state.state-open")  # the live feed is connected
    pg.evaluate("window.__sameDocument = true")  # proves later that nothing reloaded the page
    yield pg
    assert errors == [], f"JavaScript errors on the page: {errors}"
    context.close()


def _shoot(pg: Any, name: str) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"))


def _until(pg: Any, condition: str, timeout: float = WAIT_MS) -> None:
    """Wait until a JavaScript condition holds (as a function: the page's CSP forbids eval)."""
    pg.wait_for_function(f"() => {condition}", timeout=timeout)


def _open_orders(stack: Stack) -> list[dict[str, Any]]:
    return [o for o in stack.api("/api/v1/work-orders")["items"] if o["state"] not in ("closed", "rejected")]


def _same_document(pg: Any) -> bool:
    return bool(pg.evaluate("window.__sameDocument === true"))


def _catalogue(lang: str) -> dict[str, str]:
    import json

    return json.loads((REPO / "central/console/static/i18n" / f"{lang}.json").read_text(encoding="utf-8"))


def _background(stack: Stack, pictures: list[Any]) -> None:
    """Earlier orders of the shift, some already being worked, from other nodes (for a real board)."""
    desk = {"Authorization": f"Bearer {stack.dispatcher}"}
    earlier = (("edge-06", "road_blockage", ["acknowledge", "dispatch"]),
               ("edge-07", "landslide", ["acknowledge"]),
               ("edge-08", "camera_too_dark", []),
               ("edge-09", "road_blockage", []))
    for i, (node, kind, steps) in enumerate(earlier):
        cam = stack.town.cameras_of(node)[i + 2]
        snapshot = media.jpeg(pictures[4 * i])
        resp = stack.post("/api/v1/alerts", media.alert(node, cam.id, kind, snapshot), node)
        assert resp.status_code in (200, 201), resp.text
        for action in steps:
            done = httpx.post(f"{stack.hub.url}/api/v1/work-orders/{resp.json()['work_order_id']}/actions",
                              json={"action": action}, headers=desk, timeout=30)
            assert done.status_code == 200, done.text


def test_new_alerts_appear_in_the_feed_without_reload(stack: Stack, page: Any) -> None:
    pictures = media.frames(20)
    cams = stack.town.cameras_of(ALERT_NODE)
    zh = _catalogue("zh-CN")
    _background(stack, pictures)
    # Some more, as a real shift has: a blocked road, a flood, a camera fault.
    for cam, kind in ((cams[3], "road_blockage"), (cams[7], "flooding"), (cams[11], "camera_blurred")):
        resp = stack.post("/api/v1/alerts", media.alert(ALERT_NODE, cam.id, kind, media.jpeg(pictures[5])),
                          ALERT_NODE)
        assert resp.status_code in (200, 201), resp.text
    # The one this test follows: a landslide, P1, with snapshot and clip.
    cam = cams[0]
    resp = stack.post("/api/v1/alerts", media.alert(ALERT_NODE, cam.id, "landslide", media.jpeg(pictures[0]),
                                                    media.mp4(pictures)), ALERT_NODE)
    assert resp.status_code in (200, 201), resp.text
    order_id = resp.json()["work_order_id"]
    assert order_id is not None

    item = page.wait_for_selector(f".feed-item[data-order='{order_id}']")
    assert _same_document(page)
    text = item.inner_text()
    village = stack.town.village(cam.village).name
    for expected in (zh["kind.landslide"], cam.id, village, stack.town.grid(cam.grid).name, "P1"):
        assert expected in text, f"{expected!r} not in feed item {text!r}"
    assert "p-P1" in (item.get_attribute("class") or "")
    assert item.get_attribute("data-alarmed") == "true"  # a fresh P1 flashes (and beeps if sound is on)
    thumb = f".feed-item[data-order='{order_id}'] img.thumb"
    _until(page, f"document.querySelector({thumb!r})?.naturalWidth > 0")
    assert page.locator(".feed-item").count() >= 4
    # The camera fault is in the feed too, without a work order.
    assert page.locator(".feed-item[data-kind='camera_blurred']").count() == 1
    page.click("#feed-faults")  # the desk can hide camera faults from the list, and show them again
    page.wait_for_selector(".feed-item[data-kind='camera_blurred']", state="detached")
    page.click("#feed-faults")
    page.wait_for_selector(".feed-item[data-kind='camera_blurred']")
    _shoot(page, "feed")


def test_acknowledge_and_dispatch_from_the_order_page(stack: Stack, page: Any) -> None:
    orders = stack.api("/api/v1/work-orders?kind=landslide")["items"]
    order_id = orders[0]["id"]
    page.click(f".feed-item[data-order='{order_id}']")
    page.wait_for_selector(f"#order[data-order='{order_id}'][data-state='new']")
    assert _same_document(page)
    history = page.locator("#order-history li")
    assert history.count() == 1

    def buttons() -> set[str]:
        return set(page.eval_on_selector_all("#order-actions button[data-action]",
                                             "els => els.map(e => e.dataset.action)"))

    # Only what a dispatcher may do to a new order is offered.
    assert buttons() == {"acknowledge", "reject"}
    page.click("#order-actions button[data-action='acknowledge']")
    page.wait_for_selector("#order[data-state='acknowledged']")
    page.wait_for_function("() => document.querySelectorAll('#order-history li').length === 2")
    assert buttons() == {"dispatch", "reject", "reassign"}

    page.click("#order-actions button[data-action='dispatch']")
    page.wait_for_selector("#form-dispatch")
    page.fill("#form-dispatch textarea[name='note']", "请网格员和自然资源所立即到场")
    page.click("#action-submit")
    page.wait_for_selector("#order[data-state='dispatched']")
    page.wait_for_function("() => document.querySelectorAll('#order-history li').length === 3")
    assert buttons() == {"accept", "reject", "reassign"}  # arrive/resolve are the grid worker's
    actions = page.eval_on_selector_all("#order-history li", "els => els.map(e => e.dataset.action)")
    assert actions == ["create", "acknowledge", "dispatch"]
    assert "请网格员和自然资源所立即到场" in page.inner_text("#order-history")

    # The hub recorded the same, with the person who logged in (and the token's name) as the actor.
    detail = stack.api(f"/api/v1/work-orders/{order_id}")
    assert [h["action"] for h in detail["history"]] == actions
    assert detail["history"][1]["actor"] == "李明 (desk-1)" and detail["history"][1]["role"] == "dispatcher"

    # Evidence: the snapshot shows, labelled with the camera that took it; the clip plays in a <video>.
    page.wait_for_function("() => document.querySelector('#order-snapshot')?.naturalWidth > 0")
    caption = page.inner_text("#order .snap.main figcaption")
    assert caption.startswith(detail["camera"]["id"]), caption
    assert detail["snapshots"][0]["camera_id"] == detail["camera"]["id"]
    # A step done shows its deadline as the big figure (not when it was done), and when beneath.
    ack = "[data-deadline='acknowledge']"
    assert page.get_attribute(f"{ack} .left", "data-at") == detail["deadlines"]["acknowledge_by"]
    assert page.locator(f"{ack} .done-at").count() == 1
    page.wait_for_function("() => document.querySelector('#order-clip').readyState >= 1 && "
                           "document.querySelector('#order-clip').videoWidth > 0")
    # Deadlines count down.
    first = page.inner_text("[data-deadline='arrive'] .left")
    _until(page, f"document.querySelector(\"[data-deadline='arrive'] .left\").textContent !== {first!r}")
    assert _same_document(page)
    _until(page, "document.querySelector('#order-clip').readyState >= 2")  # a picture to show
    _shoot(page, "order")


def test_department_handles_the_order_and_the_grid_worker_verifies(
    stack: Stack, browser: Any, page: Any
) -> None:
    order_id = stack.api("/api/v1/work-orders?kind=landslide")["items"][0]["id"]
    token = make_token(stack.hub.db_url, "department", name="nr-desk", department="natural-resources")
    context, pg, errors = login(browser, stack.hub.url, token, "王芳")
    try:
        assert pg.locator(".layout.no-feed").count() == 1  # the feed and the health wall are the centre's
        pg.evaluate(f"window.location.hash = '#/orders/{order_id}'")
        pg.wait_for_selector(f"#order[data-order='{order_id}'][data-state='dispatched']")
        pg.click("#order-actions button[data-action='accept']")
        pg.wait_for_selector("#order[data-state='accepted']")
        pg.click("#order-actions button[data-action='arrive']")
        pg.wait_for_selector("#order[data-state='on_site']")
        pg.click("#order-actions button[data-action='feedback']")
        pg.wait_for_selector("#form-feedback")
        pg.fill("#form-feedback textarea[name='note']", "落石已清理，道路恢复通行")
        photo = media.jpeg(media.frames(1)[0])
        pg.set_input_files("#form-feedback input[name='photos']",
                           files=[{"name": "site.jpg", "mimeType": "image/jpeg", "buffer": photo}])
        pg.click("#action-submit")
        pg.wait_for_selector("#order[data-state='fed_back']")
        evidence = "#order-history li[data-action='feedback'] img"
        _until(pg, f"document.querySelector({evidence!r})?.naturalWidth > 0")
        assert pg.locator("#order-actions button[data-action]").count() == 0  # the grid worker's turn
        assert errors == []
    finally:
        context.close()
    detail = stack.api(f"/api/v1/work-orders/{order_id}")
    feedback = detail["history"][-1]
    assert feedback["action"] == "feedback" and feedback["actor"] == "王芳 (nr-desk)"
    assert feedback["role"] == "department"
    assert feedback["note"] == "落石已清理，道路恢复通行" and len(feedback["attachments"]) == 1
    # The grid worker of the order's grid checks on site and passes it.
    worker = make_token(stack.hub.db_url, "grid_worker", name=detail["assignee"]["id"])
    context, pg, errors = login(browser, stack.hub.url, worker, "罗勇")
    try:
        pg.evaluate(f"window.location.hash = '#/orders/{order_id}'")
        pg.wait_for_selector(f"#order[data-order='{order_id}'][data-state='fed_back']")
        pg.click("#order-actions button[data-action='verify']")
        pg.wait_for_selector("#form-verify")
        pg.select_option("#form-verify select[name='passed']", "true")
        pg.fill("#form-verify textarea[name='note']", "现场核查通过")
        pg.click("#action-submit")
        pg.wait_for_selector("#order[data-state='verified']")
        assert errors == []
    finally:
        context.close()
    # The desk sees it verified without reloading, and may now close it.
    page.wait_for_selector(f"#order[data-order='{order_id}'][data-state='verified']")
    page.wait_for_selector("#order-actions button[data-action='close']")
    assert _same_document(page)


def test_reject_as_false_alarm_needs_a_reason(stack: Stack, page: Any) -> None:
    order_id = stack.api("/api/v1/work-orders?kind=flooding")["items"][0]["id"]
    page.evaluate(f"window.location.hash = '#/orders/{order_id}'")
    page.wait_for_selector(f"#order[data-order='{order_id}'][data-state='new']")
    page.click("#order-actions button[data-action='reject']")
    page.wait_for_selector("#form-reject")
    page.fill("#form-reject textarea[name='reason']", "路面反光，非积水")
    page.click("#action-submit")
    page.wait_for_selector("#order[data-state='rejected']")
    assert page.locator("#order-actions button[data-action]").count() == 0  # nothing more to do
    # An ended order: each deadline box left (the stages it reached) shows that deadline, none counts
    # down, none shows an action's time in the deadline's place.
    detail = stack.api(f"/api/v1/work-orders/{order_id}")
    shown = dict(page.eval_on_selector_all(
        "#order [data-deadline]",
        "els => els.map(e => [e.dataset.deadline, e.querySelector('.left').dataset.at])"))
    assert shown and all(shown[w] == detail["deadlines"][f"{w}_by"] for w in shown), shown
    assert page.locator("#order [data-deadline] [data-due]").count() == 0
    page.click("#tabs a[data-view='board']")
    page.wait_for_selector(f"#board .column[data-state='closed rejected'] .card[data-order='{order_id}']")
    assert _same_document(page)
    # Filters narrow the board; the counters count what is open.
    cards = "#board .card[data-order]"
    everything = page.locator(cards).count()
    page.select_option("#filter-kind", "road_blockage")
    blocked = stack.api("/api/v1/work-orders?kind=road_blockage")["total"]
    assert 0 < blocked < everything
    _until(page, f"document.querySelectorAll({cards!r}).length === {blocked}")
    page.select_option("#filter-kind", "")
    _until(page, f"document.querySelectorAll({cards!r}).length === {everything}")
    assert page.inner_text("#board-counters [data-counter='open'] b") == str(len(_open_orders(stack)))


def test_a_late_answer_does_not_draw_over_the_next_view(stack: Stack, page: Any) -> None:
    """An order page reloading itself on a feed event must not paint over the board the user moved to."""
    order_id = next(o["id"] for o in stack.api("/api/v1/work-orders?kind=road_blockage")["items"]
                    if o["state"] == "new")
    page.evaluate(f"window.location.hash = '#/orders/{order_id}'")
    page.wait_for_selector(f"#order[data-order='{order_id}'][data-state='new']")
    held: list[Any] = []
    detail = f"**/api/v1/work-orders/{order_id}"
    page.route(detail, lambda route: held.append(route))  # hold the order page's next look at the order
    try:
        # Someone else acknowledges it: the feed tells the open order page, which asks again.
        with page.expect_request(lambda r: r.url.endswith(f"/api/v1/work-orders/{order_id}")):
            done = httpx.post(f"{stack.hub.url}/api/v1/work-orders/{order_id}/actions",
                              json={"action": "acknowledge"}, timeout=30,
                              headers={"Authorization": f"Bearer {stack.dispatcher}"})
            assert done.status_code == 200, done.text
        page.click(BOARD_TAB)  # the user moves on before the answer comes
        page.wait_for_selector(f"#board .card[data-order='{order_id}'][data-state='acknowledged']")
        assert len(held) == 1
        with page.expect_response(lambda r: r.url.endswith(f"/api/v1/work-orders/{order_id}")):
            held[0].continue_()
        page.evaluate("new Promise((done) => setTimeout(done, 300))")  # let the late answer be drawn
    finally:
        page.unroute(detail)
    assert page.locator("#order").count() == 0
    assert page.locator(f"#board .card[data-order='{order_id}']").count() == 1


def test_overview_map_marks_villages_with_open_orders(stack: Stack, page: Any) -> None:
    page.click("#tabs a[data-view='map']")
    page.wait_for_selector("#map circle.cam")
    assert page.locator("#map circle.cam").count() == len(stack.town.cameras)
    assert page.locator("#map circle.village").count() == len(stack.town.villages)
    hot = {o["village"]["id"] for o in _open_orders(stack)}
    shown = set(page.eval_on_selector_all("#map circle.village.hot",
                                          "els => els.map(e => e.dataset.village)"))
    assert shown == hot and hot


def test_language_switch_and_memory(stack: Stack, page: Any) -> None:
    zh, en = _catalogue("zh-CN"), _catalogue("en")
    page.click(BOARD_TAB)
    page.wait_for_selector("#board .column")
    tab = page.locator(BOARD_TAB)
    assert tab.inner_text() == zh["nav.board"]  # Simplified Chinese by default
    sound = page.locator("#sound-toggle")
    assert sound.inner_text() == zh["sound.off"]
    sound.click()  # turns the P1 beep on (and plays it once: the click unlocks audio)
    assert sound.get_attribute("aria-pressed") == "true" and sound.inner_text() == zh["sound.on"]
    page.select_option("#lang", "en")
    _until(page, f"document.querySelector({BOARD_TAB!r}).textContent === {en['nav.board']!r}")
    assert page.inner_text("#board .column[data-state='new'] .column-head span") == en["state.new"]
    # In English the longer state names stay clear of their counts (cut with an ellipsis if need be).
    heads = page.eval_on_selector_all("#board .column-head", """els => els.map(e => {
        const title = e.querySelector('.column-title').getBoundingClientRect();
        const count = e.querySelector('.count').getBoundingClientRect();
        return [e.textContent, title.right, count.left, count.width]; })""")
    assert len(heads) >= 5
    for text, title_right, count_left, count_width in heads:
        assert title_right <= count_left and count_width > 0, (text, title_right, count_left)
    _shoot(page, "board-en")
    assert page.evaluate("document.documentElement.lang") == "en"
    assert _same_document(page)
    # Remembered across a reload.
    page.reload()
    page.wait_for_selector("body[data-ready=true]")
    assert page.locator("#tabs a[data-view='board']").inner_text() == en["nav.board"]
    page.select_option("#lang", "zh-CN")
    _until(page, f"document.querySelector({BOARD_TAB!r}).textContent === {zh['nav.board']!r}")
    page.wait_for_selector("#feed-state.state-open")
    page.evaluate("window.__sameDocument = true")


def _heartbeats(stack: Stack, seed: int) -> dict[str, CameraHealth]:
    """Mixed health for a few nodes (not the live worker's); returns what was sent per camera."""
    rng = random.Random(seed)
    faults = [EventKind.CAMERA_BLURRED, EventKind.CAMERA_OCCLUDED, EventKind.CAMERA_TOO_DARK,
              EventKind.CAMERA_FROZEN, EventKind.CAMERA_MOVED]
    sent: dict[str, CameraHealth] = {}
    from datetime import UTC, datetime, timedelta

    now = datetime.now(UTC)
    for node in ("edge-02", "edge-03", "edge-04", "edge-05", "edge-06", "edge-07", "edge-08", "edge-09"):
        cams = []
        for cam in stack.town.cameras_of(node):
            r = rng.random()
            if r < 0.05:
                health = CameraHealth(camera_id=cam.id, status=CameraStatus.OFFLINE, fps_in=0, fps_analysed=0,
                                      decode_errors=4, faults=[EventKind.CAMERA_OFFLINE],
                                      last_frame_at=now - timedelta(minutes=rng.randint(2, 300)))
            elif r < 0.14:
                health = CameraHealth(camera_id=cam.id, status=CameraStatus.DEGRADED, fps_in=10,
                                      fps_analysed=1, decode_errors=0, faults=[rng.choice(faults)],
                                      last_frame_at=now)
            else:
                health = CameraHealth(camera_id=cam.id, status=CameraStatus.ONLINE, fps_in=10,
                                      fps_analysed=1, decode_errors=0,
                                      last_frame_at=now - timedelta(seconds=rng.randint(0, 4)))
            cams.append(health)
            sent[cam.id] = health
        resp = stack.post("/api/v1/heartbeats", media.heartbeat(node, cams), node)
        assert resp.status_code == 202, resp.text
    return sent


def test_health_wall_shows_every_camera_and_follows_heartbeats(stack: Stack, page: Any) -> None:
    sent = _heartbeats(stack, seed=7)
    page.click("#tabs a[data-view='health']")
    page.wait_for_selector("#wall .tile")
    tiles = page.locator("#wall .tile[data-camera]")
    assert tiles.count() == len(stack.town.cameras) == 280
    shown = dict(page.eval_on_selector_all(
        "#wall .tile", "els => els.map(e => [e.dataset.camera, e.dataset.status])"))
    assert {c: shown[c] for c in sent} == {c: h.status.value for c, h in sent.items()}
    never = [c.id for c in stack.town.cameras if c.node not in {
        "edge-01", "edge-02", "edge-03", "edge-04", "edge-05", "edge-06", "edge-07", "edge-08", "edge-09"}]
    assert {shown[c] for c in never} == {"unknown"}  # never heard from is not the same as offline
    villages = page.locator("#wall .wall-group").count()
    page.click("#group-grid")
    _until(page, f"document.querySelectorAll('#wall .wall-group').length === {len(stack.town.grids)}")
    page.click("#group-village")
    _until(page, f"document.querySelectorAll('#wall .wall-group').length === {villages}")

    # A camera that degrades changes colour on the wall by itself (feed event, no reload).
    target = next(c for c, h in sent.items() if h.status is CameraStatus.ONLINE)
    node = stack.town.camera(target).node
    from datetime import UTC, datetime

    cams = [sent[c.id] for c in stack.town.cameras_of(node) if c.id != target]
    cams.append(CameraHealth(camera_id=target, status=CameraStatus.DEGRADED, fps_in=10, fps_analysed=1,
                             decode_errors=0, faults=[EventKind.CAMERA_OCCLUDED],
                             last_frame_at=datetime.now(UTC)))
    assert stack.post("/api/v1/heartbeats", media.heartbeat(node, cams), node).status_code == 202
    page.wait_for_selector(f"#wall .tile[data-camera='{target}'][data-status='degraded']")
    assert _same_document(page)
    _shoot(page, "health")

    # A tile opens the camera: its status history is there.
    page.click(f"#wall .tile[data-camera='{target}']")
    page.wait_for_selector("#camera-history tbody tr")
    assert page.locator("#camera-history tbody tr").count() >= 2  # online, then degraded


def test_live_view_plays_a_camera_over_webrtc(stack: Stack, page: Any) -> None:
    db = Path(stack.hub.db_url.removeprefix("sqlite:///"))
    announced = "SELECT live_url FROM node_states WHERE node_id = ? AND live_url IS NOT NULL"
    wait_for(lambda: query(db, announced, NODE), 60, "the edge to announce its live view", stack.edge.log)
    page.evaluate(f"window.location.hash = '#/cameras/{stack.live_camera}'")
    page.wait_for_selector(f"#camera[data-camera='{stack.live_camera}']")
    page.click("#live-start")
    page.wait_for_function("() => document.querySelector('#live-video').videoWidth > 0", timeout=60_000)
    start = page.evaluate("document.querySelector('#live-video').currentTime")
    _until(page, f"document.querySelector('#live-video').currentTime > {start} + 0.5", timeout=60_000)
    assert page.evaluate("document.querySelector('#live-video').videoHeight") > 0
    page.wait_for_selector("#live-state[data-state='connected']")
    assert _same_document(page)
    _shoot(page, "live")
    page.click("#live-start")  # stop: the peer connection is closed
    page.wait_for_selector("#live-state[data-state='stopped']")


def test_logout_ends_the_session(stack: Stack, page: Any) -> None:
    page.click("#logout")
    page.wait_for_url("**/login")
    page.goto(stack.hub.url + "/")
    assert page.url.endswith("/login")
