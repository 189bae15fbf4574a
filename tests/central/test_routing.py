"""Routing and grid assignment for every kind the sample town knows, as pure functions and through
the API (camera alerts) and Open311 (grid workers' reports)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from central.routing import Neighbourhoods, department_for, locate, neighbours, route, route_camera
from gridwatch.wire import EventKind
from tests.central.conftest import T0, alert


def _squad_of(town, grid_id: str) -> str:
    return next(d.id for d in town.departments if d.kind == "squad" and grid_id in d.grids)


def _expected_department(town, kind: str, grid_id: str | None) -> str:
    dep = town.department(town.route(kind).department)
    return _squad_of(town, grid_id) if dep.kind == "bureau" and grid_id else dep.id


def test_every_routed_kind_goes_to_its_department(town) -> None:
    expected = {
        "landslide": "natural-resources",
        "flooding": "urban-management",
        "road_damage": "urban-management",
        "illegal_dumping": "environment",
        "pollution": "environment",
        "dispute": "governance-petitions",
        "other": "governance-petitions",
    }
    cam = town.camera("cam-001")
    for rule in town.routing:
        r = route_camera(town, cam, rule.kind, T0)
        if rule.kind in expected:
            assert r.department_id == expected[rule.kind], rule.kind
        elif rule.kind in ("road_blockage", "illegal_construction"):
            assert r.department_id == _squad_of(town, cam.grid), rule.kind
        else:
            assert rule.kind.startswith("camera_") and r.department_id == "camera-maintenance"
            assert r.work_order is False and r.assignee_id is None
        if rule.notify_grid_worker:
            assert r.grid_id == cam.grid and r.assignee_id == town.grid(cam.grid).worker.id


def test_bureau_goes_to_the_squad_of_the_grid(town) -> None:
    squads = [d for d in town.departments if d.kind == "squad"]
    for squad in squads:
        for grid in squad.grids:
            assert department_for(town, "law-enforcement", grid) == squad.id
    assert department_for(town, "law-enforcement", None) == "law-enforcement"
    assert department_for(town, "natural-resources", "g-01") == "natural-resources"


def test_deadlines_follow_kind_and_priority(town) -> None:
    land = route(town, "landslide", "g-01", "v-chexi", T0)
    assert land.priority == "P1"
    assert land.deadlines.acknowledge_by == T0 + timedelta(minutes=5)
    assert land.deadlines.close_by == T0 + timedelta(minutes=480)  # landslide-specific rule
    flood = route(town, "flooding", "g-01", "v-chexi", T0)
    assert flood.deadlines.close_by == T0 + timedelta(minutes=240)  # P1 default
    block = route(town, "road_blockage", "g-01", "v-chexi", T0)
    assert block.priority == "P2" and block.deadlines.arrive_by == T0 + timedelta(minutes=120)


@pytest.mark.parametrize("warm", [False, True], ids=["on-first-use", "warmed"])
def test_neighbourhoods_are_the_pairwise_neighbours(town, warm: bool) -> None:
    near = Neighbourhoods(town).warm() if warm else Neighbourhoods(town)
    sizes = []
    for a in town.cameras:
        expected = {b.id for b in town.cameras if neighbours(town, a.id, b.id)}
        assert near.of(a.id) == expected
        assert not a.road or a.id in expected  # a camera neighbours itself (same road, 0 km)
        sizes.append(len(expected))
    assert max(sizes) > 1  # the sample town has neighbouring cameras


def test_locate_by_coordinates_and_address(town) -> None:
    chexi = next(v for v in town.villages if v.id == "v-chexi")
    grid, village = locate(town, chexi.lat, chexi.lon, None)
    assert village == "v-chexi" and grid == "g-01"
    cam = town.camera("cam-100")
    grid, village = locate(town, cam.lat, cam.lon, None)
    assert (grid, village) == (cam.grid, cam.village)
    assert locate(town, None, None, "车溪村 村口桥边")[1] == "v-chexi"
    assert locate(town, None, None, "Shitan village, by the school")[1] == "v-shitan"
    assert locate(town, None, None, "somewhere unknown") == (None, None)


@pytest.mark.parametrize("kind", [k.value for k in EventKind])
def test_every_event_kind_through_intake(hub, town, kind: str) -> None:
    cams = town.cameras_of("edge-01")
    cam = cams[[k.value for k in EventKind].index(kind) % len(cams)]
    r = hub.post_alert(alert(camera=cam.id, kind=kind))
    assert r.status_code == 201, r.text
    receipt = r.json()
    rule = town.route(kind)
    if not rule.work_order:
        assert receipt["work_order_id"] is None
        return
    wo = hub.client.get(
        f"/api/v1/work-orders/{receipt['work_order_id']}", headers=hub.auth("dispatcher")
    ).json()
    assert wo["kind"] == kind and wo["priority"] == rule.priority
    assert wo["department"]["id"] == _expected_department(town, kind, cam.grid)
    assert wo["grid"]["id"] == cam.grid and wo["village"]["id"] == cam.village
    assert wo["camera"]["id"] == cam.id
    assert wo["assignee"]["id"] == town.grid(cam.grid).worker.id


def test_every_report_kind_through_open311(hub, town) -> None:
    village = next(v for v in town.villages if v.id == "v-shitan")
    grid = next(g for g in town.grids if "v-shitan" in g.villages)
    for service in town.services:
        r = hub.client.post(
            "/open311/v2/requests.json",
            data={
                "api_key": hub.tokens["grid_worker"],
                "service_code": service.code,
                "lat": str(village.lat),
                "long": str(village.lon),
                "description": f"report of {service.name}",
            },
        )
        assert r.status_code == 200, r.text
        order_id = int(r.json()[0]["service_request_id"])
        wo = hub.client.get(f"/api/v1/work-orders/{order_id}", headers=hub.auth("dispatcher")).json()
        assert wo["kind"] == service.kind and wo["source"] == "grid_worker"
        assert wo["department"]["id"] == _expected_department(town, service.kind, grid.id), service.code
        assert wo["grid"]["id"] == grid.id and wo["assignee"]["id"] == grid.worker.id
