"""Media names cannot escape the folder; /metrics speaks Prometheus; live-view offers reach the node."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import ClassVar

import pytest

from central.media import MediaStore
from tests.central.conftest import alert, jpeg
from tests.central.test_health import heartbeat


@pytest.mark.parametrize(
    "name",
    [
        "../hub.db",
        "..%2F..%2Fetc%2Fpasswd",
        "%2e%2e%2fhub.db",
        "x.jpg",
        "0" * 32 + ".jpg/../../hub.db",
        "0" * 32 + ".exe",
        "/etc/passwd",
        "0" * 31 + "g.jpg",
    ],
)
def test_media_path_tricks(hub, name: str) -> None:
    r = hub.client.get(f"/api/v1/media/{name}", headers=hub.auth("dispatcher"))
    assert r.status_code == 404, (name, r.status_code)


def test_media_store_only_serves_its_own_names(tmp_path) -> None:
    store = MediaStore(tmp_path / "m")
    name = store.save(jpeg(), "jpg")
    assert store.path(name) == tmp_path / "m" / name
    (tmp_path / "secret.jpg").write_bytes(b"x")
    assert store.path("../secret.jpg") is None and store.path(name.upper()) is None
    store.delete("../secret.jpg")
    assert (tmp_path / "secret.jpg").exists()
    with pytest.raises(ValueError):
        store.save(b"x", "exe")


def test_snapshot_via_token_query_for_img_tags(hub) -> None:
    oid = hub.post_alert(alert(snapshot=jpeg())).json()["work_order_id"]
    url = hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth("dispatcher")).json()["snapshot_url"]
    assert hub.client.get(url, params={"token": hub.tokens["dispatcher"]}).content == jpeg()
    assert hub.client.get(url, params={"token": hub.tokens["edge-01"]}).status_code == 403


def test_metrics(hub, town) -> None:
    hub.post_alert(alert())
    hub.post_alert(alert())
    hub.client.post(
        "/api/v1/heartbeats", json=heartbeat(town, "edge-01", hub.clock.now), headers=hub.auth("edge-01")
    )
    text = hub.client.get("/metrics").text
    n = len(town.cameras_of("edge-01"))
    assert f'gridwatch_cameras{{status="online"}} {float(n)}' in text
    assert f'gridwatch_cameras{{status="offline"}} {float(280 - n)}' in text
    assert 'gridwatch_alerts_received_total{duplicate="false",kind="landslide",phase="onset"} 1.0' in text
    assert 'gridwatch_alerts_received_total{duplicate="true",kind="landslide",phase="onset"} 1.0' in text
    assert (
        'gridwatch_work_orders{state="new"} 1.0' in text and 'gridwatch_incidents{state="open"} 1.0' in text
    )
    assert "gridwatch_intake_seconds_count 2.0" in text


class _FakeEdgeLive(BaseHTTPRequestHandler):
    """A node's live endpoint on 127.0.0.1: answers an offer with a recognisable answer, and keeps
    the Authorization header each offer came with."""

    seen_auth: ClassVar[list[str | None]] = []

    def do_POST(self) -> None:
        self.seen_auth.append(self.headers.get("Authorization"))
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        out = json.dumps({"sdp": f"answer-to:{body['sdp']}:{self.path}", "type": "answer"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    def log_message(self, *args: object) -> None:
        pass


def test_live_offer_is_relayed_to_the_node(hub, town) -> None:
    server = HTTPServer(("127.0.0.1", 0), _FakeEdgeLive)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        m = hub.auth("maintainer")
        offer = {"sdp": "v=0 offer", "type": "offer"}
        r = hub.client.post("/api/v1/cameras/cam-001/live/offer", json=offer, headers=m)
        assert r.status_code == 409  # the node has not announced live view yet
        live = f"http://127.0.0.1:{server.server_port}/live"
        hub.client.post(
            "/api/v1/heartbeats",
            json=heartbeat(town, "edge-01", hub.clock.now, live_url=live),
            headers=hub.auth("edge-01"),
        )
        r = hub.client.post("/api/v1/cameras/cam-001/live/offer", json=offer, headers=m)
        assert r.status_code == 200, r.text
        assert r.json() == {"sdp": "answer-to:v=0 offer:/live/offer?camera_id=cam-001", "type": "answer"}
        assert _FakeEdgeLive.seen_auth[-1] is None  # the node announced no key: none is sent
        # a node with a live key gets it presented with every relayed offer, and never shown to viewers
        key = "k" * 43
        hub.client.post(
            "/api/v1/heartbeats",
            json=heartbeat(town, "edge-01", hub.clock.now, hid="hb-000002", live_url=live, live_key=key),
            headers=hub.auth("edge-01"),
        )
        r = hub.client.post("/api/v1/cameras/cam-001/live/offer", json=offer, headers=m)
        assert r.status_code == 200, r.text
        assert _FakeEdgeLive.seen_auth[-1] == f"Bearer {key}"
        for path in ("/api/v1/nodes", "/api/v1/cameras/cam-001/health", "/api/v1/cameras"):
            shown = hub.client.get(path, headers=m)
            assert shown.status_code == 200 and key not in shown.text, path
        bad = heartbeat(town, "edge-01", hub.clock.now, hid="hb-000003", live_url=live, live_key="short")
        assert hub.client.post("/api/v1/heartbeats", json=bad, headers=hub.auth("edge-01")).status_code == 422
        assert hub.client.post("/api/v1/cameras/cam-999/live/offer", json=offer, headers=m).status_code == 404
        assert (
            hub.client.post(
                "/api/v1/cameras/cam-001/live/offer", json={"sdp": "x", "type": "answer"}, headers=m
            ).status_code
            == 422
        )
    finally:
        server.shutdown()
        server.server_close()
