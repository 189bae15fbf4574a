"""Where the road is: camera layouts mapping canvas pixels to ground coordinates and back.

Everything that stands on the road (debris, water, vehicles) is placed in ground metres so that sizes
shrink with distance the way a real fixed camera sees them; labels are then measured back on screen.
Ground coordinates: ``a`` runs along the road (metres), ``b`` across it from the slope-side edge
(``0 <= b <= width`` on the carriageway, ``b < 0`` towards the slope).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

OUT_W = 640
OUT_H = 360
MARGIN = 40  # the canvas is larger than the view so that shake and a moved camera show real scene
CANVAS_W = OUT_W + 2 * MARGIN
CANVAS_H = OUT_H + 2 * MARGIN

Point = tuple[float, float]


@dataclass(frozen=True)
class AcrossLayout:
    """The camera looks across the road from the far side; the slope rises behind the road."""

    y_top: float  # canvas y of the slope-side road edge at the canvas centre
    ppm: float  # pixels per metre
    width_m: float
    tilt: float  # road edge slope dy/dx
    ridge_y: float  # canvas y where the slope meets trees and sky
    kind: str = "across"

    def edge_y(self, x: np.ndarray | float) -> np.ndarray | float:
        return self.y_top + self.tilt * (np.asarray(x) - CANVAS_W / 2)

    def ground(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return x / self.ppm, (y - self.edge_y(x)) / self.ppm

    def to_screen(self, a: float, b: float) -> Point:
        x = a * self.ppm
        return x, float(self.edge_y(x)) + b * self.ppm

    def scale(self, a: float) -> float:
        return self.ppm

    @property
    def a_range(self) -> tuple[float, float]:
        return 0.0, CANVAS_W / self.ppm

    def road_polygon(self) -> list[Point]:
        a0, a1 = -5.0, self.a_range[1] + 5.0
        w = self.width_m
        return [self.to_screen(a0, 0), self.to_screen(a1, 0), self.to_screen(a1, w), self.to_screen(a0, w)]

    def slope_polygon(self) -> list[Point]:
        a0, a1 = -5.0, self.a_range[1] + 5.0
        return [
            (a0 * self.ppm, self.ridge_y),
            (a1 * self.ppm, self.ridge_y),
            self.to_screen(a1, 0),
            self.to_screen(a0, 0),
        ]


@dataclass(frozen=True)
class AlongLayout:
    """The camera looks down the road, which recedes to the horizon; the slope is on one side."""

    horizon: float  # canvas y of the horizon
    focal: float  # pixels
    cam_h: float  # camera height above the road, metres
    x_vp: float  # canvas x of the vanishing point straight ahead
    edge_lat: float  # lateral position of the slope-side edge at the near end, metres
    curve: float  # lateral drift of the road per metre squared of depth
    width_m: float
    slope_left: bool
    ridge_y: float  # canvas y of the hill ridge on the slope side
    d_near: float = 6.0
    d_far: float = 160.0
    kind: str = "along"

    def _edge(self, d: np.ndarray | float) -> np.ndarray | float:
        return self.edge_lat + self.curve * (np.asarray(d) - self.d_near) ** 2

    def ground(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        dy = np.maximum(y - self.horizon, self.focal * self.cam_h / 400.0)
        d = self.focal * self.cam_h / dy
        lat = (x - self.x_vp) * d / self.focal
        b = lat - self._edge(d) if self.slope_left else self._edge(d) - lat
        return d, b

    def to_screen(self, a: float, b: float) -> Point:
        d = max(a, 0.5)
        edge = float(self._edge(d))
        lat = edge + b if self.slope_left else edge - b
        return self.x_vp + self.focal * lat / d, self.horizon + self.focal * self.cam_h / d

    def scale(self, a: float) -> float:
        return self.focal / max(a, 0.5)

    @property
    def a_range(self) -> tuple[float, float]:
        return self.d_near, self.d_far

    def road_polygon(self) -> list[Point]:
        ds = np.geomspace(2.0, self.d_far, 24)
        left = [self.to_screen(float(d), 0.0) for d in ds]
        right = [self.to_screen(float(d), self.width_m) for d in ds[::-1]]
        return left + right

    def slope_polygon(self) -> list[Point]:
        ds = np.geomspace(2.0, self.d_far, 24)
        edge = [self.to_screen(float(d), -0.2) for d in ds]
        x_far = edge[-1][0]
        side_x = -200.0 if self.slope_left else CANVAS_W + 200.0
        top = [(x_far, self.horizon - 4), (side_x, self.ridge_y), (side_x, CANVAS_H + 400.0)]
        return edge + top


Layout = AcrossLayout | AlongLayout


def clip_polygon(poly: list[Point], x0: float, y0: float, x1: float, y1: float) -> list[Point]:
    """Sutherland-Hodgman clip of a polygon to an axis-aligned box."""

    def clip(points: list[Point], inside, cross) -> list[Point]:
        out: list[Point] = []
        for i, cur in enumerate(points):
            prev = points[i - 1]
            if inside(cur):
                if not inside(prev):
                    out.append(cross(prev, cur))
                out.append(cur)
            elif inside(prev):
                out.append(cross(prev, cur))
        return out

    def at_x(xc: float):
        return lambda p, q: (xc, p[1] + (q[1] - p[1]) * (xc - p[0]) / (q[0] - p[0]))

    def at_y(yc: float):
        return lambda p, q: (p[0] + (q[0] - p[0]) * (yc - p[1]) / (q[1] - p[1]), yc)

    pts = poly
    for inside, cross in (
        (lambda p: p[0] >= x0, at_x(x0)),
        (lambda p: p[0] <= x1, at_x(x1)),
        (lambda p: p[1] >= y0, at_y(y0)),
        (lambda p: p[1] <= y1, at_y(y1)),
    ):
        if not pts:
            break
        pts = clip(pts, inside, cross)
    return pts


def roi_string(
    name: str, canvas_poly: list[Point], *, margin: float = MARGIN, out_w: float = OUT_W, out_h: float = OUT_H
) -> str:
    """A canvas polygon as an ROI string in 0..1 coordinates of the (unmoved) output view."""
    pts = [((x - margin) / out_w, (y - margin) / out_h) for x, y in canvas_poly]
    pts = clip_polygon(pts, 0.0, 0.0, 1.0, 1.0)
    cleaned: list[Point] = []
    for x, y in pts:
        p = (round(min(max(x, 0.0), 1.0), 3), round(min(max(y, 0.0), 1.0), 3))
        if not cleaned or p != cleaned[-1]:
            cleaned.append(p)
    if len(cleaned) > 1 and cleaned[0] == cleaned[-1]:
        cleaned.pop()
    return name + "=" + " ".join(f"{x:g},{y:g}" for x, y in cleaned)


def bbox_from_mask(
    alpha: np.ndarray,
    x_off: int,
    y_off: int,
    *,
    thresh: float = 0.5,
    margin: float = MARGIN,
    out_w: float = OUT_W,
    out_h: float = OUT_H,
) -> list[float] | None:
    """Screen extent of a layer's alpha (a patch placed at canvas x_off, y_off) as a 0..1 output bbox."""
    ys, xs = np.nonzero(alpha > thresh)
    if len(xs) == 0:
        return None
    x0 = (xs.min() + x_off - margin) / out_w
    x1 = (xs.max() + 1 + x_off - margin) / out_w
    y0 = (ys.min() + y_off - margin) / out_h
    y1 = (ys.max() + 1 + y_off - margin) / out_h
    box = [round(min(max(v, 0.0), 1.0), 4) for v in (x0, y0, x1, y1)]
    if box[2] - box[0] < 1e-3 or box[3] - box[1] < 1e-3:
        return None
    return box
