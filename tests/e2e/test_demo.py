"""End to end: ``gridwatch demo`` as a real process (hub + edge worker on 127.0.0.1) turns the bundled
clip's obstruction into a work order for the right department, grid and camera."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
import yaml

from gridwatch.config import load_town
from tests.support.net import free_port

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[2]


def expected_department(town, kind: str, grid_id: str) -> str:
    route = town.route(kind)
    dep = town.department(route.department)
    if dep.kind != "bureau":
        return dep.id
    return next(d.id for d in town.departments if d.parent == dep.id and grid_id in d.grids)


def test_demo_turns_clip_into_work_order(tmp_path: Path) -> None:
    port = free_port()
    data = tmp_path / "demo"
    log = (tmp_path / "demo.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "gridwatch.cli", "demo", "--port", str(port), "--data-dir", str(data),
         "--duration", "600"], cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
    try:
        token_file = data / "dispatcher.token"
        deadline = time.monotonic() + 180
        while not token_file.exists():
            assert proc.poll() is None, (tmp_path / "demo.log").read_text(errors="replace")[-3000:]
            assert time.monotonic() < deadline, "demo did not start"
            time.sleep(0.5)
        time.sleep(0.5)
        headers = {"Authorization": f"Bearer {token_file.read_text().strip()}"}
        base = f"http://127.0.0.1:{port}"
        labels = json.loads((data / "demo_clip.json").read_text())
        truth_kind = labels["events"][0]["kind"]
        # Warm-up, then the obstruction comes to rest at truth start_s of the looping clip.
        orders: list[dict] = []
        deadline = time.monotonic() + labels["events"][0]["start_s"] + 120
        while time.monotonic() < deadline and not orders:
            assert proc.poll() is None, (tmp_path / "demo.log").read_text(errors="replace")[-3000:]
            r = httpx.get(f"{base}/api/v1/work-orders", headers=headers, timeout=10)
            assert r.status_code == 200, r.text
            orders = [o for o in r.json()["items"] if o["camera"] is not None]
            time.sleep(1.0)
        assert orders, "no work order from the demo cameras: " + \
            (tmp_path / "demo.log").read_text(errors="replace")[-3000:]

        town = load_town(data / "town.yaml")
        demo_cams = {c["id"] for c in yaml.safe_load((data / "town.yaml").read_text())["cameras"]
                     if str(c["streams"]["main"]).endswith(".mp4")}
        order = orders[0]
        camera = town.camera(order["camera"]["id"])
        assert camera.id in demo_cams
        assert order["kind"] == truth_kind
        assert order["grid"]["id"] == camera.grid
        assert order["department"]["id"] == expected_department(town, truth_kind, camera.grid)
        assert order["assignee"]["id"] == town.grid(camera.grid).worker.id
        detail = httpx.get(f"{base}/api/v1/work-orders/{order['id']}", headers=headers, timeout=10).json()
        assert detail["history"], detail
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
    assert proc.returncode in (0, 130), (tmp_path / "demo.log").read_text(errors="replace")[-3000:]
