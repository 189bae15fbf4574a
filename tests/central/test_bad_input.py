"""Bad input never makes a 500: out-of-range ids, NUL characters (PostgreSQL refuses them in text),
JPEG bombs, junk bodies."""

from __future__ import annotations

import io
import json

from tests.central.conftest import alert, b64


def test_huge_ids_are_404_or_422(hub) -> None:
    h = hub.auth("dispatcher")
    for path in (
        "/api/v1/work-orders/99999999999999999999",
        "/api/v1/incidents/99999999999999999999",
        "/api/v1/work-orders?offset=99999999999999999999",
        "/api/v1/work-orders/0",
        "/api/v1/feed?follow=false&last_event_id=99999999999999999999",
    ):
        assert hub.client.get(path, headers=h).status_code == 422, path
    assert hub.client.get("/api/v1/work-orders/9223372036854775807", headers=h).status_code == 404
    r = hub.client.get("/api/v1/feed?follow=false", headers={**h, "Last-Event-ID": "9" * 30})
    assert r.status_code == 422
    assert hub.client.get("/open311/v2/requests/99999999999999999999.json").status_code == 404
    assert hub.client.get("/open311/v2/requests/²³.json").status_code == 404
    assert hub.client.get("/open311/v2/requests.json?service_request_id=²").status_code == 400
    assert (
        hub.client.get("/open311/v2/requests.json?service_request_id=99999999999999999999").status_code == 400
    )


def test_nul_characters_are_refused(hub) -> None:
    r = hub.post_alert(alert(region="ro\x00ad"))
    assert r.status_code == 422, r.text
    r = hub.post_alert(alert(details={"note": "a\x00b"}))
    assert r.status_code == 422, r.text
    oid = hub.post_alert(alert()).json()["work_order_id"]
    r = hub.act(oid, "dispatcher", "reject", reason="bad\x00reason")
    assert r.status_code == 422, r.text
    r = hub.client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": hub.tokens["grid_worker"],
            "service_code": "other",
            "address_string": "车溪村",
            "description": "nul\x00here",
        },
    )
    assert r.status_code == 400, r.text


def test_jpeg_bomb_is_refused(hub) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("L", (8000, 8000)).save(buf, format="JPEG", quality=1)
    assert len(buf.getvalue()) < 1_000_000
    r = hub.post_alert(alert(snapshot=buf.getvalue()))
    assert r.status_code == 422 and "pixels" in r.json()["detail"]


def test_junk_bodies(hub) -> None:
    e = {**hub.auth("edge-01"), "Content-Type": "application/json"}
    for body in (b"", b"null", b"[]", b"\xff\xfe\x00", b'{"id": 1}', b"{" * 10000):
        r = hub.client.post("/api/v1/alerts", content=body, headers=e)
        assert r.status_code in (400, 422), (body[:10], r.status_code)
    r = hub.client.post("/api/v1/heartbeats", content=b"{}", headers=e)
    assert r.status_code == 422
    r = hub.client.post(
        "/api/v1/alerts", content=b"id=1", headers={**hub.auth("edge-01"), "Content-Type": "text/plain"}
    )
    assert r.status_code == 422
    r = hub.client.post("/api/v1/alerts", content=b"{}", headers={**e, "Content-Length": "abc"})
    assert r.status_code in (400, 422)
    r = hub.client.post(
        "/open311/v2/requests.json",
        content=b"--x\r\nbroken",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code in (400, 401)
    r = hub.act(1, "dispatcher", "resolve", note="x", evidence=b64(b"\x00" * 10))
    assert r.status_code in (404, 422)


def test_database_down_is_503_not_500(town, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from central.app import create_app
    from central.settings import HubConfig
    from tests.support.net import free_port

    url = f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nowhere?connect_timeout=2"
    app = create_app(
        town, HubConfig(db_url=url, media_dir=tmp_path, watch_interval_s=0, migrate_on_start=False)
    )
    with TestClient(app) as client:
        r = client.get("/api/v1/work-orders", headers={"Authorization": "Bearer whatever"})
        assert r.status_code == 503 and r.headers["retry-after"] == "1"
        assert "retry" in r.json()["detail"]


def test_out_of_range_numbers_are_422(hub) -> None:
    r = hub.post_alert(alert(seq=2**70))
    assert r.status_code == 422, r.text
    r = hub.client.post(
        "/api/v1/alerts",
        content=b'{"x": Infinity}',
        headers={**hub.auth("edge-01"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    raw = json.dumps(alert(event="e2")).replace('"score": 0.8', '"score": 0.8, "video_time_s": Infinity')
    r = hub.client.post(
        "/api/v1/alerts",
        content=raw.encode(),
        headers={**hub.auth("edge-01"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
    raw = json.dumps(alert(event="e3")).replace('"width_share": 0.5', '"width_share": NaN')
    r = hub.client.post(
        "/api/v1/alerts",
        content=raw.encode(),
        headers={**hub.auth("edge-01"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422, r.text
