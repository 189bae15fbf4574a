"""What each split of the evaluation set may draw from: one table, so a reader can check disjointness.

Three splits:

* ``dev``: tune detectors and train models freely. Procedural textures only (noise-made gravel,
  grass, brick: nothing photographed), its own master seeds, camera geometries, vehicle shapes and
  colours, water colours, occluder shapes and materials, weather ranges.
* ``test``: sealed. Nothing is tuned or trained on it; it is generated and scored once per frozen
  change. Photographed textures (scikit-image's gravel/grass/brick) and the real footage (vtest.avi)
  belong here only, with seeds, geometries and asset families disjoint from dev.
* ``legacy``: the set the project evaluated on before the split (``generate`` without ``--split``),
  kept so older figures stay reproducible. Detectors were tuned on it clip by clip, so it is neither
  dev nor test. Its ranges (geometry, weather, water colours) span both splits' and it shares the
  photographs and the real footage with test; the test split's colours (rock tints, debris,
  vehicles), occluder kinds, new clip classes and seeds are not legacy's. ``overlaps`` lists what two
  splits share; tests/evalset asserts dev and test share nothing.

Ranges below are (low, high) for a uniform draw; palettes are RGB in 0..1. ``legacy`` holds exactly
the values the generator used before, so its draws (and files) do not change.
"""

from __future__ import annotations

from dataclasses import dataclass

RGB = tuple[float, float, float]
Range = tuple[float, float]


@dataclass(frozen=True)
class Assets:
    """Everything a split's clips may be made of (see the module docstring for the rules)."""

    name: str
    seeds: tuple[int, ...]  # master seeds of the robustness grid (one generated set per seed)
    quick_seed: int  # master seed of the quick subset (CI)
    textures: str  # "photographed" (scikit-image) | "procedural-<n>" (noise family n)
    real_footage: bool  # may clips use data/footage/vtest.avi
    # camera geometry
    across_ppm: Range
    across_width_m: Range
    across_road_top: Range  # share of the canvas height where the slope-side edge lies
    along_horizon: Range  # share of the canvas height
    along_cam_h: Range
    along_width_m: Range
    wide_width_m: Range  # a wide paved area below a grass bank
    road_surfaces: tuple[str, ...]
    # material
    rock_tints: dict[str, RGB]
    debris_tints: tuple[RGB, ...]
    debris_materials: tuple[str, ...]
    vehicle_palette: tuple[RGB, ...]
    stalled_palette: tuple[RGB, ...]
    car_length_m: Range
    car_height_m: Range
    muddy_water: tuple[RGB, RGB]  # low, high corner of the colour box
    sky_water: tuple[RGB, RGB]
    clear_mud_opacity: Range  # peak opacity of partly transparent muddy water
    flat_occluders: tuple[str, ...]  # faults.occluder's flat kinds
    textured_occluders: tuple[str, ...]  # faults.occluder's textured materials
    # weather
    rain: Range
    clouds: Range
    cloud_speed: Range
    cloud_softness: Range  # width of the shadow's edge ramp (0.25 = legacy's crisp-ish edge)
    shake: Range


_LEGACY_PALETTE: tuple[RGB, ...] = (
    (0.8, 0.8, 0.82),
    (0.1, 0.1, 0.12),
    (0.55, 0.56, 0.6),
    (0.6, 0.08, 0.06),
    (0.1, 0.2, 0.5),
    (0.85, 0.85, 0.8),
    (0.3, 0.35, 0.3),
    (0.75, 0.6, 0.2),
    (0.9, 0.9, 0.92),
    (0.2, 0.4, 0.25),
)

LEGACY = Assets(
    name="legacy",
    seeds=(0,),
    quick_seed=0,
    textures="photographed",
    real_footage=True,
    across_ppm=(11.0, 17.0),
    across_width_m=(5.5, 8.0),
    across_road_top=(0.42, 0.55),
    along_horizon=(0.28, 0.36),
    along_cam_h=(5.0, 8.0),
    along_width_m=(5.5, 8.0),
    wide_width_m=(12.0, 18.0),
    road_surfaces=("asphalt", "asphalt", "concrete", "worn"),
    rock_tints={
        "brown": (0.5, 0.38, 0.26),
        "grey": (0.5, 0.5, 0.48),
        "ochre": (0.62, 0.48, 0.28),
        "dark": (0.3, 0.26, 0.22),
        "red": (0.55, 0.32, 0.22),
    },
    debris_tints=((0.6, 0.35, 0.25), (0.5, 0.5, 0.48), (0.45, 0.36, 0.25)),
    debris_materials=("brick", "gravel"),
    vehicle_palette=_LEGACY_PALETTE,
    stalled_palette=((0.85, 0.85, 0.82), (0.2, 0.35, 0.6), (0.7, 0.15, 0.1), (0.3, 0.5, 0.3)),
    car_length_m=(3.8, 4.8),
    car_height_m=(1.4, 1.6),
    muddy_water=((0.42, 0.33, 0.2), (0.55, 0.45, 0.3)),
    sky_water=((0.55, 0.62, 0.7), (0.7, 0.76, 0.82)),
    clear_mud_opacity=(0.9, 0.9),
    flat_occluders=("leaf", "bag", "hand", "paper"),
    textured_occluders=(),
    rain=(0.3, 1.0),
    clouds=(0.2, 0.45),
    cloud_speed=(15.0, 15.0),
    cloud_softness=(0.25, 0.25),
    shake=(1.0, 2.5),
)

DEV = Assets(
    name="dev",
    seeds=(101, 102, 103),
    quick_seed=100,
    textures="procedural-1",
    real_footage=False,
    across_ppm=(10.0, 13.5),
    across_width_m=(5.0, 6.6),
    across_road_top=(0.40, 0.50),
    along_horizon=(0.26, 0.31),
    along_cam_h=(4.5, 6.2),
    along_width_m=(5.0, 6.6),
    wide_width_m=(11.0, 14.0),
    road_surfaces=("asphalt", "worn"),
    rock_tints={
        "umber": (0.46, 0.34, 0.24),
        "slate": (0.42, 0.43, 0.44),
        "clay": (0.6, 0.42, 0.3),
    },
    debris_tints=((0.55, 0.38, 0.28), (0.4, 0.4, 0.4)),
    debris_materials=("brick", "gravel"),
    vehicle_palette=(
        (0.78, 0.78, 0.8),
        (0.12, 0.12, 0.14),
        (0.58, 0.1, 0.08),
        (0.12, 0.22, 0.48),
        (0.72, 0.58, 0.22),
    ),
    stalled_palette=((0.8, 0.8, 0.78), (0.62, 0.14, 0.1), (0.12, 0.24, 0.5)),
    car_length_m=(3.8, 4.3),
    car_height_m=(1.4, 1.5),
    muddy_water=((0.4, 0.31, 0.19), (0.48, 0.38, 0.26)),
    sky_water=((0.55, 0.62, 0.7), (0.62, 0.69, 0.76)),
    clear_mud_opacity=(0.5, 0.6),
    flat_occluders=("leaf", "bag"),
    textured_occluders=("bark", "cloth"),
    rain=(0.3, 0.6),
    clouds=(0.2, 0.32),
    cloud_speed=(10.0, 15.0),
    cloud_softness=(0.3, 0.45),
    shake=(1.0, 1.8),
)

TEST = Assets(
    name="test",
    seeds=(9001, 9002, 9003),
    quick_seed=9000,
    textures="photographed",
    real_footage=True,
    across_ppm=(13.5, 17.0),
    across_width_m=(6.6, 8.0),
    across_road_top=(0.50, 0.56),
    along_horizon=(0.31, 0.37),
    along_cam_h=(6.2, 8.0),
    along_width_m=(6.6, 8.0),
    wide_width_m=(14.0, 18.0),
    road_surfaces=("concrete", "paved"),
    rock_tints={
        "sienna": (0.56, 0.36, 0.22),
        "ash": (0.55, 0.54, 0.5),
        "peat": (0.27, 0.23, 0.19),
        "loess": (0.66, 0.54, 0.36),
    },
    debris_tints=((0.64, 0.32, 0.22), (0.48, 0.44, 0.36)),
    debris_materials=("gravel", "brick"),
    vehicle_palette=(
        (0.92, 0.92, 0.9),
        (0.5, 0.52, 0.56),
        (0.28, 0.32, 0.28),
        (0.18, 0.42, 0.26),
        (0.86, 0.45, 0.1),
    ),
    stalled_palette=((0.9, 0.9, 0.88), (0.3, 0.48, 0.3), (0.86, 0.45, 0.1)),
    car_length_m=(4.3, 4.9),
    car_height_m=(1.5, 1.65),
    muddy_water=((0.48, 0.38, 0.26), (0.58, 0.47, 0.32)),
    sky_water=((0.62, 0.69, 0.76), (0.72, 0.78, 0.84)),
    clear_mud_opacity=(0.6, 0.72),
    flat_occluders=("hand", "paper"),
    textured_occluders=("foliage", "sacking"),
    rain=(0.6, 1.0),
    clouds=(0.32, 0.48),
    cloud_speed=(16.0, 24.0),
    cloud_softness=(0.45, 0.6),
    shake=(1.8, 3.0),
)

SPLITS: dict[str, Assets] = {a.name: a for a in (LEGACY, DEV, TEST)}

#: Sampling phases of the robustness grid: the analysed frames are taken at k + phase seconds.
PHASES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)

#: A vehicle standing on the carriageway longer than this is a road blockage (issue 20; the
#: detector's per-camera default ``stopped_vehicle_s``). Shorter stops are negatives.
STOPPED_VEHICLE_S = 120.0


def assets(name: str) -> Assets:
    """The split's asset table; a clear error for an unknown name."""
    try:
        return SPLITS[name]
    except KeyError:
        raise ValueError(f"unknown split {name!r}: one of {', '.join(SPLITS)}") from None


def overlaps(a: Assets, b: Assets) -> list[str]:
    """Families two splits share (the dev/test pair must share none; see tests/evalset)."""
    out = []
    if {*a.seeds, a.quick_seed} & {*b.seeds, b.quick_seed}:
        out.append("seeds")
    if a.textures == b.textures:
        out.append("textures")
    if a.real_footage and b.real_footage:
        out.append("real_footage")
    for fam in ("rock_tints", "debris_tints", "vehicle_palette", "stalled_palette", "flat_occluders",
                "textured_occluders", "road_surfaces"):
        va, vb = getattr(a, fam), getattr(b, fam)
        ka = set(va.values() if isinstance(va, dict) else va)
        kb = set(vb.values() if isinstance(vb, dict) else vb)
        if ka & kb:
            out.append(fam)
    for fam in ("across_ppm", "across_width_m", "along_cam_h", "along_width_m", "wide_width_m",
                "car_length_m", "clear_mud_opacity", "rain", "clouds", "cloud_speed", "cloud_softness",
                "shake", "along_horizon", "across_road_top"):
        (a0, a1), (b0, b1) = getattr(a, fam), getattr(b, fam)
        if min(a1, b1) > max(a0, b0):  # ranges may touch at one end, not overlap
            out.append(fam)
    for fam in ("muddy_water", "sky_water"):
        (alo, ahi), (blo, bhi) = getattr(a, fam), getattr(b, fam)
        if all(min(ahi[i], bhi[i]) > max(alo[i], blo[i]) for i in range(3)):
            out.append(fam)
    return out
