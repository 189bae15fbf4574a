"""Camera health from heartbeats: status, faults, availability, offline by itself, filters, nodes."""

from __future__ import annotations

from datetime import datetime

from central.health import sweep_offline


def heartbeat(
    town,
    node: str,
    at: datetime,
    overrides: dict[str, dict] | None = None,
    hid: str = "hb-000001",
    live_url: str | None = None,
    live_key: str | None = None,
) -> dict:
    cams = []
    for cam in town.cameras_of(node):
        c = {
            "camera_id": cam.id,
            "status": "online",
            "fps_in": 10.0,
            "fps_analysed": 1.0,
            "decode_errors": 0,
            "reconnects": 0,
            "last_frame_at": at.isoformat(),
            "faults": [],
            "scores": {"sharpness": 0.8},
        }
        c.update((overrides or {}).get(cam.id, {}))
        cams.append(c)
    return {
        "id": hid,
        "node_id": node,
        "sent_at": at.isoformat(),
        "live_url": live_url,
        "live_key": live_key,
        "node": {
            "cpu_percent": 40.0,
            "memory_percent": 30.0,
            "disk_free_bytes": 10**10,
            "outbox_depth": 0,
            "outbox_bytes": 0,
            "software_version": "0.1.0",
        },
        "cameras": cams,
    }


def test_heartbeats_status_faults_and_offline_by_itself(hub, town) -> None:
    m = hub.auth("maintainer")
    cams = town.cameras_of("edge-01")
    blurred = cams[1].id
    r = hub.client.post(
        "/api/v1/heartbeats",
        json=heartbeat(
            town, "edge-01", hub.clock.now, {blurred: {"status": "degraded", "faults": ["camera_blurred"]}}
        ),
        headers=hub.auth("edge-01"),
    )
    assert r.status_code == 202, r.text
    listing = hub.client.get("/api/v1/cameras?node=edge-01", headers=m).json()
    assert listing["total"] == len(cams)
    assert listing["by_status"] == {"online": len(cams) - 1, "degraded": 1, "offline": 0, "disabled": 0}
    deg = hub.client.get("/api/v1/cameras?status=degraded", headers=m).json()["items"]
    assert [c["id"] for c in deg] == [blurred] and deg[0]["faults"] == ["camera_blurred"]
    assert hub.client.get("/api/v1/cameras?status=offline", headers=m).json()["total"] == 280 - len(cams)
    assert hub.client.get(f"/api/v1/cameras?grid={cams[0].grid}", headers=m).json()["total"] >= 1
    assert hub.client.get("/api/v1/cameras?status=sleepy", headers=m).status_code == 422
    # an hour of good heartbeats, then silence: the cameras go offline without being told
    for i in range(1, 7):
        hub.clock.advance(minutes=10)
        hub.client.post(
            "/api/v1/heartbeats",
            json=heartbeat(town, "edge-01", hub.clock.now, hid=f"hb-00000{i}"),
            headers=hub.auth("edge-01"),
        )
    hub.clock.advance(seconds=town.hub.heartbeat_offline_after_s + 1)
    flipped = sweep_offline(hub.hub.db, town, hub.clock.now)
    assert set(flipped) == {c.id for c in cams}
    assert sweep_offline(hub.hub.db, town, hub.clock.now) == []
    hub.clock.advance(minutes=59)
    h = hub.client.get(f"/api/v1/cameras/{blurred}/health", headers=m).json()
    assert h["status"] == "offline" and h["last_heartbeat_at"] is not None
    assert abs(h["availability"]["24h"] - 0.5) < 0.02 and h["availability"]["7d"] == h["availability"]["24h"]
    assert [x["reason"] for x in h["history"]][:2] == ["no_heartbeat", "heartbeat"]
    assert any(x["faults"] == ["camera_blurred"] for x in h["history"])
    nodes = {n["id"]: n for n in hub.client.get("/api/v1/nodes", headers=m).json()["items"]}
    assert nodes["edge-01"]["status"] == "offline" and nodes["edge-02"]["last_heartbeat_at"] is None
    assert hub.client.get("/api/v1/cameras/cam-999/health", headers=m).status_code == 404


def test_heartbeat_refusals(hub, town) -> None:
    other = town.cameras_of("edge-02")[0].id
    hb = heartbeat(town, "edge-01", hub.clock.now)
    hb["cameras"][0]["camera_id"] = other
    assert hub.client.post("/api/v1/heartbeats", json=hb, headers=hub.auth("edge-01")).status_code == 403
    hb["cameras"][0]["camera_id"] = "cam-999"
    assert hub.client.post("/api/v1/heartbeats", json=hb, headers=hub.auth("edge-01")).status_code == 404
    hb = heartbeat(town, "edge-02", hub.clock.now)
    assert hub.client.post("/api/v1/heartbeats", json=hb, headers=hub.auth("edge-01")).status_code == 403
    hb = heartbeat(town, "edge-01", hub.clock.now)
    hb["cameras"][0]["faults"] = ["landslide"]
    r = hub.client.post("/api/v1/heartbeats", json=hb, headers=hub.auth("edge-01"))
    assert r.status_code == 422 and "not camera faults" in r.text


def test_non_finite_heartbeat_figures_are_422(hub, town) -> None:
    import json

    hb = heartbeat(town, "edge-01", hub.clock.now)
    raw = json.dumps(hb).replace('"fps_in": 10.0', '"fps_in": Infinity', 1)
    r = hub.client.post(
        "/api/v1/heartbeats",
        content=raw.encode(),
        headers={**hub.auth("edge-01"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    assert hub.client.get("/api/v1/cameras", headers=hub.auth("maintainer")).status_code == 200


def test_a_mass_outage_goes_offline_in_several_transactions_each_camera_once(hub, town, monkeypatch) -> None:
    """Many cameras silent at once are taken offline a chunk per write transaction (intake gets the
    lock between chunks); each camera is logged and announced once, and a camera whose heartbeat
    arrives between the sweep's look and its write stays online."""
    from sqlalchemy import func, select

    import central.health as health
    from central.tables import CameraStatusLog, FeedEvent

    monkeypatch.setattr(health, "SWEEP_CHUNK", 7)
    nodes = ["edge-01", "edge-02"]
    cams = [c.id for n in nodes for c in town.cameras_of(n)]
    assert len(cams) > 2 * 7
    for n in nodes:
        r = hub.client.post("/api/v1/heartbeats", json=heartbeat(town, n, hub.clock.now), headers=hub.auth(n))
        assert r.status_code == 202, r.text
    hub.clock.advance(seconds=town.hub.heartbeat_offline_after_s + 1)
    writes = 0
    real_write = hub.hub.db.write

    def counting_write():  # counts the sweep's write transactions; the late heartbeat comes in the first
        nonlocal writes
        writes += 1
        if writes == 1:
            late = heartbeat(town, "edge-02", hub.clock.now, hid="hb-000099")
            r = hub.client.post("/api/v1/heartbeats", json=late, headers=hub.auth("edge-02"))
            assert r.status_code == 202, r.text
        return real_write()

    monkeypatch.setattr(hub.hub.db, "write", counting_write)
    flipped = sweep_offline(hub.hub.db, town, hub.clock.now)
    monkeypatch.undo()
    edge_01 = {c.id for c in town.cameras_of("edge-01")}
    assert set(flipped) == edge_01 and len(flipped) == len(edge_01), (sorted(set(flipped) ^ edge_01), writes)
    # one write transaction per chunk of the cameras seen silent, and the late heartbeat's own
    assert writes == -(-len(cams) // 7) + 1
    with hub.hub.db.read() as s:
        logged = dict(s.execute(
            select(CameraStatusLog.camera_id, func.count()).where(CameraStatusLog.reason == "no_heartbeat")
            .group_by(CameraStatusLog.camera_id)).all())
        reasons = s.execute(select(FeedEvent.data).where(FeedEvent.type == "camera.status")).scalars()
        announced = sum(1 for d in reasons if d["reason"] == "no_heartbeat")
    assert logged == {c: 1 for c in edge_01} and announced == len(edge_01)


def _metric_counts(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        if line.startswith("gridwatch_cameras{"):
            label, value = line.split(" ")
            out[label.split('"')[1]] = int(float(value))
    return out


def test_metrics_and_camera_list_count_disabled_cameras_alike(town, db_url, tmp_path, clock) -> None:
    """A disabled camera is 'disabled' in the list, in by_status, in a node's counts and in
    gridwatch_cameras, never 'offline' in one place and left out in another; even when its node
    still reports it (as the demo's edge does for cameras it no longer reads)."""
    from tests.central.conftest import make_hub

    off = [c.id for c in town.cameras_of("edge-01")[-4:]] + [town.cameras_of("edge-02")[0].id]
    data = town.model_dump()
    for cam in data["cameras"]:
        cam["enabled"] = cam["id"] not in off
    dimmed = type(town).model_validate(data)
    for hub in make_hub(dimmed, db_url, tmp_path, clock):
        r = hub.client.post("/api/v1/heartbeats", json=heartbeat(dimmed, "edge-01", hub.clock.now),
                            headers=hub.auth("edge-01"))
        assert r.status_code == 202, r.text
        m = hub.auth("maintainer")
        listing = hub.client.get("/api/v1/cameras", headers=m).json()
        by_status = listing["by_status"]
        n1 = len(town.cameras_of("edge-01"))
        assert by_status == {"online": n1 - 4, "degraded": 0, "offline": 280 - n1 - 1, "disabled": 5}
        assert sum(by_status.values()) == listing["total"] == 280
        assert _metric_counts(hub.client.get("/metrics").text) == by_status
        disabled = hub.client.get("/api/v1/cameras?status=disabled", headers=m).json()["items"]
        assert sorted(c["id"] for c in disabled) == sorted(off)
        assert all(c["enabled"] is False for c in disabled)
        offline = hub.client.get("/api/v1/cameras?status=offline", headers=m).json()["items"]
        assert not set(off) & {c["id"] for c in offline}
        nodes = {n["id"]: n for n in hub.client.get("/api/v1/nodes", headers=m).json()["items"]}
        assert nodes["edge-01"]["cameras_by_status"]["disabled"] == 4
        assert nodes["edge-01"]["cameras_by_status"]["online"] == n1 - 4
        assert sum(sum(n["cameras_by_status"].values()) for n in nodes.values()) == 280
        health = hub.client.get(f"/api/v1/cameras/{off[0]}/health", headers=m).json()
        assert health["status"] == "disabled"


def test_road_proposal_and_latest_snapshot_for_the_region_editor(hub, town) -> None:
    """The console's region editor reads a camera's proposed road (from its node's latest heartbeat)
    and its latest picture (the newest incident snapshot)."""
    from tests.central.conftest import alert, jpeg

    m = hub.auth("maintainer")
    cam, other = (c.id for c in town.cameras_of("edge-01")[:2])
    road = [[0.1, 0.5], [0.9, 0.5], [1.0, 1.0], [0.0, 1.0]]
    r = hub.client.post("/api/v1/heartbeats", json=heartbeat(town, "edge-01", hub.clock.now,
                                                              {cam: {"road_proposal": road}}),
                        headers=hub.auth("edge-01"))
    assert r.status_code == 202, r.text
    assert hub.client.get(f"/api/v1/cameras/{cam}/health", headers=m).json()["road_proposal"] == road
    assert hub.client.get(f"/api/v1/cameras/{other}/health", headers=m).json()["road_proposal"] is None
    node = next(n for n in hub.client.get("/api/v1/nodes", headers=m).json()["items"] if n["id"] == "edge-01")
    assert "road_proposals" not in node["health"] and node["health"]["cpu_percent"] == 40.0
    # the next heartbeat without a proposal (a road was drawn meanwhile): none shown any more
    hub.client.post("/api/v1/heartbeats", json=heartbeat(town, "edge-01", hub.clock.now, hid="hb-000002"),
                    headers=hub.auth("edge-01"))
    assert hub.client.get(f"/api/v1/cameras/{cam}/health", headers=m).json()["road_proposal"] is None

    assert hub.client.get(f"/api/v1/cameras/{cam}/snapshot", headers=m).status_code == 404
    assert hub.client.get("/api/v1/cameras/cam-999/snapshot", headers=m).status_code == 404
    picture = jpeg(64)
    assert hub.post_alert(alert(cam, "road_blockage", snapshot=picture)).status_code in (200, 201)
    hub.post_alert(alert(other, "road_blockage", event="ev-0002", snapshot=jpeg(48)))
    got = hub.client.get(f"/api/v1/cameras/{cam}/snapshot", headers=m)
    assert got.status_code == 200, got.text
    body = got.json()
    assert body["url"].startswith("/api/v1/media/") and body["incident_id"] >= 1
    # the other camera's alert joined the same incident with a picture as good: still this camera's own
    assert hub.client.get(body["url"], headers=m).content == picture
    assert hub.client.get(f"/api/v1/cameras/{cam}/snapshot").status_code == 401
