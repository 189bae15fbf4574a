"""Evidence pictures: the frame with the regions outlined and the finding boxed, as JPEG.

A dispatcher decides in a second whether to send someone, so the picture must show where the road
is and what the detector saw, not just the raw frame.
"""

from __future__ import annotations

import cv2
import numpy as np

from gridwatch.config import Roi

_ROI_COLOURS = {"road": (200, 200, 0), "slope": (0, 160, 255), "mask": (128, 128, 128)}


def draw_snapshot(image: np.ndarray, rois: tuple[Roi, ...] | list[Roi],
                  bbox: tuple[float, float, float, float] | None, label: str | None = None,
                  quality: int = 85) -> bytes:
    """JPEG bytes of ``image`` (BGR) with ROI outlines and ``bbox`` (0..1 coordinates) drawn."""
    out = image.copy()
    h, w = out.shape[:2]
    thick = max(1, round(w / 320))
    for roi in rois:
        pts = np.array([[round(x * (w - 1)), round(y * (h - 1))] for x, y in roi.polygon], np.int32)
        cv2.polylines(out, [pts], True, _ROI_COLOURS.get(roi.name, (255, 255, 255)), thick)
    if bbox is not None:
        x0, y0, x1, y1 = bbox
        p0 = (round(x0 * (w - 1)), round(y0 * (h - 1)))
        p1 = (round(x1 * (w - 1)), round(y1 * (h - 1)))
        cv2.rectangle(out, p0, p1, (0, 0, 255), thick + 1)
    if label:
        scale = 0.4 * w / 320
        cv2.putText(out, label, (4, max(12, round(14 * w / 320))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (0, 0, 0), thick + 2, cv2.LINE_AA)
        cv2.putText(out, label, (4, max(12, round(14 * w / 320))), cv2.FONT_HERSHEY_SIMPLEX, scale,
                    (255, 255, 255), thick, cv2.LINE_AA)
    ok, buf = cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()
