"""ONVIF end to end: a real hub, a real ``gridwatch edge`` process, a password-protected RTSP camera
and two ONVIF device stand-ins (real SOAP, digest checked), and the camera page in headless Chromium.

Camera A's configured stream is a dead address; its ONVIF profiles give the RTSP server's URI, which
the edge opens with the ONVIF account (from its secrets file): the camera comes online. A's device
clock is 5 minutes off: the health API and the camera page say so. Camera B's ONVIF password is wrong:
the page shows why in words. Camera C has no ONVIF: its health has none. No answer holds a password.
Screenshots go to artifacts/screenshots/ (onvif-camera.png is copied to docs/img/).
"""

from __future__ import annotations

import shutil
import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.edge.procs import wait_for
from tests.edge.town import write_town
from tests.support.browser import SHOTS, chromium, login
from tests.support.hub import make_token
from tests.support.needs import require_chromium
from tests.support.onvif_device import OnvifDevice
from tests.support.rtsp import RtspServer, rtsp_available
from tests.support.stack import hub_and_edge, live_video

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.rtsp]

PASSWORD = "onvif-Secret-7"


def test_onvif_streams_clock_and_a_wrong_password_on_the_camera_page() -> None:
    require_chromium()
    if not rtsp_available():
        pytest.skip("GStreamer RTSP server bindings missing for /usr/bin/python3")
    folder = Path(tempfile.mkdtemp(prefix="gridwatch-onvif-"))
    rtsp = RtspServer(user="admin", password=PASSWORD)
    rtsp.start()
    good = OnvifDevice("admin", PASSWORD, {"main": f"rtsp://127.0.0.1:{rtsp.port}/cam"}, clock_offset_s=300)
    bad = OnvifDevice("admin", "the camera's own", {"main": f"rtsp://127.0.0.1:{rtsp.port}/cam"})
    good.start()
    bad.start()
    processes = ExitStack()  # the hub and the edge, once started
    try:
        town_file = folder / "town.yaml"
        a, b, c = write_town(town_file, ["rtsp://127.0.0.1:1/dead", "rtsp://127.0.0.1:1/dead",
                                         str(live_video(folder))], "http://127.0.0.1:1",
                             detection={"analysis_fps": 2.0, "offline_after_s": 4.0},
                             edge={"heartbeat_every_s": 1.0, "reconnect_max_s": 2.0})
        town = yaml.safe_load(town_file.read_text(encoding="utf-8"))
        for cam in town["cameras"]:
            dev = {a: good, b: bad}.get(cam["id"])
            if dev is not None:
                cam["onvif"] = {"host": "127.0.0.1", "port": dev.port, "user": "admin",
                                "password_ref": "onvif-admin"}
        town_file.write_text(yaml.safe_dump(town, allow_unicode=True, sort_keys=False), encoding="utf-8")
        secrets = folder / "secrets.yaml"
        secrets.write_text(f"onvif-admin: {PASSWORD}\n", encoding="utf-8")
        hub, edge = processes.enter_context(hub_and_edge(folder, town_file, ("--secrets", str(secrets))))
        maintainer = make_token(hub.db_url, "maintainer", name="m-1")
        answers: list[str] = []

        def health(cid: str) -> dict[str, Any]:
            r = httpx.get(f"{hub.url}/api/v1/cameras/{cid}/health", timeout=30,
                          headers={"Authorization": f"Bearer {maintainer}"})
            answers.append(r.text)
            assert r.status_code == 200, r.text
            return r.json()  # type: ignore[no-any-return]

        # A: online from the ONVIF stream URI (its configured one is dead), clock flagged
        ha = wait_for(lambda: (x := health(a))["status"] == "online" and x["onvif"] and x, 90,
                      "camera A online on its ONVIF stream", edge.log)
        assert ha["onvif"]["ok"] and ha["onvif"]["clock_wrong"]
        assert 295 <= ha["onvif"]["clock_offset_s"] <= 305
        assert ha["onvif"]["main_uri"] == f"rtsp://127.0.0.1:{rtsp.port}/cam"
        assert ha["onvif"]["ptz_home_on_moved"] is False and ha["onvif"]["ptz_moves"] == []
        # B: the wrong password in words; its configured stream stays (dead: offline)
        hb = wait_for(lambda: (x := health(b))["onvif"] and x["onvif"]["checked_at"] and x, 60,
                      "camera B's ONVIF error", edge.log)
        assert not hb["onvif"]["ok"] and "wrong user or password" in hb["onvif"]["error"]
        assert hb["onvif"]["main_uri"] is None
        # C: no ONVIF, nothing about it
        assert health(c)["onvif"] is None
        assert "GotoHomePosition" not in good.ops() + bad.ops()
        # the camera list (the health wall's source) names what to look at
        listed = httpx.get(f"{hub.url}/api/v1/cameras", timeout=30,
                           headers={"Authorization": f"Bearer {maintainer}"}).json()["items"]
        issues = {x["id"]: x["onvif_issue"] for x in listed if x["id"] in (a, b, c)}
        assert issues == {a: "clock_wrong", b: "error", c: None}

        with chromium() as browser:
            context, page, errors = login(browser, hub.url, maintainer, "王工")
            page.goto(f"{hub.url}/#/health")
            page.wait_for_selector(f"a.tile[data-camera='{b}'][data-onvif='error']")
            assert page.locator(f"a.tile[data-camera='{a}']").get_attribute("data-onvif") == "clock_wrong"
            assert page.locator(f"a.tile[data-camera='{c}']").get_attribute("data-onvif") == ""
            page.goto(f"{hub.url}/#/cameras/{b}")
            page.wait_for_selector("#onvif-error")
            assert "wrong user or password" in page.locator("#onvif-error").inner_text()
            page.goto(f"{hub.url}/#/cameras/{a}")
            page.wait_for_selector("#onvif-clock-wrong")
            assert page.locator("#camera-onvif").get_attribute("data-clock-wrong") == "true"
            page.locator("#camera-onvif").scroll_into_view_if_needed()
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / "onvif.png"))
            page.locator("#camera-onvif").screenshot(path=str(SHOTS / "onvif-camera.png"))  # docs/img
            assert errors == [], f"JavaScript errors on the page: {errors}"
            context.close()
        assert not any(PASSWORD in text for text in answers)
        assert PASSWORD not in edge.log()
    finally:
        processes.close()
        good.stop()
        bad.stop()
        rtsp.stop()
        shutil.rmtree(folder, ignore_errors=True)
