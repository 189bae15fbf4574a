"""A real hub and a real ``gridwatch edge`` process on a password-protected RTSP camera: the camera's
password comes from the edge's secrets file (never through the hub); a region edited through the API
reaches the running edge, which reports the new version; a revision it cannot run is refused with a
reason the maintainer sees, the previous one still running; with the hub gone, a restarted edge runs
its copy on disk. No API answer and no log line holds the secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.edge.procs import EdgeProcess, query, wait_for
from tests.edge.town import NODE, write_town
from tests.support.hub import HubProcess, make_token
from tests.support.rtsp import RtspServer, free_port, rtsp_available

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

SECRET = "Kx9-vault-only"
ROAD = [[0.0, 0.62], [1.0, 0.58], [1.0, 1.0], [0.0, 1.0]]


@pytest.fixture
def camera() -> Any:
    if not rtsp_available():
        pytest.skip("GStreamer RTSP server bindings missing for /usr/bin/python3")
    server = RtspServer(user="viewer", password=SECRET)
    server.start()
    yield server
    server.stop()


def test_edge_follows_the_registry_and_runs_without_the_hub(
    tmp_path: Path, camera: RtspServer, video_file: Path
) -> None:
    town_file = tmp_path / "town.yaml"
    cam, other = write_town(
        town_file,
        [f"rtsp://127.0.0.1:{camera.port}/cam", str(video_file)],
        "http://127.0.0.1:1",
        detection={"analysis_fps": 2.0, "offline_after_s": 4.0},
        edge={"heartbeat_every_s": 1.0, "reconnect_max_s": 2.0, "config_poll_s": 300.0},
    )
    town = yaml.safe_load(town_file.read_text(encoding="utf-8"))
    first = next(c for c in town["cameras"] if c["id"] == cam)
    first["streams"] = {
        "main": f"rtsp://viewer:{{password}}@127.0.0.1:{camera.port}/cam",
        "password_ref": "village-cams",
    }
    town_file.write_text(yaml.safe_dump(town, allow_unicode=True, sort_keys=False), encoding="utf-8")
    secrets = tmp_path / "secrets.yaml"
    secrets.write_text(f"village-cams: {SECRET}\n", encoding="utf-8")
    hub_db = tmp_path / "hub.db"
    hub = HubProcess(db_url=f"sqlite:///{hub_db}", config=town_file).start()
    answers: list[str] = []  # every API answer's text, checked for the secret at the end
    edge_log = tmp_path / "edge.log"
    try:
        m = {"Authorization": f"Bearer {make_token(hub.db_url, 'maintainer', name='m-1')}"}

        def api(method: str, path: str, **kw: Any) -> httpx.Response:
            resp = httpx.request(method, hub.url + path, timeout=30, **kw)
            answers.append(resp.text)
            return resp

        def node_config() -> dict[str, Any]:
            nodes = api("GET", "/api/v1/nodes", headers=m).json()["items"]
            return next(n for n in nodes if n["id"] == NODE)["config"]

        token_file = tmp_path / "edge.token"
        token_file.write_text(make_token(hub.db_url, "edge", node=NODE))
        args = [
            "edge",
            "--config",
            str(town_file),
            "--node",
            NODE,
            "--hub",
            hub.url,
            "--token-file",
            str(token_file),
            "--data-dir",
            str(tmp_path / "edge"),
            "--secrets",
            str(secrets),
        ]
        edge = EdgeProcess(args, edge_log).start()
        try:
            rev1 = api("GET", "/api/v1/registry", headers=m).json()["revision"]
            wait_for(
                lambda: node_config()["version"] == rev1, 60, "the edge to report the revision", edge.log
            )

            # the camera answers only with the password from the secrets file: it comes online
            def status(cid: str) -> str | None:
                rows = query(hub_db, "SELECT status FROM camera_states WHERE camera_id = ?", cid)
                return rows[0][0] if rows else None

            wait_for(lambda: status(cam) == "online", 60, "the protected camera online", edge.log)

            # a maintainer draws a road on the other camera: the edge runs it without restarting
            got = api("GET", f"/api/v1/registry/cameras/{other}", headers=m)
            r = api(
                "PATCH",
                f"/api/v1/registry/cameras/{other}",
                json={"rois": [{"name": "road", "polygon": ROAD}]},
                headers=m | {"If-Match": got.headers["etag"]},
            )
            assert r.status_code == 200, r.text
            rev2 = r.json()["revision"]
            assert rev2 == rev1 + 1
            wait_for(
                lambda: (
                    node_config()
                    == {"version": rev2, "error": None, "registry_revision": rev2, "current": True}
                ),
                30,
                "the edge to run the new regions",
                edge.log,
            )
            assert "1 changed, 1 kept as they were" in edge_log.read_text(errors="replace")
            assert edge.proc is not None and edge.proc.poll() is None  # the same process throughout
            saved = json.loads((tmp_path / "edge" / "registry-config.json").read_text(encoding="utf-8"))
            assert saved["revision"] == rev2 and SECRET not in json.dumps(saved)

            # a revision naming a secret this box does not have: refused, the previous one runs on
            got = api("GET", f"/api/v1/registry/cameras/{other}", headers=m)
            streams = {"main": "rtsp://viewer:{password}@127.0.0.1:9/cam", "password_ref": "not-on-this-box"}
            r = api(
                "PATCH",
                f"/api/v1/registry/cameras/{other}",
                json={"streams": streams},
                headers=m | {"If-Match": got.headers["etag"]},
            )
            rev3 = r.json()["revision"]
            wait_for(
                lambda: (node_config()["error"] or "").startswith(
                    f"revision {rev3}: camera {other}: secret 'not-on-this-box' is not set"
                ),
                30,
                "the refusal reported",
                edge.log,
            )
            assert node_config()["version"] == rev2 and node_config()["current"] is False
            health = api("GET", f"/api/v1/cameras/{other}/health", headers=m).json()
            assert "not-on-this-box" in health["config"]["error"]
            assert status(cam) == "online"
            for path in (
                "/api/v1/registry/cameras",
                f"/api/v1/registry/audit?camera={cam}",
                f"/api/v1/registry/nodes/{NODE}/config",
                "/api/v1/cameras",
                "/api/v1/nodes",
            ):
                assert api("GET", path, headers=m).status_code == 200
        finally:
            assert edge.terminate() == 0, edge.log()
    finally:
        hub.stop()
    hub_log = hub.log_path.read_text(errors="replace")

    # no hub at all: the edge starts from its copy on disk (revision rev2) and runs the camera
    args[args.index("--hub") + 1] = f"http://127.0.0.1:{free_port()}"
    edge = EdgeProcess(args, tmp_path / "edge2.log").start()
    try:
        wait_for(
            lambda: f"running revision {rev2} from" in edge.log(),
            60,
            "the edge to use its disk copy",
            edge.log,
        )
        outbox = tmp_path / "edge" / "outbox.sqlite3"

        def beats() -> list[dict[str, Any]]:
            rows = query(outbox, "SELECT body FROM messages WHERE kind = 'heartbeat'")
            return [json.loads(b) for (b,) in rows]

        def online_beat() -> bool:
            return any(
                b["config_version"] == rev2
                and {c["camera_id"]: c["status"] for c in b["cameras"]}.get(cam) == "online"
                for b in beats()
            )

        wait_for(
            online_beat,
            60,
            "a heartbeat (kept in the outbox) with revision 2 and the camera online",
            edge.log,
        )
    finally:
        assert edge.terminate() == 0, edge.log()
    logs = edge_log.read_text(errors="replace") + edge.log() + hub_log
    assert cam in logs and "rtsp://" in logs  # the logs do speak of the camera and its stream
    assert SECRET not in logs
    assert all(SECRET not in a for a in answers)
