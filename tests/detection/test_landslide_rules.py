"""The landslide decision on one standing component, with the detector's per-block memory set by hand:
what the material looks like and how it arrived decide landslide or not, everything else equal."""

from __future__ import annotations

import numpy as np

from edge.detectors_blocks import N_FEATURES
from edge.obstruction import ObstructionDetector
from edge.onnx_models import ModelBundle
from edge.regions import build_masks
from gridwatch.config import DetectionSettings, parse_roi
from gridwatch.wire import EventKind
from tests.detection import synth

#: the component: road block rows 15-18 (the road's top rows touch the slope), columns 18-23
ROWS, COLS = slice(15, 19), slice(18, 24)


def judge(models: ModelBundle, *, smoother: bool = False, slope_seen: bool = True,
          spread: bool = True, arrival_s: float = 2.0) -> list[EventKind]:
    masks = build_masks([parse_roi(synth.ROAD_ROI), parse_roi(synth.SLOPE_ROI)], (synth.H, synth.W))
    det = ObstructionDetector(masks, DetectionSettings(), models)
    gy, gx = det.gy, det.gx
    mask = np.zeros((gy, gx), bool)
    mask[ROWS, COLS] = True
    t = 100.0
    det.on[:] = mask
    det.still[mask] = 3
    det.probs[mask] = (0.05, 0.75, 0.15, 0.05)  # earth and rock
    # it began at the slope's edge (row 15) and, if it spread, reached the rows below later
    det.first_t[mask] = t - arrival_s
    det.rest_t[mask] = t - 1.0
    if spread:
        det.first_t[16:19, COLS] = t - arrival_s + 1.5
    det.origin[15, COLS] = slope_seen
    det.origin_side[15, COLS] = True
    if not spread:  # all of it appeared at once, all counted as on the slope's side
        det.origin_side[mask] = True
    feats = np.zeros((gy, gx, N_FEATURES), np.float32)
    feats[..., 3] = -1.0 if smoother else 0.3  # texture change beyond brightness
    det._features = feats
    colour = np.full((gy, gx, 3), 90.0, np.float32)
    return [c.kind for c in det._components(t, mask, colour, colour.copy())]


def test_earth_seen_coming_down_the_slope_is_a_landslide(models) -> None:
    assert judge(models) == [EventKind.LANDSLIDE]


def test_a_smoother_surface_is_not_a_landslide(models) -> None:
    # a water film, or a light learned into the reference that has left, smooths the road; rock and
    # earth do not
    assert EventKind.LANDSLIDE not in judge(models, smoother=True)


def test_unseen_on_the_slope_it_must_spread_away_from_it_quickly(models) -> None:
    assert judge(models, slope_seen=False) == [EventKind.LANDSLIDE]
    assert EventKind.LANDSLIDE not in judge(models, slope_seen=False, spread=False)
    # water rising from the low side of the road takes longer than a landslide comes down
    assert EventKind.LANDSLIDE not in judge(models, slope_seen=False, arrival_s=12.0)
    # seen coming down the slope, a slower arrival (within 20 s) is still a landslide
    assert judge(models, arrival_s=12.0) == [EventKind.LANDSLIDE]
