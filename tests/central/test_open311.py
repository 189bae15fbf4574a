"""Open311 GeoReport v2 round trip, with the spec's field names and error format."""

from __future__ import annotations

import io

from tests.central.conftest import jpeg


def test_services_are_public_and_from_the_config(hub, town) -> None:
    r = hub.client.get("/open311/v2/services.json")
    assert r.status_code == 200
    services = r.json()
    assert [s["service_code"] for s in services] == [s.code for s in town.services]
    assert set(services[0]) >= {
        "service_code",
        "service_name",
        "description",
        "metadata",
        "type",
        "keywords",
        "group",
    }


def test_round_trip(hub, town) -> None:
    chexi = next(v for v in town.villages if v.id == "v-chexi")
    form = {
        "api_key": hub.tokens["grid_worker"],
        "service_code": "landslide",
        "lat": str(chexi.lat),
        "long": str(chexi.lon),
        "description": "山体滑坡, rocks on the village road",
        "media_url": "https://example.org/photo.jpg",
        "email": "ignored@example.org",
    }
    r = hub.client.post("/open311/v2/requests.json", data=form)
    assert r.status_code == 200, r.text
    [answer] = r.json()
    assert (
        set(answer) == {"service_request_id", "service_notice", "account_id"} and answer["account_id"] is None
    )
    rid = answer["service_request_id"]
    [got] = hub.client.get(f"/open311/v2/requests/{rid}.json").json()
    assert got["service_request_id"] == rid and got["status"] == "open" and got["service_code"] == "landslide"
    assert got["description"] == form["description"] and got["media_url"] == form["media_url"]
    assert got["lat"] == chexi.lat and got["long"] == chexi.lon
    assert got["agency_responsible"] == "自然资源规划与服务中心"
    for key in (
        "requested_datetime",
        "updated_datetime",
        "expected_datetime",
        "address",
        "service_name",
        "status_notes",
        "zipcode",
        "address_id",
    ):
        assert key in got
    # a second report by address, with a photo upload; then list with filters
    r = hub.client.post(
        "/open311/v2/requests.json",
        data={
            "api_key": hub.tokens["admin"],
            "service_code": "illegal_dumping",
            "address_string": "石潭村 river bank",
            "description": "rubbish",
        },
        files={"media": ("p.jpg", io.BytesIO(jpeg()), "image/jpeg")},
    )
    assert r.status_code == 200, r.text
    rid2 = r.json()[0]["service_request_id"]
    [got2] = hub.client.get(f"/open311/v2/requests/{rid2}.json").json()
    assert got2["media_url"].startswith("http") and "/api/v1/media/" in got2["media_url"]
    listed = hub.client.get("/open311/v2/requests.json").json()
    assert {x["service_request_id"] for x in listed} == {rid, rid2}
    only = hub.client.get("/open311/v2/requests.json?service_code=illegal_dumping").json()
    assert [x["service_request_id"] for x in only] == [rid2]
    both = hub.client.get("/open311/v2/requests.json", params={"service_request_id": f"{rid},{rid2}"}).json()
    assert len(both) == 2
    now = hub.clock.now
    span = {"start_date": (now.replace(hour=7)).isoformat(), "end_date": now.replace(hour=9).isoformat()}
    assert len(hub.client.get("/open311/v2/requests.json", params=span).json()) == 2
    later = {"start_date": now.replace(hour=9).isoformat()}
    assert hub.client.get("/open311/v2/requests.json", params=later).json() == []
    # closing the order shows as status closed
    assert hub.act(int(rid), "dispatcher", "reject", reason="duplicate report").status_code == 200
    closed = hub.client.get("/open311/v2/requests.json?status=closed").json()
    assert [x["service_request_id"] for x in closed] == [rid]
    assert [
        x["service_request_id"] for x in hub.client.get("/open311/v2/requests.json?status=open").json()
    ] == [rid2]


def test_errors_in_open311_format(hub) -> None:
    base = {"service_code": "landslide", "lat": "29.04", "long": "117.26", "description": "x"}

    def post(data: dict) -> tuple[int, list]:
        r = hub.client.post("/open311/v2/requests.json", data=data)
        return r.status_code, r.json()

    code, body = post(base)
    assert code == 401 and body[0]["code"] == 401 and "api_key" in body[0]["description"]
    assert post({**base, "api_key": "wrong"})[0] == 403
    assert post({**base, "api_key": hub.tokens["dispatcher"]})[0] == 403
    assert post({**base, "api_key": hub.tokens["edge-01"]})[0] == 403
    key = hub.tokens["grid_worker"]
    code, body = post({**base, "api_key": key, "service_code": "ufo"})
    assert code == 404 and "ufo" in body[0]["description"]
    assert post({**base, "api_key": key, "lat": "north"})[0] == 400
    assert post({**base, "api_key": key, "lat": "95"})[0] == 400
    assert post({"api_key": key, "service_code": "landslide"})[0] == 400
    assert post({**base, "api_key": key, "description": "x" * 4001})[0] == 400
    assert post({**base, "api_key": key, "media_url": "javascript:alert(1)"})[0] == 400
    r = hub.client.post(
        "/open311/v2/requests.json",
        data={**base, "api_key": key},
        files={"media": ("p.jpg", io.BytesIO(b"GIF89a not a jpeg"), "image/jpeg")},
    )
    assert r.status_code == 400 and "media" in r.json()[0]["description"]
    assert hub.client.get("/open311/v2/requests/12345.json").status_code == 404
    assert hub.client.get("/open311/v2/requests/abc.json").json()[0]["code"] == 404
    assert hub.client.get("/open311/v2/requests.json?start_date=yesterday").status_code == 400
    assert hub.client.get("/open311/v2/requests.json?status=maybe").status_code == 400
    assert hub.client.get("/open311/v2/requests.json").json() == []
