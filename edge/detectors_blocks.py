"""Per-block features of the current frame against the learned reference.

The frame is cut into square blocks (8 px at the default 320 px width). For each block we measure how
its content relates to the reference in ways that survive light changes: zero-mean normalised
cross-correlation (blind to gain and offset, taken as the best of small shifts so a few pixels of
camera shake do not matter), texture and brightness change after removing the global light change,
chroma change after removing the global colour cast (sunset, street lamps), and the block's own colour
and texture. The learned classifier (models/block_classifier.onnx) reads these rows; the same function
builds its training data, so training and run time see identical features.

Gain compensation: a dark scene (night, ~10-20/255) is scaled up, current frame and reference alike,
until the reference has the brightness of a day scene (at most 6x). Ratios and correlations would be
unchanged by that alone, but the small constants that keep them stable on flat blocks (+1 in the NCC
denominator, +1.5 on texture, +4 on brightness) would otherwise swamp the few grey levels a debris
pile differs by at night, so it read as "no change". After compensation a pile at night gives the
features it gives by day, which is what the classifier learned.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

BLOCK = 8
SHIFTS = ((0, 0), (2, 0), (-2, 0), (0, 2), (0, -2))
FEATURE_NAMES = (
    "ncc", "d_bright", "d_texture", "d_texture_vs_bright", "ref_texture", "cur_texture", "d_chroma_r",
    "d_chroma_b", "cur_saturation", "cur_chroma_r", "cur_chroma_b", "d_edges", "cur_bright",
    "global_gain", "ctx_ncc", "ctx_d_bright", "ctx_d_texture", "ctx_cur_texture", "ctx_d_chroma_r",
    "ctx_d_chroma_b",
)
#: Features whose 3x3-block neighbourhood mean is added as context (by index into the first 14).
_CONTEXT = (0, 1, 2, 5, 6, 7)
N_FEATURES = len(FEATURE_NAMES)
#: Dark references are brought up to this mean grey before the features are taken (gain compensation)...
NORM_LEVEL = 90.0
#: ...by at most this factor (beyond it sensor noise would dominate).
MAX_NORM_GAIN = 6.0


@dataclass(slots=True)
class BlockStats:
    """Features (gy x gx x F) and the pieces the detector reuses."""

    features: np.ndarray
    mean: np.ndarray  # block mean grey of the current frame (gy x gx)
    grey: np.ndarray  # the current frame's grey (float32), for frame-to-frame comparison
    gain: float  # global light change current / reference


def block_mean(a: np.ndarray, bs: int = BLOCK) -> np.ndarray:
    """Mean of each bs x bs block (area resampling by an integer factor is exactly that, and fast)."""
    h, w = a.shape[:2]
    hh, ww = h // bs * bs, w // bs * bs
    return cv2.resize(a[:hh, :ww], (ww // bs, hh // bs), interpolation=cv2.INTER_AREA)


def _grey(bgr: np.ndarray) -> np.ndarray:
    return (0.114 * bgr[..., 0] + 0.587 * bgr[..., 1] + 0.299 * bgr[..., 2]).astype(np.float32)


def _edges(g: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return np.abs(gx) + np.abs(gy)


def block_features(cur_bgr: np.ndarray, ref_bgr: np.ndarray, bs: int = BLOCK,
                   compensate: bool = True) -> BlockStats:
    """Features of every block of ``cur_bgr`` (uint8) against ``ref_bgr`` (float32), same size.

    ``compensate`` lifts a dark reference (and the frame) to day brightness first (see the module
    docstring); ``mean`` and ``grey`` of the result stay in the frame's own grey levels.
    """
    cur = cur_bgr.astype(np.float32)
    ref = ref_bgr.astype(np.float32)
    raw_grey = _grey(cur)
    k = norm_gain(float(_grey(ref).mean())) if compensate else 1.0
    if k > 1.0:
        cur, ref = cur * k, ref * k
    gc, gr = _grey(cur), _grey(ref)
    mc, mr = block_mean(gc, bs), block_mean(gr, bs)
    gain = float(np.median((mc + 4.0) / (mr + 4.0)))
    sc = np.sqrt(np.maximum(block_mean(gc * gc, bs) - mc * mc, 0.0))
    sr = np.sqrt(np.maximum(block_mean(gr * gr, bs) - mr * mr, 0.0))
    pad = 2
    grp = cv2.copyMakeBorder(gr, pad, pad, pad, pad, cv2.BORDER_REFLECT)
    h, w = gr.shape
    best = np.full(mc.shape, -1.0, np.float32)
    for dx, dy in SHIFTS:
        rs = grp[pad + dy: pad + dy + h, pad + dx: pad + dx + w]
        mrs = block_mean(rs, bs)
        srs = np.sqrt(np.maximum(block_mean(rs * rs, bs) - mrs * mrs, 0.0))
        cov = block_mean(gc * rs, bs) - mc * mrs
        ncc = cov / (sc * srs + 1.0)  # +1: flat blocks read as "unknown" (about 0), not as noise
        np.maximum(best, ncc, out=best)
    colc = block_mean(cur, bs)
    colr = block_mean(ref, bs)
    chc = colc / (colc.sum(axis=2, keepdims=True) + 3.0)
    chr_ = colr / (colr.sum(axis=2, keepdims=True) + 3.0)
    dch = chc - chr_
    dch -= np.median(dch.reshape(-1, 3), axis=0)
    ec, er = block_mean(_edges(gc), bs), block_mean(_edges(gr), bs)
    d_bright = np.log((mc + 4.0) / (gain * mr + 4.0))
    d_tex = np.log((sc + 1.5) / (gain * sr + 1.5))
    sat = (colc.max(axis=2) - colc.min(axis=2)) / (colc.max(axis=2) + 8.0)
    feats = np.stack([
        best, d_bright, d_tex, d_tex - d_bright, np.log(sr + 1.5), np.log(sc + 1.5),
        dch[..., 2] * 10.0, dch[..., 0] * 10.0, sat,
        (chc[..., 2] - 1 / 3) * 10.0, (chc[..., 0] - 1 / 3) * 10.0,
        np.log((ec + 2.0) / (gain * er + 2.0)), mc / 255.0, np.full(mc.shape, np.log(gain), np.float32),
    ], axis=2).astype(np.float32)
    ctx = [cv2.blur(feats[..., i], (3, 3), borderType=cv2.BORDER_REPLICATE) for i in _CONTEXT]
    feats = np.concatenate([feats, np.stack(ctx, axis=2)], axis=2)
    return BlockStats(features=feats, mean=mc / k, grey=raw_grey, gain=gain)


def norm_gain(ref_level: float) -> float:
    """Factor that brings a dark reference to ``NORM_LEVEL`` (1 for day scenes, at most MAX_NORM_GAIN)."""
    return float(min(MAX_NORM_GAIN, max(1.0, NORM_LEVEL / max(1.0, ref_level))))
