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
        deadline = time.monotonic() + 420  # makes its clip first: minutes on a loaded machine
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


def two_free_ports() -> int:
    """A port that is free with the next one free too (the demo's hub and edge live view)."""
    import socket

    for _ in range(50):
        port = free_port()
        if port + 1 > 65535:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port + 1))
            except OSError:
                continue
        return port
    raise RuntimeError("no two free ports in a row")


def port_free(port: int) -> bool:
    import socket

    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def test_sigterm_stops_the_hub_and_the_edge_and_frees_the_ports(tmp_path: Path, demo_clip: Path) -> None:
    import shutil

    import psutil

    port = two_free_ports()
    data = tmp_path / "demo"
    data.mkdir()
    for f in (demo_clip, demo_clip.with_suffix(".json")):
        shutil.copy(f, data / f.name)
    log_path = tmp_path / "demo.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "gridwatch.cli", "demo", "--port", str(port), "--data-dir", str(data)],
            cwd=REPO, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 300
            while not (data / "dispatcher.token").exists():
                assert proc.poll() is None, log_path.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, "demo did not start"
                time.sleep(0.5)
            children = psutil.Process(proc.pid).children(recursive=True)
            commands = [" ".join(c.cmdline()) for c in children]
            assert any(" hub " in c for c in commands) and any(" edge " in c for c in commands), commands
            assert not port_free(port)
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=60) == 0, log_path.read_text(errors="replace")[-3000:]
            text = log_path.read_text(errors="replace")
            assert "Traceback" not in text
            # the hub stopped on the signal (not killed after a wait): it says so as it ends (the edge,
            # signalled at once after its start, may end before it could log anything)
            assert "Finished server process" in text, text[-3000:]
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    _, alive = psutil.wait_procs(children, timeout=30)
    assert not alive, [c.pid for c in alive]
    assert port_free(port) and port_free(port + 1)


@pytest.mark.parametrize("taken", [0, 1], ids=["hub-port", "live-view-port"])
def test_a_busy_port_is_one_line_and_a_failed_exit(tmp_path: Path, taken: int) -> None:
    import socket

    port = two_free_ports()
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", port + taken))
        squatter.listen()
        out = subprocess.run(
            [sys.executable, "-m", "gridwatch.cli", "demo", "--port", str(port), "--data-dir",
             str(tmp_path / "demo")], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert out.returncode == 1
    lines = [x for x in (out.stdout + out.stderr).splitlines() if x.strip()]
    assert len(lines) == 1, lines
    assert f"127.0.0.1:{port + taken}" in lines[0] and "in use" in lines[0]
    assert not (tmp_path / "demo").exists()  # nothing was started or made


def test_fresh_forgets_earlier_runs_but_keeps_the_clip(tmp_path: Path) -> None:
    from gridwatch.demo import clear_demo_data

    for name in ("gridwatch.db", "gridwatch.db-wal", "gridwatch.db-writer.lock", "edge/outbox/x",
                 "media/a.jpg", "demo_clip.mp4", "demo_clip.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_bytes(b"x")
    clear_demo_data(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["demo_clip.json", "demo_clip.mp4"]
