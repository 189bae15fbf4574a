"""Block features of dark scenes: gain compensation gives a debris pile at night its day response."""

from __future__ import annotations

import numpy as np

from edge.detectors_blocks import MAX_NORM_GAIN, NORM_LEVEL, block_features, norm_gain
from tests.detection.synth import scene


def _with_pile(img: np.ndarray, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    out = img.copy()
    out[136:168, 96:144] = 70 + 50 * rng.random((32, 48, 1))  # a rough grey pile on the road
    return out


def test_norm_gain_lifts_only_dark_references_and_is_bounded() -> None:
    assert norm_gain(120.0) == 1.0 and norm_gain(NORM_LEVEL) == 1.0
    assert norm_gain(NORM_LEVEL / 2) == 2.0
    assert norm_gain(1.0) == MAX_NORM_GAIN and norm_gain(0.0) == MAX_NORM_GAIN


def test_a_pile_at_night_reads_as_it_does_by_day() -> None:
    day_ref = scene(0)
    day_cur = np.clip(_with_pile(day_ref), 0, 255)
    night = 0.15  # ~15/255 scenes, as on an unlit road at night
    ref_n = (day_ref * night).astype(np.float32)
    cur_n = np.clip(np.round(day_cur * night), 0, 255).astype(np.uint8)
    day = block_features(day_cur.astype(np.uint8), day_ref)
    comp = block_features(cur_n, ref_n)
    raw = block_features(cur_n, ref_n, compensate=False)
    pile = (slice(17, 21), slice(12, 18))  # blocks fully inside the pile
    d_tex = 2  # index of d_texture in FEATURE_NAMES
    day_v, comp_v, raw_v = (float(s.features[pile][..., d_tex].mean()) for s in (day, comp, raw))
    assert day_v > 0.5  # the pile adds texture by day
    # without compensation the small constants swamp the night difference; with it, it is back
    assert raw_v < 0.6 * day_v
    assert abs(comp_v - day_v) < 0.35 * day_v
    # the frame's own grey levels are kept for the frame-to-frame stillness test
    assert abs(float(comp.grey.mean()) - float(raw.grey.mean())) < 1e-3
    assert abs(float(comp.mean.mean()) - float(raw.mean.mean())) < 1e-2
