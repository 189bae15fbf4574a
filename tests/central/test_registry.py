"""The camera registry through the hub's API: versions and 409, validation with field paths, the audit
trail, roles, a node's configuration with ETag/304, and the hub's own town following each write."""

from __future__ import annotations

from typing import Any

from tests.central.conftest import HubUnderTest
from tests.central.test_health import heartbeat

CAM = "cam-001"
ROAD = [[0.0, 0.6], [1.0, 0.6], [1.0, 1.0], [0.0, 1.0]]


def _get(hub: HubUnderTest, cam: str = CAM) -> Any:
    r = hub.client.get(f"/api/v1/registry/cameras/{cam}", headers=hub.auth("maintainer"))
    assert r.status_code == 200, r.text
    return r


def test_versioned_edits_and_409_with_the_newer_version(hub: HubUnderTest) -> None:
    first = _get(hub)
    assert first.headers["etag"] == '"1"' and first.json()["version"] == 1
    rev0 = first.json()["revision"]
    # two maintainers open the camera; the first saves new regions
    patch = {"rois": [{"name": "road", "polygon": ROAD}]}
    r = hub.client.patch(
        f"/api/v1/registry/cameras/{CAM}", json=patch, headers=hub.auth("maintainer") | {"If-Match": '"1"'}
    )
    assert r.status_code == 200, r.text
    assert r.json()["version"] == 2 and r.json()["revision"] == rev0 + 1 and r.headers["etag"] == '"2"'
    assert r.json()["camera"]["rois"] == patch["rois"]
    # the second saves on top of version 1: refused, with the camera as it is now
    stale = hub.client.patch(
        f"/api/v1/registry/cameras/{CAM}",
        json={"name": "other"},
        headers=hub.auth("admin") | {"If-Match": '"1"'},
    )
    assert stale.status_code == 409, stale.text
    body = stale.json()
    assert body["current"]["version"] == 2 and body["current"]["camera"]["rois"] == patch["rois"]
    assert "version 2, not 1" in body["detail"]
    assert _get(hub).json()["camera"]["name"] != "other"
    # a full PUT with the right version; then without If-Match: 428
    doc = _get(hub).json()["camera"] | {"name": "涌厚路 东口"}
    r = hub.client.put(
        f"/api/v1/registry/cameras/{CAM}", json=doc, headers=hub.auth("admin") | {"If-Match": 'W/"2"'}
    )
    assert r.status_code == 200 and r.json()["version"] == 3
    assert (
        hub.client.put(f"/api/v1/registry/cameras/{CAM}", json=doc, headers=hub.auth("admin")).status_code
        == 428
    )
    # the hub's own town runs the new camera at once
    assert hub.hub.cameras[CAM].name == "涌厚路 东口"
    assert [r.name for r in hub.hub.cameras[CAM].rois] == ["road"]


def test_invalid_writes_are_422_with_the_field_path(hub: HubUnderTest) -> None:
    h = hub.auth("maintainer") | {"If-Match": '"1"'}
    url = f"/api/v1/registry/cameras/{CAM}"
    r = hub.client.patch(
        url, json={"rois": [{"name": "road", "polygon": [[0, 0], [1.5, 0], [1, 1]]}]}, headers=h
    )
    assert r.status_code == 422
    (err,) = r.json()["detail"]
    assert err["loc"] == ["body", "rois", 0, "polygon"] and "outside the 0..1 frame" in err["msg"]
    r = hub.client.patch(url, json={"grid": "g-99"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "grid"]
    r = hub.client.patch(url, json={"colour": "red"}, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "colour"]
    # PUT through FastAPI's own validation: the same schema, the same kind of answer
    doc = _get(hub).json()["camera"] | {"lat": 123}
    r = hub.client.put(url, json=doc, headers=h)
    assert r.status_code == 422 and r.json()["detail"][0]["loc"] == ["body", "lat"]
    # a password in a URL is refused, and not echoed back
    secret = "s3cret-Pa55"
    r = hub.client.patch(url, json={"streams": {"main": f"rtsp://admin:{secret}@10.0.0.9/ch1"}}, headers=h)
    assert r.status_code == 422 and secret not in r.text
    assert r.json()["detail"][0]["loc"] == ["body", "streams", "main"]
    assert _get(hub).json()["version"] == 1  # nothing was written


def test_create_delete_audit_and_roles(hub: HubUnderTest) -> None:
    new = {
        "id": "cam-900",
        "name": "新装 S205 路口",
        "village": "v-chexi",
        "grid": "g-01",
        "node": "edge-01",
        "lat": 29.04,
        "lon": 117.26,
        "streams": {
            "main": "rtsp://viewer:{password}@10.1.2.3:554/Streaming/Channels/101",
            "password_ref": "chexi-cams",
        },
        "device": {"brand": "hikvision", "ip": "10.1.2.3", "channel": 1, "user": "viewer"},
    }
    assert (
        hub.client.post("/api/v1/registry/cameras", json=new, headers=hub.auth("dispatcher")).status_code
        == 403
    )
    r = hub.client.post("/api/v1/registry/cameras", json=new, headers=hub.auth("maintainer"))
    assert r.status_code == 201, r.text
    assert r.json()["camera"] == new  # only the keys given, as the YAML will hold them
    assert (
        hub.client.post("/api/v1/registry/cameras", json=new, headers=hub.auth("maintainer")).status_code
        == 409
    )
    # the hub takes heartbeats for it at once (it is in the running town)
    hb = heartbeat(hub.hub.town, "edge-01", hub.clock.now)
    assert any(c["camera_id"] == "cam-900" for c in hb["cameras"])
    r = hub.client.post("/api/v1/heartbeats", json=hb, headers=hub.auth("edge-01"))
    assert r.status_code == 202, r.text
    assert (
        r.json()["config_version"]
        == hub.client.get("/api/v1/registry", headers=hub.auth("maintainer")).json()["revision"]
    )
    listed = hub.client.get("/api/v1/registry/cameras?node=edge-01", headers=hub.auth("dispatcher")).json()
    assert "cam-900" in [i["camera"]["id"] for i in listed["items"]]
    assert (
        hub.client.delete(
            "/api/v1/registry/cameras/cam-900", headers=hub.auth("maintainer") | {"If-Match": '"2"'}
        ).status_code
        == 409
    )
    r = hub.client.delete("/api/v1/registry/cameras/cam-900", headers=hub.auth("admin") | {"If-Match": '"1"'})
    assert r.status_code == 200 and "cam-900" not in hub.hub.cameras
    trail = hub.client.get("/api/v1/registry/audit?camera=cam-900", headers=hub.auth("maintainer")).json()
    assert [(a["action"], a["actor"], a["role"]) for a in trail["items"]] == [
        ("delete", "admin-1", "admin"),
        ("create", "maintainer-1", "maintainer"),
    ]
    assert trail["items"][0]["before"] == new and trail["items"][0]["after"] is None
    assert trail["items"][1]["before"] is None and trail["items"][1]["after"] == new


def test_node_config_etag_and_the_version_a_node_reports(hub: HubUnderTest) -> None:
    url = "/api/v1/registry/nodes/edge-01/config"
    r = hub.client.get(url, headers=hub.auth("edge-01"))
    assert r.status_code == 200
    doc, etag = r.json(), r.headers["etag"]
    assert etag == f'"r{doc["revision"]}"'
    assert {c["node"] for c in doc["cameras"]} == {"edge-01"} and len(doc["cameras"]) == 20
    assert hub.client.get(url, headers=hub.auth("edge-01") | {"If-None-Match": etag}).status_code == 304
    assert (
        hub.client.get("/api/v1/registry/nodes/edge-02/config", headers=hub.auth("edge-01")).status_code
        == 403
    )
    hub.client.patch(
        f"/api/v1/registry/cameras/{CAM}",
        json={"rois": [{"name": "road", "polygon": ROAD}]},
        headers=hub.auth("maintainer") | {"If-Match": '"1"'},
    )
    r = hub.client.get(url, headers=hub.auth("edge-01") | {"If-None-Match": etag})
    assert r.status_code == 200 and r.json()["revision"] == doc["revision"] + 1
    # the node says it refused that revision: the maintainer sees why, on the node and on its cameras
    hb = heartbeat(hub.hub.town, "edge-01", hub.clock.now) | {
        "config_version": doc["revision"],
        "config_error": "camera cam-001: secret 'x' is not set",
    }
    assert hub.client.post("/api/v1/heartbeats", json=hb, headers=hub.auth("edge-01")).status_code == 202
    nodes = {
        n["id"]: n for n in hub.client.get("/api/v1/nodes", headers=hub.auth("maintainer")).json()["items"]
    }
    assert nodes["edge-01"]["config"] == {
        "version": doc["revision"],
        "registry_revision": doc["revision"] + 1,
        "current": False,
        "error": "camera cam-001: secret 'x' is not set",
    }
    health = hub.client.get(f"/api/v1/cameras/{CAM}/health", headers=hub.auth("maintainer")).json()
    assert health["config"]["error"].startswith("camera cam-001")


def test_a_restarted_hub_keeps_the_registry_cameras_and_takes_the_folder_sections(
    hub: HubUnderTest, db_url: str, tmp_path: Any, clock: Any
) -> None:
    from gridwatch.config import HubSettings
    from tests.central.conftest import make_hub

    r = hub.client.patch(
        f"/api/v1/registry/cameras/{CAM}",
        json={"name": "改过的名字"},
        headers=hub.auth("maintainer") | {"If-Match": '"1"'},
    )
    assert r.status_code == 200
    town = hub.hub.town
    cams = [c.model_copy(update={"name": "folder"}) if c.id == CAM else c for c in town.cameras]
    folder = town.model_copy(update={"cameras": cams, "hub": HubSettings(incident_group_window_s=0)})
    for h in make_hub(folder, db_url, tmp_path / "b", clock):
        assert h.hub.cameras[CAM].name == "改过的名字"  # the registry's, not the folder's
        assert h.hub.town.hub.incident_group_window_s == 0  # the folder's
        trail = h.client.get("/api/v1/registry/audit?camera=hub", headers=h.auth("admin")).json()["items"]
        assert trail[0]["action"] == "start" and trail[0]["after"] == {"incident_group_window_s": 0.0}
