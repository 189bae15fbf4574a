"""How much of the view something close to the lens covers: measures for ``camera_occluded``.

Two kinds of cover, both judged per 16 x 16 block against the learned reference:

* flat: a block that had texture and now has none (tape, a bag, paint, a flat board);
* anything else: a block whose pattern no longer correlates with the reference's (a leafy branch, a
  cloth, a dark textured object, a light one) and that has not changed since the previous frame.

A cover is one large connected patch of such blocks while the rest of the view still matches its
reference; a turned, blurred or shaking camera changes the whole view (the rest does not match), and
traffic moves (its blocks change from frame to frame). Light changes keep the pattern, and the pattern
is compared after removing each block's mean and contrast, so dusk and clouds keep it matching.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Block size (px at the analysis size) of the occlusion measures: coarse enough to be cheap and to
#: hold a pattern worth correlating.
OCC_BLOCK = 16
#: A block "has texture" when its grey standard deviation is at least this (sensor and compression
#: noise stay under it).
TEXTURE_STD = 4.0
#: A textured block matches its reference when the zero-mean normalised correlation of their patterns
#: is at least MATCH_NCC, and no longer does under DIFFER_NCC (between: undecided, neither).
MATCH_NCC = 0.5
DIFFER_NCC = 0.25
#: A block that had no texture differs when it now has this many times the reference's deviation plus
#: NEW_TEXTURE_PLUS (a textured cover over sky or a plain wall).
NEW_TEXTURE_X = 2.0
NEW_TEXTURE_PLUS = 6.0
#: A block is still when its mean absolute change since the previous frame is under this (grey levels):
#: a cover rests on the lens; traffic and a shaking camera do not hold still.
STILL_GREY = 6.0
#: The rest of the view still matches when at least this share of its textured blocks match: otherwise
#: the whole view changed (turned, blurred, shaken) and it is not a cover.
REST_MATCH = 0.6


@dataclass(slots=True)
class Occlusion:
    """Shares of the view (0..1) covered flat, and covered by a still patch that no longer matches."""

    flat: float
    patch: float


def _block_mean(a: np.ndarray) -> np.ndarray:
    """Mean of every OCC_BLOCK x OCC_BLOCK block (the frame cut to whole blocks)."""
    h, w = a.shape
    hh, ww = h // OCC_BLOCK, w // OCC_BLOCK
    return cv2.resize(a[: hh * OCC_BLOCK, : ww * OCC_BLOCK], (ww, hh), interpolation=cv2.INTER_AREA)


def measure_occlusion(grey: np.ndarray, prev: np.ndarray | None, ref: np.ndarray) -> Occlusion:
    """Flat cover share, and the share of the largest still non-matching patch when the rest matches."""
    cur = grey.astype(np.float32)
    rf = ref.astype(np.float32)
    m_cur, m_ref = _block_mean(cur), _block_mean(rf)
    s_cur = np.sqrt(np.maximum(0.0, _block_mean(cur * cur) - m_cur * m_cur))
    s_ref = np.sqrt(np.maximum(0.0, _block_mean(rf * rf) - m_ref * m_ref))
    flat = (s_cur < 3.0) & (s_ref > 2.0 * s_cur + 2.0)
    flat_share = float(flat.mean())
    if prev is None or prev.shape != grey.shape:
        return Occlusion(flat_share, 0.0)
    # zero-mean normalised correlation of each block's pattern with the reference's
    ncc = (_block_mean(cur * rf) - m_cur * m_ref) / ((s_cur + 1e-3) * (s_ref + 1e-3))
    textured_ref = s_ref >= TEXTURE_STD
    both = textured_ref & (s_cur >= TEXTURE_STD)
    matches = both & (ncc >= MATCH_NCC)
    differs = (textured_ref & ((s_cur < TEXTURE_STD) | (ncc < DIFFER_NCC))) | \
              (~textured_ref & (s_cur >= NEW_TEXTURE_X * s_ref + NEW_TEXTURE_PLUS))
    still = _block_mean(cv2.absdiff(cur, prev.astype(np.float32))) < STILL_GREY
    covered = (differs | flat) & still
    n, labels, stats, _ = cv2.connectedComponentsWithStats(covered.astype(np.uint8), connectivity=8)
    if n <= 1:
        return Occlusion(flat_share, 0.0)
    biggest = 1 + int(np.argmax(stats[1:, cv2.CC_STAT_AREA]))
    patch = labels == biggest
    rest = ~patch & textured_ref
    if not rest.any() or float(matches[rest].mean()) < REST_MATCH:
        return Occlusion(flat_share, 0.0)
    return Occlusion(flat_share, float(patch.mean()))
