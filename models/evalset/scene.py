"""The static world a camera looks at: a synthetic village road with a slope, or the real vtest footage.

A scene is painted once per clip (albedo under neutral daylight); lighting, weather, traffic and events
are applied per frame on top. Real footage keeps its own people and light and only gets events added.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from models.evalset.geometry import (
    CANVAS_H,
    CANVAS_W,
    MARGIN,
    AcrossLayout,
    AlongLayout,
    Layout,
    Point,
    roi_string,
)
from models.evalset.splits import LEGACY, Assets
from models.evalset.textures import Textures, sample, smooth_noise, smoothstep, tint

VTEST_W, VTEST_H = 768, 576
# vtest.avi's carriageway traced by hand in its own pixels (the grey road from the left edge, widening right)
VTEST_ROAD: list[Point] = [
    (0, 188),
    (300, 196),
    (480, 192),
    (620, 128),
    (768, 92),
    (768, 490),
    (560, 400),
    (330, 300),
    (0, 246),
]


@dataclass
class Scene:
    """What a fixed camera sees when nothing happens: albedo canvas plus the geometry to place things."""

    layout: Layout | None
    albedo: np.ndarray | None  # CANVAS_H x CANVAS_W x 3 float32 RGB, None for real footage
    ga: np.ndarray  # ground coordinate along the road for every canvas pixel
    gb: np.ndarray  # ground coordinate across the road
    road: np.ndarray  # bool mask of the carriageway
    sky: np.ndarray  # float 0..1 mask of sky
    lamps: list[Point]
    rois: list[str]
    real: RealFootage | None = None
    tags: list[str] = field(default_factory=list)

    def background(self, t: float, fps: float) -> np.ndarray:
        if self.real is not None:
            return self.real.frame(round(t * fps))
        assert self.albedo is not None
        return self.albedo.copy()


class RealFootage:
    """vtest.avi decoded once into canvas-sized float frames, played forward or back and forth."""

    def __init__(self, path: Path, pingpong: bool) -> None:
        cap = cv2.VideoCapture(str(path))
        frames: list[np.ndarray] = []
        scale = CANVAS_W / VTEST_W
        h = round(VTEST_H * scale)
        y0 = (h - CANVAS_H) // 2
        while True:
            ok, bgr = cap.read()
            if not ok:
                break
            small = cv2.resize(bgr, (CANVAS_W, h), interpolation=cv2.INTER_AREA)[y0 : y0 + CANVAS_H]
            frames.append(cv2.cvtColor(small, cv2.COLOR_BGR2RGB))
        cap.release()
        if not frames:
            raise FileNotFoundError(f"could not read real footage from {path}")
        self.frames = frames
        self.pingpong = pingpong
        self.scale = scale
        self.y0 = y0

    def frame(self, i: int) -> np.ndarray:
        n = len(self.frames)
        if self.pingpong:
            period = 2 * n - 2
            k = i % period
            idx = k if k < n else period - k
        else:
            idx = min(i, n - 1)
        return self.frames[idx].astype(np.float32) * (1.0 / 255.0)

    def to_canvas(self, p: Point) -> Point:
        return p[0] * self.scale, p[1] * self.scale - self.y0


def real_scene(path: Path, pingpong: bool) -> Scene:
    footage = RealFootage(path, pingpong)
    road_poly = [footage.to_canvas(p) for p in VTEST_ROAD]
    road = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    cv2.fillPoly(road, [np.round(np.array(road_poly)).astype(np.int32)], 1)
    # flat ground approximation: about 20 px per metre on the near road
    yy, xx = np.mgrid[0:CANVAS_H, 0:CANVAS_W].astype(np.float32)
    ppm = 20.0
    return Scene(
        layout=None,
        albedo=None,
        ga=xx / ppm,
        gb=yy / ppm,
        road=road.astype(bool),
        sky=np.zeros((CANVAS_H, CANVAS_W), np.float32),
        lamps=[footage.to_canvas((425, 30))],
        rois=[roi_string("road", road_poly)],
        real=footage,
        tags=["real"],
    )


def random_layout(rng: np.random.Generator, kind: str, assets: Assets = LEGACY) -> Layout:
    """A camera geometry drawn from the split's ranges; ``wide``: a broad paved area below a grass bank."""
    if kind == "wide":
        width = float(rng.uniform(*assets.wide_width_m))
        y_top = float(rng.uniform(0.34, 0.4) * CANVAS_H)
        ppm = (CANVAS_H - MARGIN - y_top - 20) / width * float(rng.uniform(0.85, 1.0))
        return AcrossLayout(
            y_top=y_top,
            ppm=ppm,
            width_m=width,
            tilt=float(rng.uniform(-0.04, 0.04)),
            ridge_y=float(rng.uniform(0.1, 0.16) * CANVAS_H),
        )
    if kind == "across":
        ppm = float(rng.uniform(*assets.across_ppm))
        width = float(rng.uniform(*assets.across_width_m))
        y_top = float(rng.uniform(*assets.across_road_top) * CANVAS_H)
        y_top = min(y_top, CANVAS_H - MARGIN - width * ppm - 30)
        return AcrossLayout(
            y_top=y_top,
            ppm=ppm,
            width_m=width,
            tilt=float(rng.uniform(-0.06, 0.06)),
            ridge_y=float(rng.uniform(0.12, 0.22) * CANVAS_H),
        )
    horizon = float(rng.uniform(*assets.along_horizon) * CANVAS_H)
    cam_h = float(rng.uniform(*assets.along_cam_h))
    d_near = 6.0
    focal = (CANVAS_H - horizon) * d_near / cam_h
    width = float(rng.uniform(*assets.along_width_m))
    slope_left = bool(rng.random() < 0.5)
    # the camera stands a little to the side of the road
    offset = float(rng.uniform(-1.5, 1.5))
    edge_lat = offset - width / 2 if slope_left else offset + width / 2
    return AlongLayout(
        horizon=horizon,
        focal=focal,
        cam_h=cam_h,
        x_vp=float(rng.uniform(0.4, 0.6) * CANVAS_W),
        edge_lat=edge_lat,
        curve=float(rng.uniform(-0.0004, 0.0004)),
        width_m=width,
        slope_left=slope_left,
        ridge_y=float(rng.uniform(0.05, 0.18) * CANVAS_H),
        d_near=d_near,
    )


def synthetic_scene(rng: np.random.Generator, tex: Textures, kind: str, assets: Assets = LEGACY) -> Scene:
    """Paint a village road: sky, trees, hillside on the slope side, grass verge, textured carriageway.

    ``kind`` "wide" paints a broad paved area (a square, a yard) below a bank of plain grass.
    """
    layout = random_layout(rng, kind, assets)
    yy, xx = np.mgrid[0:CANVAS_H, 0:CANVAS_W].astype(np.float32)
    ga, gb = layout.ground(xx, yy)
    ga = ga.astype(np.float32)
    gb = gb.astype(np.float32)
    img = np.zeros((CANVAS_H, CANVAS_W, 3), np.float32)

    # sky and a far tree line
    horizon = layout.ridge_y if isinstance(layout, AcrossLayout) else layout.horizon
    top_c = np.array(rng.uniform([0.45, 0.6, 0.8], [0.6, 0.72, 0.92]), np.float32)
    low_c = np.array(rng.uniform([0.75, 0.8, 0.85], [0.88, 0.9, 0.95]), np.float32)
    gy = np.clip(yy / max(horizon, 1.0), 0, 1)[..., None]
    img[:] = top_c * (1 - gy) + low_c * gy
    noise = smooth_noise(rng, 64, 1.5)
    tree_n = sample(noise, xx * 0.35, yy * 0.35 + 7)
    tree_top = horizon - rng.uniform(25, 60) + 22 * (tree_n - 0.5) * 2
    trees = (yy > tree_top).astype(np.float32)
    leaf = tint(
        sample(tex.grass, xx * 1.3, yy * 1.3), tuple(rng.uniform([0.12, 0.22, 0.08], [0.2, 0.32, 0.14])), 0.9
    )
    img = img * (1 - trees[..., None]) + leaf * trees[..., None]
    sky = 1.0 - trees

    # ground everywhere below the tree line: verge grass
    ground = (yy > horizon).astype(np.float32)
    grass = tint(
        sample(tex.grass, ga * 40, gb * 40 + 100),
        tuple(rng.uniform([0.25, 0.36, 0.12], [0.36, 0.46, 0.2])),
        0.8,
    )
    if isinstance(layout, AcrossLayout):
        grass = tint(
            sample(tex.grass, xx * 0.9, yy * 1.6),
            tuple(rng.uniform([0.25, 0.36, 0.12], [0.36, 0.46, 0.2])),
            0.8,
        )
    img = img * (1 - ground[..., None]) + grass * ground[..., None]

    # the slope: grass with patches of bare soil and rock
    slope_poly = layout.slope_polygon()
    slope_m = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    cv2.fillPoly(slope_m, [np.round(np.array(slope_poly)).astype(np.int32)], 1)
    slope_m = cv2.GaussianBlur(slope_m.astype(np.float32), (0, 0), 1.2)
    soil = tint(
        sample(tex.gravel, xx * 0.8, yy * 1.2), tuple(rng.uniform([0.4, 0.32, 0.22], [0.52, 0.42, 0.3])), 0.9
    )
    slope_grass = tint(
        sample(tex.grass, xx * 1.1, yy * 1.1 + 50),
        tuple(rng.uniform([0.22, 0.3, 0.1], [0.32, 0.4, 0.16])),
        0.9,
    )
    soil_mix = smoothstep(0.45, 0.65, sample(noise, xx * 0.12 + 13, yy * 0.2))[..., None]
    if kind == "wide":  # a grass bank: no bare soil showing
        soil_mix = soil_mix * 0.0
    slope_img = slope_grass * (1 - soil_mix) + soil * soil_mix
    img = img * (1 - slope_m[..., None]) + slope_img * slope_m[..., None]
    sky *= 1 - slope_m

    # the carriageway
    road = ((gb >= 0) & (gb <= layout.width_m) & (yy > horizon)).astype(np.float32)
    road_soft = cv2.GaussianBlur(road, (0, 0), 0.8)
    surface = str(rng.choice(list(assets.road_surfaces)))
    base = {
        "asphalt": (0.36, 0.36, 0.37),
        "concrete": (0.6, 0.58, 0.55),
        "worn": (0.45, 0.43, 0.41),
        "paved": (0.52, 0.5, 0.47),
    }[surface]
    base_c = tuple(float(c) * rng.uniform(0.9, 1.1) for c in base)
    if surface == "paved":  # laid paving stones: the brick texture, small, on the ground plane
        rtex = sample(cv2.GaussianBlur(tex.brick, (0, 0), 0.8), ga * 60, gb * 60)
    else:
        rtex = sample(cv2.GaussianBlur(tex.gravel, (0, 0), 1.0), ga * 28, gb * 28)
    if isinstance(layout, AlongLayout):
        # far away the texture would alias; fade it to its mean
        far = smoothstep(25, 70, ga)
        rtex = rtex * (1 - far) + 0.5 * far
    road_img = tint(rtex, base_c, 0.45 if surface not in ("concrete", "paved") else 0.3)
    patches = sample(noise, ga * 1.5 + 3, gb * 1.5 + 9)
    road_img *= (0.9 + 0.2 * patches)[..., None]
    if surface not in ("worn", "paved") and kind != "wide":
        w = layout.width_m
        centre = (np.abs(gb - w / 2) < 0.07) & (np.mod(ga, 9.0) < 4.0)
        edges = (np.abs(gb - 0.25) < 0.07) | (np.abs(gb - (w - 0.25)) < 0.07)
        marks = cv2.GaussianBlur((centre | edges).astype(np.float32) * road, (0, 0), 0.6)
        paint = np.array([0.82, 0.82, 0.78] if rng.random() < 0.8 else [0.85, 0.72, 0.3], np.float32)
        road_img = road_img * (1 - marks[..., None]) + paint * marks[..., None]
    img = img * (1 - road_soft[..., None]) + road_img * road_soft[..., None]
    sky *= 1 - road_soft

    # lamp posts on the far side of the road from the slope
    lamps: list[Point] = []
    a0, a1 = layout.a_range
    n_lamps = int(rng.integers(1, 4))
    for i in range(n_lamps):
        if isinstance(layout, AcrossLayout):
            a = a0 + (i + 0.5 + rng.uniform(-0.2, 0.2)) * (a1 - a0) / n_lamps
            foot = layout.to_screen(a, layout.width_m + 0.8)
        else:
            a = float(rng.uniform(10, 45))
            foot = layout.to_screen(a, layout.width_m + 0.8)
        pole_h = 7.0 * layout.scale(a)
        head = (foot[0], foot[1] - pole_h)
        thick = max(1, round(0.18 * layout.scale(a)))
        cv2.line(
            img,
            (int(foot[0]), int(foot[1])),
            (int(head[0]), int(head[1])),
            (0.25, 0.25, 0.27),
            thick,
            cv2.LINE_AA,
        )
        cv2.circle(img, (int(head[0]), int(head[1])), thick + 1, (0.7, 0.7, 0.65), -1, cv2.LINE_AA)
        lamps.append(head)

    rois = [roi_string("road", layout.road_polygon()), roi_string("slope", slope_poly)]
    return Scene(
        layout=layout,
        albedo=np.clip(img, 0, 1),
        ga=ga,
        gb=gb,
        road=road > 0.5,
        sky=np.clip(sky, 0, 1).astype(np.float32),
        lamps=lamps,
        rois=rois,
        tags=[kind],
    )
