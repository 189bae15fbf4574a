"""Regions of interest as pixel masks at the analysis size.

ROIs come from the town config (or ``--roi``) in 0..1 frame coordinates, so one config serves any
stream resolution. ``road`` is the carriageway, ``slope`` the hillside beside it, ``mask`` parts of
the view to ignore. No road ROI means the whole frame is road.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from gridwatch.config import Roi


@dataclass(frozen=True, slots=True)
class RegionMasks:
    """Boolean masks (H x W) of one camera's regions."""

    road: np.ndarray
    slope: np.ndarray | None
    ignore: np.ndarray
    rois: tuple[Roi, ...]
    whole_frame: bool  # no road ROI was given: the whole frame is road

    @property
    def shape(self) -> tuple[int, int]:
        return self.road.shape[0], self.road.shape[1]


def polygon_mask(polygon: list[tuple[float, float]], shape: tuple[int, int]) -> np.ndarray:
    h, w = shape
    pts = np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in polygon], dtype=np.int32)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [pts], 1)
    return mask.astype(bool)


def build_masks(rois: list[Roi], shape: tuple[int, int]) -> RegionMasks:
    """Masks for these ROIs; several ROIs of one name are united."""
    h, w = shape
    road = np.zeros((h, w), bool)
    slope = np.zeros((h, w), bool)
    ignore = np.zeros((h, w), bool)
    has_road = has_slope = False
    for roi in rois:
        m = polygon_mask(list(roi.polygon), shape)
        name = roi.name.lower()
        if name == "road":
            road |= m
            has_road = True
        elif name == "slope":
            slope |= m
            has_slope = True
        elif name in ("mask", "ignore", "parking"):  # parked vehicles are no obstruction
            ignore |= m
    if not has_road:
        road[:] = True
    road &= ~ignore
    slope &= ~ignore
    return RegionMasks(road=road, slope=slope if has_slope else None, ignore=ignore,
                       rois=tuple(rois), whole_frame=not has_road)
