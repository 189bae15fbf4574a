"""One clip from its spec: build the world, run it frame by frame, and say what truly happened.

The spec is plain data (see ``catalog``); everything random is drawn from generators seeded by the
clip's seed, so the same spec renders the same frames and labels every time.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from models.evalset.debris import Deposit, FallenTree, Flood, Label, RealFlood
from models.evalset.faults import Camera, Fault
from models.evalset.geometry import MARGIN, OUT_H, OUT_W, bbox_from_mask
from models.evalset.scene import VTEST_H, VTEST_ROAD, VTEST_W, Scene, real_scene, synthetic_scene
from models.evalset.splits import STOPPED_VEHICLE_S, assets
from models.evalset.textures import Textures
from models.evalset.traffic import (
    Light,
    Mover,
    Reservation,
    draw_movers,
    mover_box,
    schedule,
    stalled_vehicle,
)
from models.evalset.weather import Lighting, LightingSpec, rain_streaks


@dataclass
class ClipSpec:
    """What one clip shows. ``events`` are dicts with a ``kind`` and its parameters (see ``build``)."""

    name: str
    duration: float
    scene: str  # across | along | wide | real | real_raw
    seed: int
    split: str = "legacy"  # which asset families it may use (models/evalset/splits.py)
    fps: float = 10.0
    period: str = "day"
    sunset: bool = False
    clouds: float = 0.0
    cloud_speed: float = 15.0
    cloud_soft: float = 0.25
    rain: float = 0.0
    shake: float = 0.0
    traffic: float = 3.0  # vehicles per minute
    people: float = 0.6  # pedestrians per minute
    stops: list[tuple[float, float]] = field(default_factory=list)
    events: list[dict] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    pingpong: bool = True
    crf: int = 26
    tags: list[str] = field(default_factory=list)


#: Least time a vehicle stands still to be listed among a clip's stops (label context, not an event).
STOP_MIN_S = 2.0


def _rng(spec: ClipSpec, purpose: str) -> np.random.Generator:
    return np.random.default_rng([spec.seed, zlib.crc32(spec.name.encode()), zlib.crc32(purpose.encode())])


class ClipRenderer:
    """Holds one clip's world; ``frames()`` yields (slot, RGB uint8) and ``labels`` holds the truth."""

    def __init__(self, spec: ClipSpec, tex: Textures, footage: Path) -> None:
        self.spec = spec
        self.assets = assets(spec.split)
        if tex.source != self.assets.textures:
            raise ValueError(f"clip {spec.name} of split {spec.split} needs textures {self.assets.textures}, "
                             f"got {tex.source}")
        if spec.scene.startswith("real") and not self.assets.real_footage:
            raise ValueError(f"clip {spec.name}: split {spec.split} may not use the real footage")
        self.n = round(spec.duration * spec.fps)
        if spec.scene == "real_raw":
            self.scene = None
            self.footage = footage
            self.labels: list[Label] = []
            self.rois = [_raw_roi()]
            self.size = (VTEST_W, VTEST_H)
            return
        self.size = (OUT_W, OUT_H)
        if spec.scene == "real":
            self.scene: Scene | None = real_scene(footage, spec.pingpong)
        else:
            self.scene = synthetic_scene(_rng(spec, "scene"), tex, spec.scene, self.assets)
        scene = self.scene
        self.rois = scene.rois
        self.layers: list = []
        self.movers: list[Mover] = []
        self.labels = []
        reservations: list[Reservation] = []
        ev_rng = _rng(spec, "events")
        for ev in spec.events:
            self._build_event(ev, ev_rng, tex, reservations)
        if scene.layout is not None:
            self.movers += schedule(
                _rng(spec, "traffic"),
                scene.layout,
                spec.duration,
                spec.fps,
                spec.traffic,
                spec.people,
                list(spec.stops),
                reservations,
                self.assets,
            )
        if scene.real is not None:
            self.albedo_rain = None
        elif spec.rain > 0:
            wet = np.where(scene.road[..., None], 0.8, 0.92).astype(np.float32)
            scene.albedo = scene.albedo * wet
        lamp_ppm = scene.layout.scale(20.0) if scene.layout is not None else 20.0
        self.lighting = Lighting(
            LightingSpec(
                spec.period, spec.sunset, spec.clouds, spec.cloud_speed, spec.cloud_soft, rain=spec.rain
            ),
            _rng(spec, "light"),
            spec.duration,
            scene.sky,
            scene.lamps,
            lamp_ppm,
        )
        noise = {"day": 0.007, "dusk": 0.012, "night": 0.022}[spec.period] if scene.real is None else 0.0
        self.camera = Camera(_rng(spec, "camera"), spec.faults, spec.shake, noise, spec.seed)
        for f in spec.faults:
            bbox = None
            if f.kind == "camera_occluded" and self.camera.occluder is not None:
                bbox = bbox_from_mask(self.camera.occluder[..., 3], MARGIN, MARGIN)
            self.labels.append(
                Label(f.kind, round(f.start, 2), None if f.end is None else round(f.end, 2), bbox)
            )

    def _build_event(
        self, ev: dict, rng: np.random.Generator, tex: Textures, reservations: list[Reservation]
    ) -> None:
        scene = self.scene
        assert scene is not None
        kind = ev["kind"]
        layout = scene.layout
        t = float(ev["t"])
        end = ev.get("end")
        w = layout.width_m if layout is not None else 6.0
        a_c = self._a_centre(ev, rng)
        if kind == "landslide":
            cover = float(ev["cover"])
            dep = Deposit(
                rng,
                tex,
                scene,
                a_c=a_c,
                length=float(ev["length"]),
                b_from=-float(ev.get("slope_m", 3.0)),
                b_to=cover * w,
                t_begin=t,
                motion_s=float(ev["motion_s"]),
                mode="slide",
                material=str(ev.get("material", "gravel")),
                rgb=tuple(ev["rgb"]),
                boulders=int(ev.get("boulders", 6)),
                end=end,
            )
            self.layers.append(dep)
            self.labels.append(dep.label("landslide"))
            reservations.append(
                Reservation(
                    -1,
                    cover * w + 1.2,
                    a_c - ev["length"],
                    a_c + ev["length"],
                    t - 2,
                    end if end is not None else 1e9,
                )
            )
        elif kind == "debris":
            cover = float(ev["cover"])
            if layout is None:
                a_c, b_c = self._real_spot(rng, float(ev["length"]))
                b0, b1 = b_c - cover * 2.5, b_c + cover * 2.5
            else:
                b0 = float(rng.uniform(0, (1 - cover) * w))
                b1 = b0 + cover * w
            dep = Deposit(
                rng,
                tex,
                scene,
                a_c=a_c,
                length=float(ev["length"]),
                b_from=b0,
                b_to=b1,
                t_begin=t,
                motion_s=float(ev.get("motion_s", 2.0)),
                mode="grow",
                material=str(ev.get("material", "brick")),
                rgb=tuple(ev["rgb"]),
                boulders=int(ev.get("boulders", 4)),
                end=end,
            )
            self.layers.append(dep)
            self.labels.append(dep.label("road_blockage"))
            reservations.append(
                Reservation(
                    b0 - 1.2,
                    b1 + 1.2,
                    a_c - ev["length"],
                    a_c + ev["length"],
                    t - 2,
                    end if end is not None else 1e9,
                )
            )
        elif kind == "tree":
            cover = float(ev["cover"])
            # seen across the road, a tree on the near verge would hide the road before it fell
            far = bool(ev.get("far_side", False)) and layout is not None and layout.kind == "along"
            tree = FallenTree(rng, tex, scene, a_c=a_c, cover=cover, t_begin=t, from_far_side=far, end=end)
            self.layers.append(tree)
            self.labels.append(tree.label())
            b0, b1 = ((1 - cover) * w, w) if far else (0.0, cover * w)
            reservations.append(
                Reservation(b0 - 1.2, b1 + 1.2, a_c - 6, a_c + 6, t - 3, end if end is not None else 1e9)
            )
        elif kind == "stalled":
            assert layout is not None
            vehicle = ev.get("vehicle")  # None: the legacy wide van/lorry, a blockage once at rest
            mover, stopped, again = stalled_vehicle(
                rng, layout, self.spec.duration, self.spec.fps, t, end, self.assets, vehicle
            )
            self.movers.append(mover)
            box = mover_box(layout, mover, round(stopped * self.spec.fps) + 1)
            bbox = None
            if box is not None:
                x0, y0, x1, y1 = box
                bbox = bbox_from_mask(np.ones((y1 - y0, x1 - x0), np.float32), x0, y0)
            # a stopped vehicle (issue 20) becomes a blockage once it has stood STOPPED_VEHICLE_S
            after = STOPPED_VEHICLE_S if vehicle is not None else 0.0
            self.labels.append(
                Label(
                    "road_blockage",
                    round(stopped + after, 2),
                    None if again is None else round(again, 2),
                    bbox,
                )
            )
            a_stop = float(mover.a[int(stopped * self.spec.fps) + 1])
            lane = float(mover.b[0])
            reservations.append(
                Reservation(
                    lane - 1.5,
                    lane + 1.5,
                    a_stop - 12,
                    a_stop + 12,
                    stopped - 15,
                    again + 5 if again is not None else 1e9,
                )
            )
        elif kind == "flood":
            if layout is None:
                a_px, b_px = self._real_spot(rng, 0.0)
                half = int(ev.get("half_px", 90))
                box = (
                    int(a_px * 20 - half * 1.6),
                    int(b_px * 20 - half * 0.7),
                    int(a_px * 20 + half * 1.6),
                    int(b_px * 20 + half * 0.7),
                )
                flood = RealFlood(
                    rng, scene, box=box, t_begin=t, rise_s=float(ev["rise_s"]), look=str(ev["look"]), end=end
                )
            else:
                flood = Flood(
                    rng,
                    scene,
                    a_c=a_c,
                    length=float(ev["length"]),
                    t_begin=t,
                    rise_s=float(ev["rise_s"]),
                    look=str(ev["look"]),
                    end=end,
                    colour=tuple(ev["colour"]) if "colour" in ev else None,
                    opacity=float(ev.get("opacity", 0.9)),
                )
            self.layers.append(flood)
            self.labels.append(flood.label())
        else:
            raise ValueError(f"unknown event kind {kind!r} in clip {self.spec.name}")

    def _a_centre(self, ev: dict, rng: np.random.Generator) -> float:
        layout = self.scene.layout if self.scene is not None else None
        if layout is None:
            return 0.0
        pos = float(ev.get("pos", rng.uniform(0.3, 0.7)))
        if layout.kind == "along":
            return 10.0 + pos * 16.0
        a0, a1 = layout.a_range
        return a0 + pos * (a1 - a0)

    def _real_spot(self, rng: np.random.Generator, length_m: float) -> tuple[float, float]:
        """A point well inside the real footage's road, in its 20 px-per-metre ground units."""
        scene = self.scene
        assert scene is not None
        inner = cv2.distanceTransform(scene.road.astype(np.uint8), cv2.DIST_L2, 5)
        view = np.zeros_like(inner)
        view[MARGIN + 40 : MARGIN + OUT_H - 40, MARGIN + 60 : MARGIN + OUT_W - 60] = 1
        ys, xs = np.nonzero((inner > 45) & (view > 0))
        k = int(rng.integers(0, len(xs)))
        return float(scene.ga[ys[k], xs[k]]), float(scene.gb[ys[k], xs[k]])

    def frames(self) -> Iterator[tuple[int, np.ndarray]]:
        if self.scene is None:
            yield from _raw_frames(self.footage, self.n)
            return
        spec, scene = self.spec, self.scene
        streak_rng = _rng(spec, "rain")
        for i in range(self.n):
            t = i / spec.fps
            img = scene.background(t, spec.fps)
            for layer in self.layers:
                layer.draw(img, t)
            lights: list[Light] = []
            if scene.layout is not None:
                draw_movers(img, scene.layout, self.movers, i, lights, self.lighting.lights_on(t))
            img = self.lighting.apply(img, t, lights) if scene.real is None else img
            if spec.rain > 0:
                rain_streaks(
                    img, streak_rng, spec.rain, 0.35 * (0.3 + 0.7 * min(1.0, self.lighting._state(t)[0]))
                )
            out = self.camera.frame(img, t, i)
            if out is not None:
                yield i, out

    def label_json(self) -> dict:
        spec = self.spec
        tags = [spec.period, *list(spec.tags)]
        events = [
            {"kind": lb.kind, "start_s": lb.start_s, "end_s": lb.end_s, "bbox": lb.bbox}
            for lb in sorted(self.labels, key=lambda x: x.start_s)
        ]
        out = {
            "video": f"{spec.name}.mp4",
            "duration_s": round(self.n / spec.fps, 3),
            "fps": spec.fps,
            "rois": self.rois,
            "tags": tags,
            "events": events,
        }
        if spec.split != "legacy":  # (the legacy set's labels stay as they were)
            out["stops"] = self.vehicle_stops()
        return out

    def vehicle_stops(self) -> list[dict]:
        """Every span a vehicle stood still for at least STOP_MIN_S, with its box: context for training a
        decision (a stopped car is a vehicle whether or not it stood long enough to be an event)."""
        layout = self.scene.layout if self.scene is not None else None
        if layout is None:
            return []
        fps = self.spec.fps
        out: list[dict] = []
        for mover in self.movers:
            if mover.person:
                continue
            a = mover.a
            valid = ~np.isnan(a[1:]) & ~np.isnan(a[:-1])
            still = valid & (np.abs(np.nan_to_num(np.diff(a))) <= 1e-6)
            edges = np.diff(np.concatenate([[0], still.astype(np.int8), [0]]))
            for i, j in zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True):
                if (j - i) / fps < STOP_MIN_S:
                    continue
                box = mover_box(layout, mover, int(i) + 1)
                bbox = None
                if box is not None:
                    x0, y0, x1, y1 = box
                    bbox = bbox_from_mask(np.ones((y1 - y0, x1 - x0), np.float32), x0, y0)
                end = None if j >= len(still) else round(float(j + 1) / fps, 2)
                out.append({"start_s": round(float(i + 1) / fps, 2), "end_s": end,
                            "bbox": None if bbox is None else [float(v) for v in bbox]})
        return sorted(out, key=lambda d: d["start_s"])


def _raw_roi() -> str:
    pts = " ".join(f"{x / VTEST_W:.3f},{y / VTEST_H:.3f}" for x, y in VTEST_ROAD)
    return "road=" + pts


def _raw_frames(path: Path, n: int) -> Iterator[tuple[int, np.ndarray]]:
    """The real footage exactly as recorded (only re-encoded), forward, at its own size."""
    cap = cv2.VideoCapture(str(path))
    i = 0
    while i < n:
        ok, bgr = cap.read()
        if not ok:
            break
        yield i, cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
        i += 1
    cap.release()
