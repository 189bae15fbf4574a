"""The list of clips in the evaluation set: positives of every kind, negatives, and camera faults.

Variation (sizes, colours, positions, light, weather, timing) is drawn from one master seed so that the
set is reproducible yet not hand-placed; every clip starts with at least 30 s of clean warm-up.
"""

from __future__ import annotations

import numpy as np

from models.evalset.faults import Fault
from models.evalset.render import ClipSpec

ROCK_TINTS = {
    "brown": (0.5, 0.38, 0.26),
    "grey": (0.5, 0.5, 0.48),
    "ochre": (0.62, 0.48, 0.28),
    "dark": (0.3, 0.26, 0.22),
    "red": (0.55, 0.32, 0.22),
}


class _Maker:
    def __init__(self, seed: int) -> None:
        self.rng = np.random.default_rng(seed)
        self.seed = seed
        self.count: dict[str, int] = {}

    def name(self, stem: str) -> str:
        k = self.count.get(stem, 0) + 1
        self.count[stem] = k
        return f"{stem}_{k:02d}"

    def u(self, lo: float, hi: float) -> float:
        return round(float(self.rng.uniform(lo, hi)), 2)

    def pick(self, options: list):
        return options[int(self.rng.integers(0, len(options)))]

    def spec(self, stem: str, duration: float, scene: str, **kw) -> ClipSpec:
        tags = list(kw.pop("tags", []))
        traffic = kw.pop("traffic", self.u(1.5, 6.0))
        if scene in ("across", "along", "wide") and traffic > 0:
            tags.append("traffic")
        if scene.startswith("real"):
            tags.append("real")
            traffic = 0.0
        for flag in ("rain", "clouds", "shake", "sunset"):
            if kw.get(flag):
                tags.append(flag)
        if kw.get("stops"):
            tags.append("stopping")
        if kw.get("period") in ("night", "dusk") and scene in ("across", "along", "wide"):
            tags.append("headlights")
        if scene in ("across", "along"):
            tags.append(scene)
        return ClipSpec(
            name=self.name(stem),
            duration=round(duration, 1),
            scene=scene,
            seed=int(self.rng.integers(1 << 30)),
            traffic=traffic,
            crf=int(self.rng.integers(23, 30)),
            tags=sorted(set(tags)),
            **kw,
        )


def _weather(m: _Maker, period: str) -> dict:
    w: dict = {"period": period}
    r = m.rng.random()
    if r < 0.2:
        w["rain"] = m.u(0.3, 1.0)
    elif r < 0.4 and period == "day":
        w["clouds"] = m.u(0.2, 0.45)
    if m.rng.random() < 0.2:
        w["shake"] = m.u(1.0, 2.5)
    return w


def negatives(m: _Maker, quick: bool) -> list[ClipSpec]:
    out = []
    plans = [
        ("neg_traffic", "day", {}),
        ("neg_traffic", "day", {}),
        ("neg_stops", "day", {}),
        ("neg_stops", "night", {}),
        ("neg_clouds", "day", {"clouds": 0.4}),
        ("neg_sunset", "day", {"sunset": True}),
        ("neg_night", "night", {}),
        ("neg_rain", "day", {"rain": 0.8}),
        ("neg_shake", "day", {"shake": 2.5}),
        ("neg_dusk", "dusk", {}),
        ("neg_rain", "night", {"rain": 0.6}),
        ("neg_clouds", "day", {"clouds": 0.3}),
        ("neg_traffic", "dusk", {"traffic": 8.0}),
        ("neg_night", "night", {"traffic": 7.0}),
        ("neg_stops", "dusk", {}),
        ("neg_sunset", "day", {"sunset": True, "clouds": 0.2}),
        ("neg_shake", "night", {"shake": 1.5}),
        ("neg_rain", "dusk", {"rain": 1.0}),
        ("neg_traffic", "day", {"traffic": 10.0, "people": 2.0}),
        ("neg_clouds", "day", {"clouds": 0.45, "shake": 1.0}),
        ("neg_stops", "day", {"rain": 0.4}),
        ("neg_night", "night", {"rain": 0.3}),
        ("neg_sunset", "day", {"sunset": True}),
        ("neg_shake", "day", {"shake": 3.0, "clouds": 0.25}),
        ("neg_traffic", "night", {"traffic": 4.0}),
        ("neg_dusk", "dusk", {"clouds": 0.2}),
    ]
    if quick:
        plans = [plans[0], plans[3], plans[4]]
    for stem, period, extra in plans:
        scene = m.pick(["across", "along"])
        dur = m.u(120, 180) if not quick else 75.0
        stops = []
        if stem == "neg_stops":
            t = m.u(25, 40)
            while t < dur - 25:
                stops.append((t, m.u(5, 15)))
                t += m.u(25, 45)
        kw = {"period": period, **extra}
        out.append(m.spec(stem, dur, scene, stops=stops, **kw))
    # the real footage: raw as recorded, long back-and-forth, and with a little shake
    out.append(m.spec("neg_real_raw", 79.5, "real_raw", pingpong=False))
    if not quick:
        out.append(m.spec("neg_real", 158.0, "real"))
        out.append(m.spec("neg_real_shake", 120.0, "real", shake=1.5))
    return out


def landslides(m: _Maker, quick: bool) -> list[ClipSpec]:
    out = []
    periods = ["day"] * 7 + ["dusk"] * 4 + ["night"] * 5 if not quick else ["day", "night"]
    for k, period in enumerate(periods):
        scene = "across" if k % 2 == 0 else "along"
        t = m.u(30, 55)
        motion = m.u(2, 6)
        stays = m.u(35, 80)
        end = None
        if m.rng.random() < 0.25:
            end = round(t + motion + stays, 2)
        dur = t + motion + stays + (m.u(25, 40) if end else 0)
        tint = m.pick(list(ROCK_TINTS))
        ev = {
            "kind": "landslide",
            "t": t,
            "motion_s": motion,
            "cover": m.u(0.3, 1.0),
            "length": m.u(5, 14),
            "slope_m": m.u(2, 5),
            "rgb": ROCK_TINTS[tint],
            "material": m.pick(["gravel", "gravel", "grass"]),
            "boulders": int(m.rng.integers(2, 14)),
            "pos": m.u(0.2, 0.8),
            "end": end,
        }
        if ev["material"] == "grass":  # slope surface torn off with its vegetation and soil
            ev["rgb"] = (0.36, 0.34, 0.2)
        out.append(
            m.spec(
                f"landslide_{period}", min(dur, 180), scene, events=[ev], tags=[tint], **_weather(m, period)
            )
        )
    return out


def blockages(m: _Maker, quick: bool) -> list[ClipSpec]:
    out = []
    plans = [
        ("tree", "day"),
        ("debris", "day"),
        ("stalled", "day"),
        ("tree", "dusk"),
        ("debris", "night"),
        ("stalled", "night"),
        ("tree", "night"),
        ("debris", "day"),
        ("stalled", "dusk"),
        ("tree", "day"),
        ("debris", "dusk"),
        ("stalled", "day"),
        ("tree", "day"),
        ("debris", "day"),
    ]
    if quick:
        plans = [("tree", "day"), ("stalled", "night")]
    for what, period in plans:
        scene = m.pick(["across", "along"])
        t = m.u(30, 50)
        stays = m.u(65, 110)
        end = round(t + 2 + stays, 2) if m.rng.random() < 0.3 else None
        dur = t + 2 + stays + (m.u(25, 35) if end else 0)
        ev: dict = {"kind": what, "t": t, "end": end, "pos": m.u(0.25, 0.75), "cover": m.u(0.35, 1.0)}
        if what == "debris":
            ev.update(
                length=m.u(3, 8),
                rgb=m.pick([(0.6, 0.35, 0.25), (0.5, 0.5, 0.48), (0.45, 0.36, 0.25)]),
                material=m.pick(["brick", "gravel"]),
                motion_s=m.u(1, 3),
                boulders=int(m.rng.integers(2, 10)),
            )
        if what == "tree":
            ev["far_side"] = bool(m.rng.random() < 0.4)
        tags = [what]
        out.append(
            m.spec(f"blockage_{period}", min(dur, 180), scene, events=[ev], tags=tags, **_weather(m, period))
        )
    if not quick:
        for _ in range(2):
            t = m.u(30, 45)
            ev = {
                "kind": "debris",
                "t": t,
                "end": None,
                "cover": m.u(0.5, 1.0),
                "length": m.u(4, 7),
                "rgb": m.pick([(0.6, 0.35, 0.25), (0.5, 0.5, 0.48)]),
                "material": "brick",
                "motion_s": 2.0,
                "boulders": 6,
            }
            out.append(m.spec("blockage_real", t + 2 + m.u(65, 90), "real", events=[ev], tags=["debris"]))
    return out


def floods(m: _Maker, quick: bool) -> list[ClipSpec]:
    out = []
    plans = [
        ("muddy", "day"),
        ("sky", "day"),
        ("muddy", "dusk"),
        ("sky", "night"),
        ("muddy", "night"),
        ("sky", "day"),
        ("muddy", "day"),
        ("sky", "dusk"),
    ]
    if quick:
        plans = [("muddy", "day")]
    for look, period in plans:
        scene = m.pick(["across", "along"])
        t = m.u(30, 45)
        rise = m.u(10, 30)
        stays = m.u(45, 90)
        end = round(t + rise + stays, 2) if m.rng.random() < 0.25 else None
        dur = t + rise + stays + (m.u(25, 35) if end else 0)
        ev = {
            "kind": "flood",
            "t": t,
            "rise_s": rise,
            "look": look,
            "length": m.u(8, 20),
            "pos": m.u(0.3, 0.7),
            "end": end,
        }
        out.append(
            m.spec(
                f"flooding_{period}", min(dur, 180), scene, events=[ev], tags=[look], **_weather(m, period)
            )
        )
    if not quick:
        t = m.u(30, 40)
        ev = {"kind": "flood", "t": t, "rise_s": m.u(12, 25), "look": "muddy", "half_px": 100, "end": None}
        out.append(m.spec("flooding_real", t + 30 + m.u(50, 70), "real", events=[ev], tags=["muddy"]))
    return out


def _fault(m: _Maker, kind: str, start: float, period: str) -> Fault:
    if kind == "camera_frozen":
        return Fault(kind, start, round(start + m.u(35, 60), 2) if m.rng.random() < 0.5 else None)
    if kind == "camera_blurred":
        if m.rng.random() < 0.35:
            return Fault(
                kind, start, None, {"sigma": m.u(1.5, 3), "fog": m.u(0.45, 0.7), "ramp": m.u(0, 1.5)}
            )
        return Fault(kind, start, None, {"sigma": m.u(4, 8), "ramp": m.u(0, 1.5)})
    if kind == "camera_occluded":
        return Fault(
            kind,
            start,
            round(start + m.u(40, 70), 2) if m.rng.random() < 0.3 else None,
            {
                "cover": m.u(0.4, 0.9),
                "what": m.pick(["leaf", "bag", "hand", "paper"]),
                "side": m.pick(["left", "right", "top", "bottom", "corner"]),
                "sway": m.u(0, 6),
            },
        )
    if kind == "camera_moved":
        sx = m.pick([-1, 1])
        return Fault(
            kind,
            start,
            None,
            {"dx": sx * m.u(8, 36), "dy": m.u(-14, 14), "angle": m.u(-4, 4), "ramp": m.u(0, 2)},
        )
    if kind == "camera_too_dark":
        return Fault(
            kind,
            start,
            round(start + m.u(40, 60), 2) if m.rng.random() < 0.3 else None,
            {"gain": m.u(0.02, 0.07)},
        )
    if kind == "camera_overexposed":
        if m.rng.random() < 0.4 and period == "day":  # the sun in the lens
            return Fault(
                kind,
                start,
                None,
                {"gain": m.u(1.2, 1.6), "glare": m.u(1.0, 1.6), "gx": m.u(0.2, 0.8), "gy": m.u(0.1, 0.6)},
            )
        return Fault(kind, start, None, {"gain": m.u(4.0, 9.0), "ramp": m.u(0, 1)})
    if kind == "camera_offline":
        return Fault(kind, start, round(start + m.u(40, 80), 2))
    raise ValueError(kind)


def faults(m: _Maker, quick: bool) -> list[ClipSpec]:
    out = []
    kinds = [
        "camera_frozen",
        "camera_blurred",
        "camera_occluded",
        "camera_moved",
        "camera_too_dark",
        "camera_overexposed",
        "camera_offline",
    ]
    scenes = ["across", "along", "real", "across"] if not quick else ["across"]
    if quick:
        kinds = ["camera_frozen", "camera_occluded", "camera_moved", "camera_offline"]
    for kind in kinds:
        for j, scene in enumerate(scenes):
            period = "day" if scene == "real" else ["day", "night", "day", "dusk"][j]
            start = m.u(30, 50)
            f = _fault(m, kind, start, period)
            tail = m.u(45, 70)
            dur = (f.end + m.u(25, 40)) if f.end is not None else start + tail
            w = _weather(m, period) if scene != "real" else {}
            w.pop("shake", None)
            short = kind.removeprefix("camera_")
            out.append(m.spec(f"fault_{short}", min(dur, 180), scene, faults=[f], **w))
    return out


def catalog(seed: int = 0, quick: bool = False) -> list[ClipSpec]:
    """Every clip of the set (or the quick subset), reproducible from ``seed``."""
    m = _Maker(seed)
    specs = (
        negatives(m, quick) + landslides(m, quick) + blockages(m, quick) + floods(m, quick) + faults(m, quick)
    )
    names = [s.name for s in specs]
    assert len(names) == len(set(names)), "clip names must be unique"
    return specs
