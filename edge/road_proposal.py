"""The carriageway proposed from the video itself, for a camera that has no road ROI.

Where traffic moves is where the road is: every analysed frame, the pixels that changed since the
previous one are grouped into blobs; blobs of a moving thing's size (not a change of the whole view:
light, shake) are accumulated per block. The blocks that traffic crossed again and again seed the road,
which then grows over neighbouring blocks whose learned surface (colour and texture of the reference)
looks like the seeds' (the lane no car happened to take). The result is one polygon in 0..1 frame
coordinates, reported (``analyze``'s ``road_proposal`` line, the heartbeat) and used as the road.

Pure measurement: no decision about obstructions is taken here.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.detectors_blocks import BLOCK, block_mean

#: A pixel moved when it changed by this many grey levels since the previous analysed frame (after the
#: global light change is taken out)...
MOTION_MIN_GREY = 18.0
#: ...and by this many times the frame's median change (compression noise, sensor noise).
MOTION_NOISE_X = 5.0
#: A frame where more than this share of the view changed at once is a light change or a shaking
#: camera, not traffic: it adds nothing.
MAX_CHANGED_FRAC = 0.25
#: A moving thing covers at least this many analysis pixels (a walking person far away at 320 px)...
MIN_BLOB_PX = 20
#: ...and at most this share of the view (a lorry close to the camera; more is a global change).
MAX_BLOB_FRAC = 0.15
#: Least blob sightings before any road is proposed: a handful of passages say little about a road.
MIN_SIGHTINGS = 6
#: A block seeds the road when traffic crossed it in at least this share of the busiest block's count
#: (and at least twice): occasional motion (a bird, a leaf, a person on a verge) is not a road.
HOT_FRAC = 0.2
HOT_MIN = 1.0
#: A block's surface matches the road's when its colour (Lab) and texture are within this many robust
#: spreads (1.4826 * MAD) of the seed blocks', and no further than SURFACE_MIN_TOL in absolute units.
SURFACE_TOL = 3.0
SURFACE_MIN_TOL = 6.0
#: How many blocks the road may grow from its seeds over matching surface (a lane no one drove).
GROW_BLOCKS = 40
#: Blocks kept from the seeds' components: those holding at least this share of all seed blocks (a
#: footpath crossed by a few people, apart from the road, is dropped).
KEEP_COMPONENT_FRAC = 0.15
#: Polygon simplification, as a share of the contour's perimeter (a few vertices, not a staircase).
SIMPLIFY_FRAC = 0.01


class RoadProposer:
    """Accumulates where moving blobs go; proposes the road from that and the learned surface."""

    def __init__(self, shape: tuple[int, int]) -> None:
        h, w = shape
        self.shape = shape
        self.gy, self.gx = h // BLOCK, w // BLOCK
        self.heat = np.zeros((self.gy, self.gx), np.float32)
        self.sightings = 0
        self._prev: np.ndarray | None = None

    def observe(self, grey: np.ndarray, still: np.ndarray | None = None) -> None:
        """Add one analysed frame (grey, float32 or uint8, at the analysis size).

        ``still``: blocks (gy x gx bool) not to count now (things standing on the road: an arriving
        obstruction is not traffic).
        """
        g = grey.astype(np.float32)
        prev, self._prev = self._prev, g
        if prev is None or prev.shape != g.shape:
            return
        ratio = float(g.mean()) / max(1.0, float(prev.mean()))
        diff = np.abs(g - prev * ratio)
        # the noise level from every other pixel of every other row: the same median, a quarter the work
        thr = max(MOTION_MIN_GREY, MOTION_NOISE_X * float(np.median(diff[::2, ::2])))
        changed = (diff > thr).astype(np.uint8)
        if changed.mean() > MAX_CHANGED_FRAC:
            return
        moved = cv2.morphologyEx(changed, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        n, labels, stats, _ = cv2.connectedComponentsWithStats(moved, connectivity=8)
        if n <= 1:
            return
        area = stats[1:, cv2.CC_STAT_AREA]
        ok = (area >= MIN_BLOB_PX) & (area <= MAX_BLOB_FRAC * g.size)
        if not ok.any():
            return
        keep = np.zeros(n, bool)
        keep[1:] = ok
        blobs = keep[labels].astype(np.float32)
        cover = block_mean(blobs) > 0.1
        if still is not None:
            cover &= ~still
        self.heat += cover
        self.sightings += int(ok.sum())

    def propose_mask(self, ref_bgr: np.ndarray) -> np.ndarray | None:
        """The proposed road as blocks (gy x gx bool), or None while too little traffic was seen."""
        if self.sightings < MIN_SIGHTINGS or not self.heat.any():
            return None
        hot = self.heat >= max(HOT_MIN, HOT_FRAC * float(self.heat.max()))
        if hot.sum() < 3:
            return None
        hot = _main_components(hot)
        surface = _surface_features(ref_bgr)[: self.gy, : self.gx]
        seed = surface[hot]
        centre = np.median(seed, axis=0)
        spread = 1.4826 * np.median(np.abs(seed - centre), axis=0)
        tol = np.maximum(SURFACE_TOL * spread, SURFACE_MIN_TOL)
        alike = (np.abs(surface - centre) <= tol).all(axis=-1)
        road = hot.copy()
        kernel = np.ones((3, 3), np.uint8)
        for _ in range(GROW_BLOCKS):
            grown = (cv2.dilate(road.astype(np.uint8), kernel) > 0) & alike
            grown |= road
            if (grown == road).all():
                break
            road = grown
        road = cv2.morphologyEx(road.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
        return _fill_holes(_main_components(road))

    def propose(self, ref_bgr: np.ndarray) -> list[tuple[float, float]] | None:
        """The proposed road as a polygon in 0..1 frame coordinates, or None (too little traffic)."""
        mask = self.propose_mask(ref_bgr)
        return None if mask is None else mask_polygon(mask, self.shape)


def _surface_features(bgr: np.ndarray) -> np.ndarray:
    """Per block: mean L, a, b (0..255 scale) and grey texture (std), gy x gx x 4."""
    img = np.clip(bgr, 0, 255).astype(np.uint8)
    lab = cv2.cvtColor(img, cv2.COLOR_BGR2LAB).astype(np.float32)
    grey = lab[..., 0]
    mean = block_mean(lab)
    sq = block_mean(grey * grey)
    tex = np.sqrt(np.maximum(0.0, sq - mean[..., 0] ** 2))
    return np.dstack([mean, tex[..., None]])


def _main_components(mask: np.ndarray) -> np.ndarray:
    """The connected parts of ``mask`` that hold at least KEEP_COMPONENT_FRAC of its blocks."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return mask.astype(bool)
    total = float(stats[1:, cv2.CC_STAT_AREA].sum())
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, cv2.CC_STAT_AREA] >= KEEP_COMPONENT_FRAC * total
    return keep[labels]


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Blocks enclosed by the road are road (a car that stood in a lane, a manhole)."""
    m = mask.astype(np.uint8)
    pad = np.pad(m, 1)
    flood = pad.copy()
    cv2.floodFill(flood, None, (0, 0), 1)
    holes = flood[1:-1, 1:-1] == 0
    return mask.astype(bool) | holes


def mask_polygon(mask: np.ndarray, shape: tuple[int, int]) -> list[tuple[float, float]] | None:
    """The outline of the largest part of a block mask, simplified, in 0..1 frame coordinates."""
    h, w = shape
    up = cv2.resize(mask.astype(np.uint8), (mask.shape[1] * BLOCK, mask.shape[0] * BLOCK),
                    interpolation=cv2.INTER_NEAREST)
    contours, _ = cv2.findContours(up, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    if not contours:
        return None
    c = max(contours, key=cv2.contourArea)
    approx = cv2.approxPolyDP(c, SIMPLIFY_FRAC * cv2.arcLength(c, True), True).reshape(-1, 2)
    if len(approx) < 3:
        return None
    # a road reaching the last block row or column reaches the frame's edge (the blocks stop short of it)
    xs = np.where(approx[:, 0] >= mask.shape[1] * BLOCK - 1, w, approx[:, 0])
    ys = np.where(approx[:, 1] >= mask.shape[0] * BLOCK - 1, h, approx[:, 1])
    return [(round(float(x) / w, 4), round(float(y) / h, 4)) for x, y in zip(xs, ys, strict=True)]
