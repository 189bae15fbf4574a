"""The learned half of the obstruction decision: what a standing component is, from its measures.

A small model (``models/obstruction_decision.onnx``, trained by ``models/train_decision.py`` on the dev
split's generated scenes) reads each component's measures (:mod:`edge.obstruction_measure`) and gives the
probability of each of :data:`DECISION_CLASSES`. The physical gates that a sentence justifies (a blockage
spans the configured share of the road; a vehicle is judged by ``stopped_vehicle_s``; parking regions)
stay in :mod:`edge.obstruction_decide`.

Times are capped at :data:`TIME_CAP_S` so that the model learns how things arrive and rest, not how long
the clips it was trained on let them stand: how long is the gates' business.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from edge.obstruction_measure import Measures

#: Output classes of the decision model, in order.
DECISION_CLASSES = ("none", "landslide", "flooding", "blockage", "vehicle")
#: Seconds beyond which a duration (arrival, rest, gathering, calm) adds nothing to what a thing is.
TIME_CAP_S = 60.0

#: Input features, in order (the model's input width is checked against this when it is loaded).
FEATURES = (
    "log_blocks", "share", "area_share", "pixel_share", "verge_reach",
    "debris", "water", "object", "strength",
    "arrival_s", "rest_s", "gather_s", "calm_s", "steady",
    "from_slope", "from_side", "spread_away",
    "vegetation", "tex_vs_bright", "d_bright", "d_green", "d_red", "lit", "self_lit",
    "in_parking", "need", "has_slope", "verge_only", "level",
)


@dataclass(frozen=True, slots=True)
class Context:
    """What the component's measures do not hold: where it was looked for and how the scene is lit."""

    need: float  # road share a blockage needs here
    has_slope: bool
    verge_only: bool  # a road+verge component judged only as a landslide
    level: float  # reference mean grey (0..255)


def _cap(v: float) -> float:
    return min(max(v, 0.0), TIME_CAP_S)


def _num(details: Mapping[str, object], key: str) -> float:
    v = details.get(key, 0.0)
    return float(v) if isinstance(v, (int, float)) else 0.0


def feature_vector(m: Measures, ctx: Context) -> np.ndarray:
    """The model's input row for one component (float32, len(FEATURES))."""
    d = m.details
    row = [
        math.log(max(1, m.blocks)), m.share, m.area_share,
        -1.0 if m.pixel_share is None else m.pixel_share, -1.0 if m.reach is None else m.reach,
        m.debris, m.water, m.obj, m.strength,
        _cap(m.arrival_s), _cap(m.rest_s), _cap(m.gather_s), _cap(m.calm_s), m.steady,
        m.origin, m.side, m.away,
        float(m.vegetation), m.textured_change, _num(d, "d_bright"), _num(d, "d_green"), _num(d, "d_red"),
        min(_num(d, "lit"), 255.0) / 255.0, float(m.self_lit),
        m.in_parking, ctx.need, float(ctx.has_slope), float(ctx.verge_only), ctx.level / 255.0,
    ]
    return np.asarray(row, np.float32)
