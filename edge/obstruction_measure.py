"""Measures of one standing component on the road: what it looks like, how it arrived, how much of the
road it takes. No decision is taken here (see :mod:`edge.obstruction_decide`).

The figures come from the obstruction detector's per-block memory (class probabilities, when each block
became anomalous and came to rest, where its first blocks lay) and from the current frame's difference
from the reference.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from edge.events import BBox, Details

if TYPE_CHECKING:
    from edge.obstruction import ObstructionDetector

#: Least component size (blocks) worth measuring on the road; on the verge (landslide only) MIN_BLOCKS.
MIN_BLOCKS = 3
MIN_BLOCKS_FAR = 2
#: Vegetation (a fallen tree) turns the road greener by at least this factor more than it turns it
#: redder (leaves are green; soil and turf torn off a slope, olive to brown, shift both alike)...
GREEN_OVER_RED = 1.25
#: ...and by at least this much chromaticity (a shade of green, not noise).
GREENER_BY = 0.015
#: Least mean anomaly score (1 - P(benign)) of a standing component for a blockage: weak, diffuse
#: differences (the edge of a drifting cloud shadow at dusk) are not things on the road. (Here because
#: the pixel-level width is measured only for components that strong.)
MIN_STRENGTH = 0.75
#: Share of a component's blocks that must agree for "all of it" (a glint, a passer-by's shadow on a
#: block or two of a parked car does not make it move).
RIGID_QUANTILE = 0.8
#: In a dim scene (reference mean grey below DIM_LEVEL) a standing thing with a point this many grey
#: levels brighter than the reference is self-lit (head/tail lights, a lamp).
DIM_LEVEL = 60.0
LIGHT_ABOVE = 60.0


@dataclass(slots=True)
class Measures:
    """Everything measured of one component; ``details`` is what an event reports of it."""

    blocks: int  # its size in blocks
    box: tuple[int, int, int, int]  # block box x, y, w, h
    bbox: BBox  # 0..1 frame coordinates
    share: float  # of the road's width (block level, or pixel level where measured so)
    area_share: float  # of the road's area
    reach: float | None  # verge components: share reached onto the road by connected pixels
    debris: float
    water: float
    obj: float
    strength: float  # mean anomaly score (1 - P(benign))
    arrival_s: float  # first change to rest (or to now, if not at rest)
    rest_s: float  # how long all of it has been at rest (0 if some of it still changes)
    origin: float  # share of its first blocks that came from the slope
    side: float  # share of its first blocks on the road's slope side (border)
    away: float  # how far (blocks) its later blocks lie beyond its first ones from the slope
    vegetation: bool
    textured_change: float  # mean texture change beyond what the brightness change explains
    self_lit: bool
    pixel_share: float | None  # width share measured at pixel level (small or far things)
    gather_s: float  # seconds over which (most of) its blocks became anomalous
    calm_s: float  # seconds (most of) its blocks have been anomalous and unchanged every frame
    in_parking: float  # share of its blocks in a parking region
    steady: float  # share of the frames since it came to rest in which it showed its resting look
    details: Details


def measure_component(det: ObstructionDetector, t: float, sel: np.ndarray, box: tuple[int, int, int, int],
                      blocks: int, colour: np.ndarray, ref_colour: np.ndarray, landslide_only: bool,
                      need: float) -> Measures | None:
    """Measure the component ``sel`` (blocks); None when it is not measurable yet (still flowing onto
    the road from the verge, or a verge component with nothing on the road)."""
    x, y, w, h = box
    s = det.settings
    share = det.geometry.width_share(x, y, w, h) if (sel & det.road).any() else 0.0
    reach = None
    reach_box: BBox | None = None
    if landslide_only and share < 0.5 * s.blockage_min_width:
        # material resting on the verge whose on-road part is finer than a block: follow the pixels that
        # differ from the reference and hang together with it onto the road
        around = cv2.dilate(sel.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
        if (around & det.on & (det.still == 0)).any():
            return None  # still flowing onto the road: not at rest yet
        reach, reach_box = det.geometry.verge_reach(sel, det._pix_diff, det._gain_k)
        if reach <= share:
            return None
        share = reach
    area_share = float(blocks) / det.road_area
    p = det.probs[sel].mean(axis=0)
    at_rest = bool((det.still[sel] > 0).all())
    arrival = float(det.rest_t[sel].max() - det.first_t[sel].min()) if (det.still[sel] > 0).any() \
        else float(t - det.first_t[sel].min())
    rest_s = float(t - det.rest_t[sel].max()) if at_rest else 0.0
    # the first blocks of the obstruction tell where it came from
    t_min = float(det.first_t[sel].min())
    early = sel & (det.first_t <= t_min + 1.0)
    origin = float(det.origin[early].mean())
    if reach is not None:
        # (almost) nothing of it stands on the road at block level: it lies on the slope's verge
        origin = float((det.origin | det.slope_verge)[early].mean())
    side = float(det.origin_side[early].mean())
    # with a slope ROI, material from the slope spreads away from it: the blocks it reached after its
    # very first ones lie further from the slope (a pile dumped in place grows from its middle)
    first = sel & (det.first_t <= t_min)
    later = sel & ~first
    away = 0.0 if det.slope_dist is None or not later.any() else \
        float(det.slope_dist[later].mean() - det.slope_dist[first].mean())
    cur_c, ref_c = colour[sel].mean(axis=0), ref_colour[sel].mean(axis=0)
    d_chroma = cur_c / (cur_c.sum() + 3.0) - ref_c / (ref_c.sum() + 3.0)
    vegetation = bool(d_chroma[1] > GREENER_BY and d_chroma[1] > GREEN_OVER_RED * max(0.0, d_chroma[2]))
    bbox = det._bbox(x, y, w, h)
    if reach_box is not None:
        bbox = (min(bbox[0], reach_box[0]), min(bbox[1], reach_box[1]),
                max(bbox[2], reach_box[2]), max(bbox[3], reach_box[3]))
    feats = det._features[sel].mean(axis=0)
    lit = float(det._lit[sel].max())
    self_lit = det._dim and lit >= LIGHT_ABOVE
    details: Details = {"width_share": round(share, 3), "area_share": round(area_share, 4),
                        "debris": round(float(p[1]), 3), "water": round(float(p[2]), 3),
                        "object": round(float(p[3]), 3), "arrival_s": round(arrival, 1),
                        "from_slope": round(origin, 3), "from_side": round(side, 3),
                        "spread_away": round(away, 2), "vegetation": vegetation,
                        "d_green": round(float(d_chroma[1]), 4), "d_red": round(float(d_chroma[2]), 4)}
    if reach is not None:
        details["verge_reach"] = round(reach, 3)
    details["tex_vs_bright"] = round(float(feats[3]), 3)
    details["d_bright"] = round(float(feats[1]), 3)
    details["lit"] = round(lit, 1)
    # a vehicle drives in and stops as one rigid thing: its blocks turn anomalous within a moment of one
    # another and then stay unchanged; people gather one by one and move in place
    gather_s = float(np.quantile(det.first_t[sel], RIGID_QUANTILE) - det.first_t[sel].min())
    calm_s = float(t - np.quantile(det.calm_since[sel], RIGID_QUANTILE))
    in_parking = float(det.parking[sel].mean())
    steady = float(det.like_frames[sel].sum()) / max(1, int(det.rest_frames[sel].sum()))
    details["steady"] = round(steady, 2)
    details["gather_s"] = round(gather_s, 1)
    details["calm_s"] = round(calm_s, 1)
    pixel_share = None
    small = blocks < MIN_BLOCKS
    strong = float(1.0 - p[0]) >= MIN_STRENGTH
    if not landslide_only and strong and (share < need or small) and not self_lit \
            and det.geometry.band_blocks(x, y, w, h) >= 4:
        # blocks of 8 px under-measure a small thing far away: measure it in pixels (not a lit one: the
        # glare of its lights spreads far beyond it; and not where the road is only a few blocks wide)
        pixel_share = det.geometry.pixel_share(det._pix_diff, x, y, w, h)
        details["pixel_share"] = round(pixel_share, 3)
    return Measures(blocks=blocks, box=box, bbox=bbox, share=share, area_share=area_share, reach=reach,
                    debris=float(p[1]), water=float(p[2]), obj=float(p[3]), strength=float(1.0 - p[0]),
                    arrival_s=arrival, rest_s=rest_s, origin=origin, side=side, away=away,
                    vegetation=vegetation, textured_change=float(feats[3]), self_lit=self_lit,
                    pixel_share=pixel_share, gather_s=gather_s, calm_s=calm_s, in_parking=in_parking,
                    steady=steady,                     details=details)
