"""The hub as a real process: ``gridwatch hub`` on a free port, a token from ``gridwatch token create``,
an alert posted over real HTTP, the feed read as a real event stream."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from central.server import ENV
from tests.central.conftest import alert, jpeg
from tests.support.hub import REPO, SAMPLE_TOWN, HubProcess, make_token

pytestmark = pytest.mark.slow


def test_token_cli_prints_a_working_token(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridwatch.cli",
            "token",
            "create",
            "--role",
            "edge",
            "--node",
            "edge-01",
            "--db",
            url,
            "--config",
            str(SAMPLE_TOWN),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    token = out.stdout.strip()
    assert len(token) >= 40 and "\n" not in token
    bad = subprocess.run(
        [
            sys.executable,
            "-m",
            "gridwatch.cli",
            "token",
            "create",
            "--role",
            "edge",
            "--node",
            "edge-99",
            "--db",
            url,
            "--config",
            str(SAMPLE_TOWN),
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bad.returncode == 2 and "edge-99" in bad.stderr and "Traceback" not in bad.stderr
    from central.auth import authenticate, hash_token
    from central.db import Database
    from gridwatch.config import load_town

    db = Database(url)
    who = authenticate(db, load_town(SAMPLE_TOWN), f"Bearer {token}")
    assert who is not None and who.role == "edge" and who.node_id == "edge-01"
    assert token not in (tmp_path / "hub.db").read_bytes().decode("latin-1")
    assert hash_token(token) in (tmp_path / "hub.db").read_bytes().decode("latin-1")
    db.dispose()


def test_real_hub_process_takes_an_alert_and_streams_the_feed(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    with HubProcess(db_url=url) as hub:
        edge = make_token(url, "edge", node="edge-01")
        desk = make_token(url, "dispatcher")
        body = alert(at=datetime.now(UTC), snapshot=jpeg())
        r = httpx.post(hub.url + "/api/v1/alerts", json=body, headers={"Authorization": f"Bearer {edge}"})
        assert r.status_code == 201, r.text + hub.log()
        receipt = r.json()
        r = httpx.get(
            f"{hub.url}/api/v1/work-orders/{receipt['work_order_id']}",
            headers={"Authorization": f"Bearer {desk}"},
        )
        assert r.status_code == 200 and r.json()["department"]["id"] == "natural-resources"
        snap = r.json()["snapshot_url"]
        assert httpx.get(hub.url + snap, headers={"Authorization": f"Bearer {desk}"}).content == jpeg()
        # the live stream: read events until the work order's creation shows up, then hang up
        seen: list[str] = []
        with httpx.stream(
            "GET", hub.url + "/api/v1/feed", headers={"Authorization": f"Bearer {desk}"}, timeout=30
        ) as stream:
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    seen.append(line.removeprefix("event: "))
                if "work_order.created" in seen:
                    break
        assert seen[:2] == ["incident.created", "work_order.created"]
        assert httpx.get(hub.url + "/metrics").status_code == 200
    assert '"POST /api/v1/alerts HTTP/1.1" 201' not in hub.log()  # no access log unless asked for


def test_access_log_on_request(tmp_path: Path) -> None:
    with HubProcess(db_url=f"sqlite:///{tmp_path / 'hub.db'}", extra_args=("--access-log",)) as hub:
        assert httpx.get(hub.url + "/api/v1/alerts").status_code == 405
    assert '"GET /api/v1/alerts HTTP/1.1" 405' in hub.log()


@pytest.mark.parametrize("database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def test_two_worker_processes_store_each_alert_once(database: str, request, tmp_path: Path) -> None:
    """uvicorn --workers 2 on one fresh database (both processes migrate it at start-up, one after
    the other): concurrent resends and concurrent onsets of the same camera+kind from both processes
    still give one alert row, one incident, one work order."""
    from concurrent.futures import ThreadPoolExecutor

    if database == "sqlite":
        url = f"sqlite:///{tmp_path / 'hub.db'}"
    else:
        url = request.getfixturevalue("postgres_server").create_database()
    with HubProcess(db_url=url, workers=2) as hub:
        edge = make_token(url, "edge", node="edge-01")
        desk = make_token(url, "dispatcher")
        now = datetime.now(UTC)
        same = alert(at=now, snapshot=jpeg())
        # different alert ids, same camera and kind: they must merge into one incident
        merging = [alert(at=now, kind="flooding", event=f"ev-{i}", camera="cam-002") for i in range(8)]
        bodies = [same] * 8 + merging
        with (
            httpx.Client(headers={"Authorization": f"Bearer {edge}"}, timeout=30) as client,
            ThreadPoolExecutor(max_workers=8) as pool,
        ):
            answers = list(pool.map(lambda b: client.post(hub.url + "/api/v1/alerts", json=b), bodies))
        assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
        first = [a.json() for a in answers[:8]]
        assert sum(not r["duplicate"] for r in first) == 1
        assert len({(r["incident_id"], r["work_order_id"]) for r in first}) == 1
        assert len({a.json()["incident_id"] for a in answers[8:]}) == 1
        orders = httpx.get(
            hub.url + "/api/v1/work-orders", headers={"Authorization": f"Bearer {desk}"}
        ).json()
        assert orders["total"] == 2


def test_several_workers_need_a_database_file(capsys: pytest.CaptureFixture[str]) -> None:
    from central.server import serve

    assert serve(SAMPLE_TOWN, "sqlite://", "127.0.0.1", 0, 2, None) == 2
    assert "not SQLite in memory" in capsys.readouterr().err


def test_a_worker_process_keeps_its_start_up_objects_out_of_the_garbage_collector(tmp_path: Path) -> None:
    settings = {"config": str(SAMPLE_TOWN), "db": f"sqlite:///{tmp_path / 'hub.db'}",
                "media_dir": str(tmp_path / "media")}
    code = "import gc; from central.server import app_from_env; app_from_env(); print(gc.get_freeze_count())"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**os.environ, ENV: json.dumps(settings)}, check=True).stdout
    assert int(out.split()[-1]) > 10_000  # the town's 280 cameras and the app, frozen at start-up


def _hub_cli(tmp_path: Path, db: str) -> subprocess.CompletedProcess[str]:
    from tests.support.net import free_port

    return subprocess.run(
        [sys.executable, "-m", "gridwatch.cli", "hub", "--config", str(SAMPLE_TOWN), "--db", db,
         "--port", str(free_port()), "--media-dir", str(tmp_path / "media")],
        cwd=REPO, capture_output=True, text=True, timeout=120,
    )


def test_unreachable_postgres_is_one_line_and_a_failed_exit(tmp_path: Path) -> None:
    from tests.support.net import free_port

    closed = free_port()  # nothing listens there
    out = _hub_cli(tmp_path, f"postgresql+psycopg://gw:s3cret@127.0.0.1:{closed}/gridwatch")
    assert out.returncode != 0
    lines = [x for x in (out.stdout + out.stderr).splitlines() if x.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith("gridwatch: cannot use the database postgresql+psycopg://gw:***@")
    assert str(closed) in lines[0] and "s3cret" not in lines[0] and "Traceback" not in lines[0]


def test_unwritable_sqlite_path_is_one_line_and_a_failed_exit(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")  # its "child" cannot be made, even by root
    out = _hub_cli(tmp_path, f"sqlite:///{blocker / 'hub.db'}")
    assert out.returncode != 0
    lines = [x for x in (out.stdout + out.stderr).splitlines() if x.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"gridwatch: cannot use the database sqlite:///{blocker / 'hub.db'}: ")
