"""The clips of the dev and test splits: the legacy classes plus the ones the outside evaluation found weak.

Each split draws every colour, shape, geometry and weather value from its own asset table
(``splits``), with its own master seeds, so dev and test share no asset family. Both splits hold the
same classes of clip:

* negatives: traffic, stops shorter than ``STOPPED_VEHICLE_S`` (5-110 s), soft cloud shadows drifting
  over wide paving, sunset, night and dusk with headlight sweeps, rain, shake (test: also the real
  footage raw, played back and forth, and shaken);
* landslides from a slope onto a road, and from a grass bank onto a wide paved area (day, dusk);
* road blockages: fallen trees, debris piles, and vehicles (car ~15 % of the width, van, lorry)
  stopped on the carriageway longer than ``STOPPED_VEHICLE_S`` (labelled from that moment on);
* flooding: muddy, sky-reflecting, and muddy partly transparent water spreading over paving;
* every camera fault, including dark or light textured covers near the lens over 50-70 % of the view.
"""

from __future__ import annotations

from models.evalset.catalog import _fault, _Maker
from models.evalset.faults import Fault
from models.evalset.render import ClipSpec
from models.evalset.splits import STOPPED_VEHICLE_S, Assets, assets

FAULT_KINDS = (
    "camera_frozen",
    "camera_blurred",
    "camera_occluded",
    "camera_moved",
    "camera_too_dark",
    "camera_overexposed",
    "camera_offline",
)


class _SplitMaker(_Maker):
    """A clip maker whose every draw comes from one split's assets."""

    def __init__(self, a: Assets, seed: int) -> None:
        super().__init__(seed)
        self.a = a

    def r(self, rng_range: tuple[float, float]) -> float:
        return self.u(*rng_range)

    def weather(self, period: str) -> dict:
        w: dict = {"period": period}
        x = self.rng.random()
        if x < 0.2:
            w["rain"] = self.r(self.a.rain)
        elif x < 0.4 and period == "day":
            w.update(self.clouds())
        if self.rng.random() < 0.2:
            w["shake"] = self.r(self.a.shake)
        return w

    def clouds(self) -> dict:
        return {
            "clouds": self.r(self.a.clouds),
            "cloud_speed": self.r(self.a.cloud_speed),
            "cloud_soft": self.r(self.a.cloud_softness),
        }

    def clip(self, stem: str, duration: float, scene: str, **kw) -> ClipSpec:
        tags = list(kw.pop("tags", []))
        if scene == "wide":
            tags.append("wide")
        spec = self.spec(stem, duration, scene, split=self.a.name, tags=tags, **kw)
        return spec


def _negatives(m: _SplitMaker, quick: bool) -> list[ClipSpec]:
    a = m.a
    plans: list[tuple[str, str, str, dict]] = [
        ("neg_traffic", "day", "across", {}),
        ("neg_traffic", "dusk", "along", {"traffic": 8.0}),
        ("neg_traffic", "day", "wide", {"traffic": 9.0, "people": 2.0}),
        ("neg_stops", "day", "across", {}),
        ("neg_stops", "night", "along", {}),
        ("neg_stops", "dusk", "wide", {}),
        ("neg_stops", "day", "along", {"rain": m.r(a.rain)}),
        ("neg_clouds", "day", "wide", m.clouds()),
        ("neg_clouds", "day", "wide", m.clouds()),
        ("neg_clouds", "day", "across", m.clouds()),
        ("neg_clouds", "day", "along", {**m.clouds(), "shake": m.r(a.shake)}),
        ("neg_sunset", "day", "across", {"sunset": True}),
        ("neg_sunset", "day", "wide", {"sunset": True, **m.clouds()}),
        ("neg_headlights", "night", "wide", {"traffic": 10.0}),
        ("neg_headlights", "night", "along", {"traffic": 9.0}),
        ("neg_headlights", "dusk", "wide", {"traffic": 8.0}),
        ("neg_night", "night", "across", {}),
        ("neg_rain", "day", "across", {"rain": m.r(a.rain)}),
        ("neg_rain", "night", "wide", {"rain": m.r(a.rain)}),
        ("neg_rain", "dusk", "along", {"rain": m.r(a.rain)}),
        ("neg_shake", "day", "along", {"shake": m.r(a.shake)}),
        ("neg_shake", "night", "across", {"shake": m.r(a.shake)}),
        ("neg_dusk", "dusk", "across", {}),
        ("neg_dusk", "dusk", "wide", m.clouds()),
    ]
    if quick:
        plans = [plans[7], plans[13]]
    out = []
    for stem, period, scene, extra in plans:
        dur = m.u(150, 240) if stem == "neg_stops" else (m.u(120, 180) if not quick else 75.0)
        stops = []
        if stem == "neg_stops":  # stops shorter than the stopped-vehicle limit: not a blockage
            t = m.u(25, 40)
            while t < dur - 40:
                wait = m.u(5, 40) if m.rng.random() < 0.5 else m.u(40, STOPPED_VEHICLE_S - 10)
                wait = min(wait, dur - t - 15)
                stops.append((t, wait))
                t += wait + m.u(20, 40)
        out.append(m.clip(stem, dur, scene, stops=stops, **{"period": period, **extra}))
    if a.real_footage:
        out.append(m.clip("neg_real_raw", 79.5, "real_raw", pingpong=False))
        if not quick:
            out.append(m.clip("neg_real", 158.0, "real"))
            out.append(m.clip("neg_real_shake", 120.0, "real", shake=m.r(a.shake)))
    return out


def _landslide(m: _SplitMaker, period: str, scene: str, quick: bool) -> ClipSpec:
    a = m.a
    t = m.u(30, 50) if not quick else 30.0
    motion = m.u(2, 6)
    stays = m.u(35, 80) if not quick else 25.0
    end = round(t + motion + stays, 2) if (not quick and m.rng.random() < 0.25) else None
    dur = t + motion + stays + (m.u(25, 40) if end else 0)
    wide = scene == "wide"
    tint = m.pick(sorted(a.rock_tints))
    material = "grass" if wide else m.pick(["gravel", "gravel", "grass"])
    ev = {
        "kind": "landslide",
        "t": t,
        "motion_s": motion,
        "cover": m.u(0.3, 0.6) if wide else m.u(0.3, 1.0),
        "length": m.u(5, 12),
        "slope_m": m.u(2, 5),
        "rgb": a.rock_tints[tint],
        "material": material,
        "boulders": int(m.rng.integers(2, 14)),
        "pos": m.u(0.2, 0.8),
        "end": end,
    }
    tags = [tint]
    if material == "grass":  # the bank's turf torn off with its soil
        ev["rgb"] = tuple(round(c * 0.75 + s * 0.25, 3) for c, s in zip(a.rock_tints[tint], (0.3, 0.36, 0.16),
                                                                        strict=True))
        tags.append("turf")
    return m.clip(f"landslide_{period}", min(dur, 180), scene, events=[ev], tags=tags, **m.weather(period))


def _landslides(m: _SplitMaker, quick: bool) -> list[ClipSpec]:
    plans = [
        ("day", "across"), ("day", "along"), ("day", "across"), ("day", "along"), ("dusk", "across"),
        ("dusk", "along"), ("night", "across"), ("night", "along"), ("night", "across"),
        ("day", "wide"), ("day", "wide"), ("dusk", "wide"), ("dusk", "wide"), ("day", "wide"),
    ]
    if quick:
        plans = [("day", "wide"), ("dusk", "across")]
    return [_landslide(m, period, scene, quick) for period, scene in plans]


def _blockages(m: _SplitMaker, quick: bool) -> list[ClipSpec]:
    a = m.a
    plans = [
        ("tree", "day"), ("debris", "day"), ("tree", "dusk"), ("debris", "night"), ("tree", "night"),
        ("debris", "day"), ("tree", "day"), ("debris", "dusk"), ("debris", "day"), ("tree", "day"),
    ]
    if quick:
        plans = [("debris", "day")]
    out = []
    for what, period in plans:
        scene = m.pick(["across", "along"])
        t = m.u(30, 50) if not quick else 30.0
        stays = m.u(65, 110) if not quick else 45.0
        end = round(t + 2 + stays, 2) if (not quick and m.rng.random() < 0.3) else None
        dur = t + 2 + stays + (m.u(25, 35) if end else 0)
        ev: dict = {"kind": what, "t": t, "end": end, "pos": m.u(0.25, 0.75), "cover": m.u(0.35, 1.0)}
        if what == "debris":
            ev.update(
                length=m.u(3, 8),
                rgb=m.pick(list(a.debris_tints)),
                material=m.pick(list(a.debris_materials)),
                motion_s=m.u(1, 3),
                boulders=int(m.rng.integers(2, 10)),
            )
        if what == "tree":
            ev["far_side"] = bool(m.rng.random() < 0.4)
        out.append(m.clip(f"blockage_{period}", min(dur, 180), scene, events=[ev], tags=[what],
                          **m.weather(period)))
    if a.real_footage and not quick:
        t = m.u(30, 45)
        ev = {"kind": "debris", "t": t, "end": None, "cover": m.u(0.5, 1.0), "length": m.u(4, 7),
              "rgb": m.pick(list(a.debris_tints)), "material": "brick", "motion_s": 2.0, "boulders": 6}
        out.append(m.clip("blockage_real", t + 2 + m.u(65, 90), "real", events=[ev], tags=["debris"]))
    return out


def _stopped(m: _SplitMaker, quick: bool) -> list[ClipSpec]:
    """Vehicles standing on the carriageway past the limit: labelled from stop + STOPPED_VEHICLE_S."""
    plans = [
        ("car", "day", "across"), ("car", "day", "along"), ("car", "dusk", "wide"),
        ("van", "night", "across"), ("lorry", "day", "along"), ("car", "night", "along"),
        ("van", "day", "wide"),
    ]
    if quick:
        plans = [("car", "day", "across")]
    out = []
    for vehicle, period, scene in plans:
        t = m.u(30, 45) if not quick else 30.0
        stands = m.u(STOPPED_VEHICLE_S + 20, STOPPED_VEHICLE_S + 70) if not quick else STOPPED_VEHICLE_S + 15
        leaves = not quick and m.rng.random() < 0.3
        end = round(t + stands, 2) if leaves else None
        dur = t + stands + (m.u(20, 30) if leaves else 0)
        ev = {"kind": "stalled", "vehicle": vehicle, "t": t, "end": end, "pos": m.u(0.3, 0.7)}
        w = m.weather(period)
        out.append(m.clip(f"stopped_{period}", dur, scene, events=[ev], tags=["stopped", vehicle], **w))
    return out


def _floods(m: _SplitMaker, quick: bool) -> list[ClipSpec]:
    a = m.a
    plans = [
        ("muddy", "day", "across"), ("sky", "day", "along"), ("muddy", "dusk", "along"),
        ("sky", "night", "across"), ("clear_mud", "day", "wide"), ("clear_mud", "day", "wide"),
        ("clear_mud", "dusk", "wide"), ("clear_mud", "day", "along"), ("muddy", "night", "wide"),
        ("sky", "day", "wide"),
    ]
    if quick:
        plans = [("clear_mud", "day", "wide")]
    out = []
    for look, period, scene in plans:
        t = m.u(30, 45) if not quick else 30.0
        rise = m.u(10, 30) if not quick else 15.0
        stays = m.u(45, 90) if not quick else 45.0
        end = round(t + rise + stays, 2) if (not quick and m.rng.random() < 0.25) else None
        dur = t + rise + stays + (m.u(25, 35) if end else 0)
        box = a.sky_water if look == "sky" else a.muddy_water
        colour = tuple(round(float(m.rng.uniform(lo, hi)), 3) for lo, hi in zip(box[0], box[1], strict=True))
        ev = {
            "kind": "flood",
            "t": t,
            "rise_s": rise,
            "look": "sky" if look == "sky" else "muddy",
            "colour": colour,
            "opacity": m.r(a.clear_mud_opacity) if look == "clear_mud" else 0.9,
            "length": m.u(8, 20),
            "pos": m.u(0.3, 0.7),
            "end": end,
        }
        out.append(m.clip(f"flooding_{period}", min(dur, 180), scene, events=[ev], tags=[look],
                          **m.weather(period)))
    if a.real_footage and not quick:
        t = m.u(30, 40)
        box = a.muddy_water
        colour = tuple(round(float(m.rng.uniform(lo, hi)), 3) for lo, hi in zip(box[0], box[1], strict=True))
        ev = {"kind": "flood", "t": t, "rise_s": m.u(12, 25), "look": "muddy", "half_px": 100, "end": None,
              "colour": colour}
        out.append(m.clip("flooding_real", t + 30 + m.u(50, 70), "real", events=[ev], tags=["muddy"]))
    return out


def _occluder(m: _SplitMaker, start: float, textured: bool) -> Fault:
    a = m.a
    params: dict[str, float | str] = {
        "side": m.pick(["left", "right", "top", "bottom", "corner"]),
        "sway": m.u(0, 6),
    }
    if textured:
        params.update(cover=m.u(0.5, 0.7), what=m.pick(list(a.textured_occluders)),
                      tone=m.pick(["dark", "light"]), contrast=m.u(0.25, 0.5))
    else:
        params.update(cover=m.u(0.4, 0.9), what=m.pick(list(a.flat_occluders)))
    end = round(start + m.u(40, 70), 2) if m.rng.random() < 0.3 else None
    return Fault("camera_occluded", start, end, params)


def _faults(m: _SplitMaker, quick: bool) -> list[ClipSpec]:
    a = m.a
    scenes = ["across", "along", "wide"] + (["real"] if a.real_footage else [])
    jobs: list[tuple[str, str, bool]] = [(k, s, False) for k in FAULT_KINDS for s in scenes]
    jobs += [("camera_occluded", s, True) for s in ("across", "along", "wide", "across")]
    if quick:
        jobs = [("camera_occluded", "along", True), ("camera_frozen", "across", False)]
    out = []
    for j, (kind, scene, textured) in enumerate(jobs):
        period = "day" if scene == "real" else ["day", "night", "day", "dusk"][j % 4]
        start = m.u(30, 50) if not quick else 30.0
        f = _occluder(m, start, textured) if kind == "camera_occluded" else _fault(m, kind, start, period)
        tail = m.u(45, 70) if not quick else 30.0
        dur = (f.end + m.u(25, 40)) if f.end is not None else start + tail
        w = m.weather(period) if scene != "real" else {}
        w.pop("shake", None)
        stem = "fault_" + kind.removeprefix("camera_") + ("_textured" if textured else "")
        out.append(m.clip(stem, min(dur, 180), scene, faults=[f], tags=["textured"] if textured else [], **w))
    return out


def split_catalog(split: str, seed: int, quick: bool = False) -> list[ClipSpec]:
    """Every clip of one split for one master seed (or its quick subset), reproducible."""
    a = assets(split)
    if split == "legacy":
        raise ValueError("the legacy set is models.evalset.catalog.catalog(seed)")
    m = _SplitMaker(a, seed)
    specs = (
        _negatives(m, quick) + _landslides(m, quick) + _blockages(m, quick) + _stopped(m, quick)
        + _floods(m, quick) + _faults(m, quick)
    )
    names = [s.name for s in specs]
    assert len(names) == len(set(names)), "clip names must be unique"
    return specs
