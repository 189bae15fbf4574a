"""Measures across the road: how much of its width a thing spans, at block and at pixel level.

The obstruction detector decides *what* stands on the road; these measures say *how much of the
road* it takes, which is what a town's blockage threshold is about. They depend only on the road's
shape (its block mask and pixel mask) and on the current frame's difference from the reference, so
they live apart from the detector's per-block memory.
"""

from __future__ import annotations

import cv2
import numpy as np

from edge.detectors_blocks import BLOCK
from edge.events import BBox
from edge.regions import RegionMasks

#: At pixel level a pixel differs from the reference when its difference is this many times the median
#: difference of the road's pixels in this frame (their noise), and at least PIXEL_DIFF_MIN grey levels.
PIXEL_NOISE_X = 4.0
PIXEL_DIFF_MIN = 8.0
#: ...and never under this many (compression noise), however dark the scene.
PIXEL_DIFF_FLOOR = 3.0


class RoadGeometry:
    """The road of one camera, in blocks (``road``) and pixels (``masks.road``)."""

    def __init__(self, masks: RegionMasks, road: np.ndarray) -> None:
        self.masks = masks
        self.road = road
        self.gy, self.gx = road.shape
        self.runs_across_image = self._is_horizontal()

    def _is_horizontal(self) -> bool:
        """Does the carriageway run left-right in the image (camera looking across the road)?

        Then the road's width is measured vertically; for a road receding from the camera it is
        measured horizontally at the obstruction's row band.
        """
        if self.masks.whole_frame or self.road.sum() < 3:
            return False
        # a band across the picture spans most of its width in most rows; a road receding from the
        # camera narrows with distance (perspective)
        rows = self.road.sum(axis=1)
        r = rows[rows > 0].astype(np.float64)
        return float(np.median(r)) >= 0.7 * self.gx

    def edge_band(self) -> np.ndarray:
        """The road's border blocks (2 deep), not the bottom of the frame (the camera's near side)."""
        r = self.road.astype(np.uint8)
        inner = cv2.erode(r, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
        band = (r > 0) & (inner == 0)
        band[-2:, :] = False
        return band

    def width_share(self, x: int, y: int, w: int, h: int) -> float:
        """Share of the road's width a component with this block box spans."""
        if self.runs_across_image:
            band = self.road[:, x:x + w].any(axis=1)
            span = np.zeros(self.gy, bool)
            span[y:y + h] = True
        else:
            band = self.road[y:y + h].any(axis=0)
            span = np.zeros(self.gx, bool)
            span[x:x + w] = True
        return float((span & band).sum()) / max(1, int(band.sum()))

    def band_blocks(self, x: int, y: int, w: int, h: int) -> int:
        """How many blocks wide the road is where this block box lies."""
        if self.runs_across_image:
            return int(self.road[:, x:x + w].any(axis=1).sum())
        return int(self.road[y:y + h].any(axis=0).sum())

    def _noise(self, diff: np.ndarray) -> float:
        road_px = self.masks.road
        return float(np.median(diff[road_px])) if road_px.any() else 0.0

    def pixel_share(self, pix_diff: np.ndarray, x: int, y: int, w: int, h: int) -> float:
        """Share of the road's width spanned by pixels that differ from the reference (``pix_diff``:
        grey minus light-corrected reference), in and around this block box, finer than the blocks."""
        b = BLOCK
        y0, y1 = max(0, (y - 1) * b), (y + h + 1) * b
        x0, x1 = max(0, (x - 1) * b), (x + w + 1) * b
        road_px = self.masks.road
        diff = np.abs(pix_diff)
        thr = max(PIXEL_DIFF_MIN, PIXEL_NOISE_X * self._noise(diff))
        d8 = np.clip(diff[y0:y1, x0:x1], 0, 255).astype(np.uint8)
        sel = (cv2.medianBlur(d8, 3) > thr) & road_px[y0:y1, x0:x1]
        if not sel.any():
            return 0.0
        if self.runs_across_image:
            span = int(sel.any(axis=1).sum())
            band = int(road_px[:, x0:x1].any(axis=1).sum())
        else:
            span = int(sel.any(axis=0).sum())
            band = int(road_px[y * b:(y + h) * b].any(axis=0).sum())
        return span / max(1, band)

    def pixel_threshold(self, diff: np.ndarray, gain_k: float) -> float:
        """Grey levels a pixel must differ by (``diff``: the absolute difference from the reference):
        over the road's own noise, and over PIXEL_DIFF_MIN scaled by the gain compensation of the block
        features (a dark scene differs by few grey levels)."""
        return max(PIXEL_DIFF_MIN / gain_k, PIXEL_NOISE_X * self._noise(diff), PIXEL_DIFF_FLOOR)

    def verge_reach(self, sel: np.ndarray, pix_diff: np.ndarray, gain_k: float) -> tuple[float, BBox | None]:
        """Share of the road's width covered by differing pixels connected to the verge component
        ``sel`` (blocks), measured across the road where they lie, and the box of those pixels."""
        b = BLOCK
        H, W = self.masks.shape
        comp = np.zeros((H, W), bool)
        up = np.repeat(np.repeat(sel, b, axis=0), b, axis=1)
        comp[: up.shape[0], : up.shape[1]] = up
        road_px = self.masks.road
        # the component and a block around it (its blocks are where it is clearly seen; its rim and the
        # verge's last pixels before the road's edge are not)
        near = cv2.dilate(comp.astype(np.uint8), np.ones((2 * b + 1, 2 * b + 1), np.uint8)) > 0
        if not near[road_px].any():
            return 0.0, None
        diff = np.abs(pix_diff)
        d8 = np.clip(diff, 0, 255).astype(np.uint8)
        differs = (cv2.medianBlur(d8, 3) > self.pixel_threshold(diff, gain_k)) & (road_px | near)
        # hang together across a pixel's gap (a thin band's rim on a compressed picture)
        joined = cv2.dilate(differs.astype(np.uint8), np.ones((3, 3), np.uint8))
        n, labels = cv2.connectedComponents(joined, connectivity=8)
        if n <= 1:
            return 0.0, None
        hit = np.unique(labels[comp & differs])
        hit = hit[hit > 0]
        # only across the road from where it lies: a difference spreading along the road (a wet surface,
        # a lamp's pool) is not this material
        ys_c, xs_c = np.nonzero(comp)
        band_px = np.zeros((H, W), bool)
        if self.runs_across_image:
            band_px[:, max(0, xs_c.min() - b):xs_c.max() + b + 1] = True
        else:
            band_px[max(0, ys_c.min() - b):ys_c.max() + b + 1] = True
        on_road = np.isin(labels, hit) & differs & road_px & band_px
        if on_road.sum() < b:  # a few pixels at the edge are not material on the road
            return 0.0, None
        ys, xs = np.nonzero(on_road)
        if self.runs_across_image:
            span = len(np.unique(ys))
            band = int(road_px[:, xs.min():xs.max() + 1].any(axis=1).sum())
        else:
            span = len(np.unique(xs))
            band = int(road_px[ys.min():ys.max() + 1].any(axis=0).sum())
        box = (round(float(xs.min()) / W, 4), round(float(ys.min()) / H, 4),
               round(float(xs.max() + 1) / W, 4), round(float(ys.max() + 1) / H, 4))
        return span / max(1, band), box
