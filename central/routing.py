"""Who handles what: kind -> department, place -> grid and grid worker, kind+priority -> deadlines.

Pure functions over the town config; no I/O, so every rule is testable on its own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

from gridwatch.config import Town
from gridwatch.config.schema import Camera, Grid


@dataclass(frozen=True, slots=True)
class Deadlines:
    acknowledge_by: datetime
    arrive_by: datetime
    close_by: datetime


@dataclass(frozen=True, slots=True)
class Routing:
    """Where a new work order goes."""

    kind: str
    department_id: str
    priority: str
    work_order: bool
    grid_id: str | None
    village_id: str | None
    assignee_id: str | None
    deadlines: Deadlines


class UnknownKind(ValueError):
    pass


def deadlines_for(town: Town, kind: str, priority: str, created: datetime) -> Deadlines:
    rule = town.deadline(kind, priority)  # type: ignore[arg-type]
    return Deadlines(
        acknowledge_by=created + timedelta(minutes=rule.acknowledge_min),
        arrive_by=created + timedelta(minutes=rule.arrive_min),
        close_by=created + timedelta(minutes=rule.close_min),
    )


def department_for(town: Town, department_id: str, grid_id: str | None) -> str:
    """A bureau hands the order to its squad covering the grid; anything else keeps it."""
    dep = town.department(department_id)
    if dep.kind != "bureau" or grid_id is None:
        return dep.id
    for squad in town.departments:
        if squad.kind == "squad" and squad.parent == dep.id and grid_id in squad.grids:
            return squad.id
    return dep.id


def route(town: Town, kind: str, grid_id: str | None, village_id: str | None, created: datetime) -> Routing:
    try:
        rule = town.route(kind)
    except StopIteration:
        raise UnknownKind(f"no route for kind {kind!r}") from None
    worker = town.grid(grid_id).worker.id if grid_id and rule.notify_grid_worker else None
    return Routing(
        kind=kind,
        department_id=department_for(town, rule.department, grid_id),
        priority=rule.priority,
        work_order=rule.work_order,
        grid_id=grid_id,
        village_id=village_id,
        assignee_id=worker,
        deadlines=deadlines_for(town, kind, rule.priority, created),
    )


def route_camera(town: Town, camera: Camera, kind: str, created: datetime) -> Routing:
    return route(town, kind, camera.grid, camera.village, created)


def grid_of_village(town: Town, village_id: str) -> Grid | None:
    return next((g for g in town.grids if village_id in g.villages), None)


def distance_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance (haversine)."""
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * 6371.0 * math.asin(math.sqrt(min(1.0, a)))


def locate(
    town: Town, lat: float | None, lon: float | None, address: str | None
) -> tuple[str | None, str | None]:
    """(grid, village) of a report: the nearest village centre or camera to lat/long, else a village
    or road named in the address; (None, None) when nothing fits (the desk then assigns by hand)."""
    if lat is not None and lon is not None:
        best_v = min(town.villages, key=lambda v: distance_km(lat, lon, v.lat, v.lon))
        best_c = min(town.cameras, key=lambda c: distance_km(lat, lon, c.lat, c.lon))
        if distance_km(lat, lon, best_c.lat, best_c.lon) < distance_km(lat, lon, best_v.lat, best_v.lon):
            return best_c.grid, best_c.village
        grid = grid_of_village(town, best_v.id)
        return (grid.id if grid else None), best_v.id
    if address:
        text = address.casefold()
        names = sorted(((v.name, v.id) for v in town.villages if v.name), key=lambda p: -len(p[0]))
        names += [(v.name_en, v.id) for v in town.villages if v.name_en and not v.sample]
        names += [(v.name.removesuffix("村"), v.id) for v in town.villages if len(v.name) > 2]
        for name, vid in names:
            if name.casefold() in text:
                grid = grid_of_village(town, vid)
                return (grid.id if grid else None), vid
        for cam in town.cameras:
            if cam.road and cam.road.casefold() in text:
                return cam.grid, cam.village
    return None, None


def neighbours(town: Town, a: str, b: str, max_km: float = 2.0) -> bool:
    """Two cameras watch the same road within ``max_km`` of each other."""
    return _near(town.camera(a), town.camera(b), max_km)


def _near(ca: Camera, cb: Camera, max_km: float) -> bool:
    if not ca.road or ca.road != cb.road:
        return False
    return distance_km(ca.lat, ca.lon, cb.lat, cb.lon) <= max_km


class Neighbourhoods:
    """:func:`neighbours` as sets, one per camera, each road worked out on first use: grouping asks
    "does any camera of this incident neighbour mine?" for every open incident on a road.
    ``warm()`` works out every road at once (the hub does at start-up, so a burst's first alerts on
    a road do not pay for it)."""

    def __init__(self, town: Town, max_km: float = 2.0) -> None:
        self._max_km = max_km
        self._cams = town.cameras_by_id()
        self._roads: dict[str, list[Camera]] = {}
        for cam in town.cameras:
            if cam.road:
                self._roads.setdefault(cam.road, []).append(cam)
        self._near: dict[str, frozenset[str]] = {}

    def warm(self) -> Neighbourhoods:
        for on_road in self._roads.values():
            self._work_out(on_road)
        return self

    def of(self, camera_id: str) -> frozenset[str]:
        """The cameras that neighbour ``camera_id``, itself included (none without a road)."""
        near = self._near.get(camera_id)
        if near is None:
            road = self._cams[camera_id].road
            if road:
                self._work_out(self._roads[road])
            near = self._near.setdefault(camera_id, frozenset())
        return near

    def _work_out(self, on_road: list[Camera]) -> None:
        for a in on_road:
            self._near[a.id] = frozenset(b.id for b in on_road if _near(a, b, self._max_km))
