"""Alert intake: idempotent, merging, refusing bad input with the right status."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from central.tables import AlertRow, Incident, WorkOrder
from tests.central.conftest import T0, alert, jpeg


def _counts(hub) -> tuple[int, int, int]:
    with hub.hub.db.read() as s:
        return (
            s.execute(select(func.count()).select_from(AlertRow)).scalar_one(),
            s.execute(select(func.count()).select_from(Incident)).scalar_one(),
            s.execute(select(func.count()).select_from(WorkOrder)).scalar_one(),
        )


def test_same_alert_twice_stores_once(hub) -> None:
    body = alert(snapshot=jpeg())
    first = hub.post_alert(body)
    assert first.status_code == 201, first.text
    again = hub.post_alert(body)
    assert again.status_code == 200, again.text
    r1, r2 = first.json(), again.json()
    assert r1["duplicate"] is False and r2["duplicate"] is True
    assert (r1["alert_id"], r1["incident_id"], r1["work_order_id"]) == (
        r2["alert_id"],
        r2["incident_id"],
        r2["work_order_id"],
    )
    assert r1["work_order_id"] is not None
    assert _counts(hub) == (1, 1, 1)
    assert len(list((hub.hub.config.media_dir).glob("*.jpg"))) == 1


def test_concurrent_resends_store_once(hub) -> None:
    body = alert(snapshot=jpeg())
    with ThreadPoolExecutor(max_workers=6) as pool:
        answers = list(pool.map(lambda _: hub.post_alert(body), range(6)))
    assert sorted(a.status_code for a in answers) == [200] * 5 + [201]
    assert len({(a.json()["incident_id"], a.json()["work_order_id"]) for a in answers}) == 1
    assert _counts(hub) == (1, 1, 1)
    assert len(list(hub.hub.config.media_dir.glob("*.jpg"))) == 1


def test_updates_merge_and_clear_keeps_the_order(hub) -> None:
    hub.clock.advance(minutes=10)
    onset = hub.post_alert(alert(snapshot=jpeg(colour=(1, 2, 3)), score=0.6)).json()
    upd = hub.post_alert(
        alert(phase="update", seq=2, at=T0.replace(minute=1), score=0.9, snapshot=jpeg())
    ).json()
    assert upd["incident_id"] == onset["incident_id"] and upd["work_order_id"] == onset["work_order_id"]
    clear = hub.post_alert(alert(phase="clear", seq=3, at=T0.replace(minute=2), score=0.1)).json()
    assert clear["incident_id"] == onset["incident_id"]
    assert _counts(hub) == (3, 1, 1)
    inc = hub.client.get(f"/api/v1/incidents/{onset['incident_id']}", headers=hub.auth("dispatcher")).json()
    assert inc["state"] == "cleared" and inc["alert_count"] == 3 and inc["best_score"] == 0.9
    assert inc["first_seen"].startswith("2026-11-26T08:00") and inc["last_seen"].startswith(
        "2026-11-26T08:02"
    )
    wo = hub.client.get(
        f"/api/v1/work-orders/{onset['work_order_id']}", headers=hub.auth("dispatcher")
    ).json()
    assert wo["state"] == "new" and wo["detection_cleared_at"] is not None
    # a new onset after the clear is a new incident (the order of the old one is still open)
    again = hub.post_alert(alert(event="ev-0002", at=T0.replace(minute=5))).json()
    assert again["incident_id"] != onset["incident_id"]


def test_different_kinds_and_cameras_are_different_incidents(hub) -> None:
    a = hub.post_alert(alert(camera="cam-001", kind="landslide")).json()
    b = hub.post_alert(alert(camera="cam-001", kind="flooding", event="ev-2")).json()
    assert a["incident_id"] != b["incident_id"]


def test_camera_fault_alert_makes_incident_but_no_order(hub) -> None:
    r = hub.post_alert(alert(kind="camera_blurred"))
    assert r.status_code == 201 and r.json()["work_order_id"] is None


def test_unknown_camera_is_404(hub) -> None:
    r = hub.post_alert(alert(camera="cam-999"))
    assert r.status_code == 404 and "cam-999" in r.json()["detail"]


def test_other_nodes_camera_is_403(hub, town) -> None:
    cam = town.cameras_of("edge-02")[0].id
    r = hub.post_alert(alert(camera=cam, node="edge-01"), who="edge-01")
    assert r.status_code == 403 and "edge-02" in r.json()["detail"]
    # claiming to be the other node does not help either
    r = hub.post_alert(alert(camera=cam, node="edge-02"), who="edge-01")
    assert r.status_code == 403
    assert _counts(hub) == (0, 0, 0)


def test_malformed_json_is_422(hub) -> None:
    r = hub.client.post(
        "/api/v1/alerts",
        content=b'{"id": "abc',
        headers={**hub.auth("edge-01"), "Content-Type": "application/json"},
    )
    assert r.status_code == 422
    r = hub.post_alert({**alert(), "kind": "meteor"})
    assert r.status_code == 422 and "kind" in r.text
    r = hub.post_alert({**alert(), "score": 3})
    assert r.status_code == 422


def test_corrupt_snapshot_is_422_and_nothing_stored(hub) -> None:
    fake = b"\xff\xd8\xff\xe0" + b"not really a jpeg" * 10 + b"\xff\xd9"
    r = hub.post_alert(alert(snapshot=fake))
    assert r.status_code == 422 and "snapshot" in r.json()["detail"]
    r = hub.post_alert({**alert(), "snapshot_jpeg": "!!!not base64!!!"})
    assert r.status_code == 422
    assert _counts(hub) == (0, 0, 0)
    assert not list(hub.hub.config.media_dir.glob("*"))


def test_oversized_snapshot_is_413(town, db_url, tmp_path, clock) -> None:
    from gridwatch.config import HubSettings
    from tests.central.conftest import make_hub

    small = town.model_copy(update={"hub": HubSettings(max_snapshot_bytes=500)})
    for h in make_hub(small, db_url, tmp_path, clock):
        r = h.post_alert(alert(snapshot=jpeg(size=64, noisy=True)))
        assert r.status_code == 413 and "limit" in r.json()["detail"]


def test_body_over_limit_is_413_by_length_and_by_stream(town, db_url, tmp_path, clock) -> None:
    from tests.central.conftest import make_hub

    for h in make_hub(town, db_url, tmp_path, clock, max_body_bytes=2000):
        big = alert(snapshot=jpeg(size=64, noisy=True))
        r = h.post_alert(big)
        assert r.status_code == 413

        # no Content-Length: a streamed (chunked) body is counted as it arrives
        def chunks():
            yield b'{"id": "'
            for _ in range(100):
                yield b"x" * 100

        r = h.client.post(
            "/api/v1/alerts",
            content=chunks(),
            headers={**h.auth("edge-01"), "Content-Type": "application/json"},
        )
        assert r.status_code == 413


def test_times_must_be_sane(hub) -> None:
    r = hub.post_alert(alert(at=T0.replace(hour=12)))
    assert r.status_code == 422 and "future" in r.json()["detail"]
    body = alert()
    body["raised_at"] = "2026-11-26T08:00:00"
    r = hub.post_alert(body)
    assert r.status_code == 422 and "timezone" in r.text


def test_silence_after_false_alarm(hub) -> None:
    first = hub.post_alert(alert()).json()
    r = hub.act(first["work_order_id"], "dispatcher", "reject", reason="shadow of a cloud")
    assert r.status_code == 200, r.text
    hub.clock.advance(minutes=10)
    again = hub.post_alert(alert(event="ev-2", at=hub.clock.now)).json()
    assert again["work_order_id"] is None
    inc = hub.client.get(f"/api/v1/incidents/{again['incident_id']}", headers=hub.auth("dispatcher")).json()
    assert inc["silenced"] is True
    # another kind on the same camera is not silenced
    assert hub.post_alert(alert(kind="flooding", event="ev-3")).json()["work_order_id"] is not None
    # after the silence ends a new onset makes an order again
    hub.clock.advance(minutes=hub.hub.town.hub.silence_after_false_alarm_min + 1)
    hub.post_alert(alert(phase="clear", event="ev-2", seq=2, at=hub.clock.now))
    later = hub.post_alert(alert(event="ev-4", at=hub.clock.now)).json()
    assert later["work_order_id"] is not None


def test_neighbouring_cameras_on_one_road_group(hub, town) -> None:
    from central.routing import neighbours

    pairs = [
        (a, b)
        for a in town.cameras
        for b in town.cameras
        if a.id < b.id and a.node == b.node == "edge-01" and neighbours(town, a.id, b.id)
    ]
    assert pairs, "sample town should have neighbouring cameras on one node"
    a, b = pairs[0]
    r1 = hub.post_alert(alert(camera=a.id)).json()
    r2 = hub.post_alert(alert(camera=b.id, event="ev-b", at=T0.replace(minute=3))).json()
    assert r2["incident_id"] == r1["incident_id"] and r2["work_order_id"] == r1["work_order_id"]
    far = [c for c in town.cameras_of("edge-01") if c.road != a.road]
    r3 = hub.post_alert(alert(camera=far[0].id, event="ev-c")).json()
    assert r3["incident_id"] != r1["incident_id"]


def test_late_steps_of_an_ended_event_do_not_reopen(hub) -> None:
    hub.clock.advance(minutes=10)
    first = hub.post_alert(alert(seq=1)).json()
    hub.post_alert(alert(phase="clear", seq=3, at=T0.replace(minute=5)))
    late = hub.post_alert(alert(phase="update", seq=2, at=T0.replace(minute=3))).json()
    assert (late["incident_id"], late["work_order_id"]) == (first["incident_id"], first["work_order_id"])
    # closing the order, then more updates of the same event: still that incident, no new order
    oid = first["work_order_id"]
    assert hub.act(oid, "dispatcher", "reject", reason="test").status_code == 200
    again = hub.post_alert(alert(phase="update", seq=4, at=T0.replace(minute=6))).json()
    assert again["incident_id"] == first["incident_id"]
    assert _counts(hub) == (4, 1, 1)
