"""The pictures of a work order: the feed's work_order.created event carries the order's snapshot, and
an order whose incident grouped several cameras lists each camera's picture, labelled with its
camera, the order's own camera first (central/snapshots.py)."""

from __future__ import annotations

from central.routing import neighbours
from tests.central.conftest import T0, alert, jpeg
from tests.central.test_feed import _read


def _pair(town):
    return next(
        (a, b)
        for a in town.cameras_of("edge-01")
        for b in town.cameras_of("edge-01")
        if a.id < b.id and neighbours(town, a.id, b.id)
    )


def test_created_event_carries_the_orders_snapshot(hub) -> None:
    receipt = hub.post_alert(alert(snapshot=jpeg())).json()
    created = [e for e in _read(hub) if e["type"] == "work_order.created"]
    assert [e["data"]["id"] for e in created] == [receipt["work_order_id"]]
    url = created[0]["data"]["snapshot_url"]
    assert url and url.startswith("/api/v1/media/")
    order = hub.client.get(f"/api/v1/work-orders/{receipt['work_order_id']}", headers=hub.auth("dispatcher"))
    assert order.json()["snapshot_url"] == url
    assert hub.client.get(url, headers=hub.auth("dispatcher")).content == jpeg()


def test_created_event_without_a_snapshot_says_none(hub) -> None:
    hub.post_alert(alert())
    (created,) = [e for e in _read(hub) if e["type"] == "work_order.created"]
    assert created["data"]["snapshot_url"] is None


def test_grouped_cameras_pictures_are_labelled_and_the_orders_own_first(hub, town) -> None:
    a, b = _pair(town)
    own, other = jpeg(colour=(10, 200, 10)), jpeg(colour=(200, 10, 10))
    first = hub.post_alert(alert(camera=a.id, snapshot=own, score=0.6)).json()
    # the neighbour sees the same slide, better: the incident's best picture is now b's
    second = hub.post_alert(alert(camera=b.id, event="ev-b", at=T0.replace(minute=2), snapshot=other,
                                  score=0.95)).json()
    assert second["work_order_id"] == first["work_order_id"]
    oid = first["work_order_id"]
    order = hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth("dispatcher")).json()
    assert order["camera"]["id"] == a.id
    snaps = order["snapshots"]
    assert [s["camera_id"] for s in snaps] == [a.id, b.id]
    assert [s["camera_name"] for s in snaps] == [a.name, b.name]
    assert order["snapshot_url"] == snaps[0]["url"]  # the order's own camera's picture, not b's better one
    pictures = [hub.client.get(s["url"], headers=hub.auth("dispatcher")).content for s in snaps]
    assert pictures == [own, other]


def test_an_order_without_pictures_lists_none(hub) -> None:
    oid = hub.post_alert(alert()).json()["work_order_id"]
    order = hub.client.get(f"/api/v1/work-orders/{oid}", headers=hub.auth("dispatcher")).json()
    assert order["snapshots"] == [] and order["snapshot_url"] is None


