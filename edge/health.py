"""Camera health figures and fault conditions: is this picture still worth looking at?

Each figure is cheap (a few array reductions at the analysis size) and judged against thresholds with
hysteresis, and the learned ones (sharpness, normal frame-to-frame change) against THIS camera's own
history, because a village camera at night and a town camera at noon differ far more than a healthy
camera and a blurred one.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from dataclasses import dataclass

import cv2
import numpy as np

from edge.events import Hysteresis
from edge.occlusion import OcclusionMeter
from gridwatch.wire import EventKind

#: Faults that ruin the picture: while one stands, obstruction detection and learning pause.
#: In priority order: when several conditions hold, the first one explains the others (a dark picture
#: also stops changing and loses its edges), so only it is raised: one fault, one event.
PICTURE_FAULTS = (EventKind.CAMERA_TOO_DARK, EventKind.CAMERA_OVEREXPOSED, EventKind.CAMERA_FROZEN,
                  EventKind.CAMERA_OCCLUDED, EventKind.CAMERA_MOVED, EventKind.CAMERA_BLURRED)


@dataclass(slots=True)
class HealthFigures:
    """What one frame says about the camera (all at the analysis size)."""

    brightness: float  # mean grey 0..255
    darkness: float  # max(mean, p99/4): low only when even the brightest parts are dark (a night
    # street with lamps is not "too dark"; a camera whose IR failed is)
    exposure: float  # 0..1: share of clipped-white pixels, or how washed out the mean is
    changed: float  # share of pixels changed by > 1 grey level, most of the last two frame pairs
    sharpness: float  # mean gradient / mean brightness (gain invariant)
    sharp_ratio: float | None  # sharpness / this camera's learned sharpness
    shift_px: float | None  # global shift against the reference (phase correlation)
    structure: float | None  # correlation of gradient maps with the reference (1 = same view)
    occluded: float | None  # share of the view covered by a flat region that was textured
    light_ratio: float = 1.0  # brightness / the reference's brightness (a dusk in progress is far from 1)
    covered: float | None = None  # share of the view under one still patch that no longer matches
    # the reference while the rest does (a textured, dark or light cover)


def grey_of(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)


def sharpness_of(grey: np.ndarray) -> float:
    """Mean gradient magnitude over mean brightness: falls with defocus and fog, not with dusk."""
    g = grey.astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return float(np.mean(np.abs(gx) + np.abs(gy)) / (float(g.mean()) + 8.0))


def gradient_map(grey: np.ndarray, size: tuple[int, int] = (80, 60)) -> np.ndarray:
    """Edge strength at a coarse grid: what the view's structure looks like, ignoring light level."""
    g = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return np.sqrt(gx * gx + gy * gy)


def _edge_map(g: np.ndarray) -> np.ndarray:
    gx = cv2.Sobel(g, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(g, cv2.CV_32F, 0, 1, ksize=3)
    return cv2.GaussianBlur(np.sqrt(gx * gx + gy * gy), (0, 0), 1.0)


#: Cells of the coarse structure grid where the picture is this many times brighter than the reference
#: (plus LIT_PLUS grey levels) are lit by a lamp or headlights: their edges are the light's, not the
#: view's, so the structure of the view is compared without them (and their neighbours)...
LIT_X = 1.5
LIT_PLUS = 25.0
#: ...unless they cover more than this share of the view (then the structure says nothing).
LIT_MAX_SHARE = 0.5


def _structure(grey: np.ndarray, ref_grey: np.ndarray, ref_grad: np.ndarray) -> float:
    """Correlation of the view's edge structure with the reference's, leaving out added light."""
    grad = gradient_map(grey)
    size = (grad.shape[1], grad.shape[0])
    cur = cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)
    ref = cv2.resize(ref_grey.astype(np.float32), size, interpolation=cv2.INTER_AREA)
    lit = (cur > LIT_X * ref + LIT_PLUS).astype(np.uint8)
    if not lit.any():
        return _ncc(grad, ref_grad)
    lit_near = cv2.dilate(lit, np.ones((5, 5), np.uint8)) > 0
    if lit_near.mean() > LIT_MAX_SHARE:
        return 1.0
    keep = ~lit_near
    return _ncc(grad[keep], ref_grad[keep])


def _ncc(a: np.ndarray, b: np.ndarray) -> float:
    a = a - a.mean()
    b = b - b.mean()
    den = float(np.sqrt((a * a).sum() * (b * b).sum()))
    return float((a * b).sum() / den) if den > 1e-6 else 0.0


#: Share of the view a still, non-matching patch must cover to be a cover (and to stop being one).
PATCH_ON, PATCH_OFF = 0.4, 0.25


class HealthMonitor:
    """Per-camera health: measures figures and turns them into fault conditions with hysteresis."""

    def __init__(self, width: int, fps: float = 1.0) -> None:
        scale = width / 320.0
        self._scale = scale
        self._fps = fps
        self.dark = Hysteresis(on_at=7.0, off_at=10.0, high_is_bad=False)
        self.over = Hysteresis(on_at=0.6, off_at=0.4)
        self.frozen = Hysteresis(on_at=0.0005, off_at=0.002, high_is_bad=False)
        self.blurred = Hysteresis(on_at=0.45, off_at=0.65, high_is_bad=False)
        self.moved_shift = Hysteresis(on_at=5.0 * scale, off_at=2.5 * scale)
        self.moved_struct = Hysteresis(on_at=0.2, off_at=0.4, high_is_bad=False)
        self.occluded = Hysteresis(on_at=0.3, off_at=0.15)
        # a still patch that no longer matches: "a large part of the view" is 40 % (a lorry close to
        # the camera fills a third; it is not a cover)
        self.covered = Hysteresis(on_at=PATCH_ON, off_at=PATCH_OFF)
        self._occlusion = OcclusionMeter()
        self._frames = 0
        self._before: np.ndarray | None = None
        self._prev: np.ndarray | None = None
        self._normal_changed: list[float] = []
        self._recent: deque[float] = deque(maxlen=2)
        self._window: np.ndarray | None = None
        self._small: deque[np.ndarray] = deque(maxlen=3)
        self._normal_before: deque[float] = deque(maxlen=60)
        self.last_before: float | None = None
        self.last_align: tuple[float, float] | None = None

    def measure(self, grey: np.ndarray) -> HealthFigures:
        """Figures of this frame that need no reference (brightness, exposure, change, sharpness)."""
        g = grey.astype(np.float32)
        brightness = float(g.mean())
        small = cv2.resize(grey, (80, 60), interpolation=cv2.INTER_AREA)
        p99 = float(np.percentile(small, 99))
        darkness = max(brightness, p99 / 4.0)
        exposure = max(float(np.mean(small >= 240)), (brightness - 150.0) / 100.0)
        if self._prev is None or self._prev.shape != grey.shape:
            changed = 1.0
        else:
            diff = cv2.absdiff(grey, self._prev)
            self._recent.append(float(np.count_nonzero(diff > 1)) / diff.size)
            # the most of the last two pairs: a live camera's sensor noise and traffic move some pixels
            # by more than one grey level every second; a frozen source, re-encoded, does not (codec
            # rounding moves a few pixels by one level at most)
            changed = max(self._recent)
        self._before = self._prev
        self._prev = grey.copy()
        sharp = sharpness_of(grey)
        return HealthFigures(brightness, darkness, exposure, changed, sharp, None, None, None, None)

    def measure_with_reference(self, f: HealthFigures, grey: np.ndarray, ref_grey: np.ndarray,
                               ref_sharpness: float, ref_grad: np.ndarray, ref_level: float = 0.0,
                               t: float | None = None, ref_serial: int = 0) -> HealthFigures:
        """Add the figures judged against the learned reference (sharpness, alignment, occlusion).
        ``t``: the frame's stream time (s; default: frames counted at the analysis rate) and
        ``ref_serial``: which reference this is, so a cover can be told by when its blocks arrived."""
        g = grey.astype(np.float32)
        light_ratio = (f.brightness + 4.0) / (ref_level + 4.0) if ref_level > 0 else 1.0
        exposure = f.exposure
        if f.brightness >= 110:
            # several times brighter than this camera's learned picture in this light: washed out
            # (gain or iris gone wrong), even if few pixels clip
            exposure = max(exposure, min(1.0, (light_ratio - 1.0) / 4.0))
        self._frames += 1
        when = t if t is not None else self._frames / self._fps
        occ = self._occlusion.measure(grey, self._before, ref_grey, when, ref_serial)
        return dataclasses.replace(
            f, exposure=exposure, sharp_ratio=f.sharpness / ref_sharpness if ref_sharpness > 1e-6 else None,
            shift_px=self._shift(g, ref_grey), structure=_structure(grey, ref_grey, ref_grad),
            occluded=occ.flat, light_ratio=light_ratio, covered=occ.patch)

    def note_healthy(self, figures: HealthFigures) -> None:
        """Remember this camera's normal frame-to-frame change (to know whether 'frozen' is visible)."""
        self._normal_changed.append(figures.changed)
        if self.last_before is not None and figures.shift_px is not None:
            self._normal_before.append(self.last_before)
        if len(self._normal_changed) > 120:
            self._normal_changed = self._normal_changed[-120:]

    def conditions(self, f: HealthFigures) -> dict[EventKind, tuple[bool, float]]:
        """Each fault's condition now (after hysteresis) and a 0..1 score."""
        out: dict[EventKind, tuple[bool, float]] = {}
        out[EventKind.CAMERA_TOO_DARK] = (self.dark.update(f.darkness), 1.0 - min(1.0, f.darkness / 20))
        out[EventKind.CAMERA_OVEREXPOSED] = (self.over.update(f.exposure), min(1.0, max(0.0, f.exposure)))
        normal = float(np.median(self._normal_changed)) if len(self._normal_changed) >= 5 else 0.0
        # A camera whose picture never changes (a static, noiseless scene) cannot be told from a frozen
        # one; judge frozen only where this camera normally shows change between analysed frames.
        frozen = self.frozen.update(f.changed) if normal >= 0.002 else self.frozen.update(1.0)
        out[EventKind.CAMERA_FROZEN] = (frozen, 1.0 - min(1.0, f.changed / 0.002))
        if f.sharp_ratio is not None:
            out[EventKind.CAMERA_BLURRED] = (self.blurred.update(f.sharp_ratio),
                                             min(1.0, max(0.0, 1.0 - f.sharp_ratio)))
        if f.occluded is not None:
            flat = self.occluded.update(f.occluded)
            patch = self.covered.update(f.covered or 0.0)
            out[EventKind.CAMERA_OCCLUDED] = (flat or patch, min(1.0, max(f.occluded, f.covered or 0.0)))
        if f.shift_px is not None and f.structure is not None:
            by_shift = self.moved_shift.update(f.shift_px)
            # the edge structure alone also changes when lamps and headlights take over at dusk: judge
            # a turned camera by it only while the light is close to the reference's
            steady = 1 / 1.3 < f.light_ratio < 1.3
            by_struct = self.moved_struct.update(f.structure if steady else 1.0)
            score = min(1.0, max(f.shift_px / (20 * self._scale), 1.0 - f.structure))
            out[EventKind.CAMERA_MOVED] = (by_shift or by_struct, score)
        return out

    def _shift(self, g: np.ndarray, ref: np.ndarray) -> float:
        """Global shift of the view against the reference, in analysis pixels; 0 unless it explains.

        Phase correlation finds the best translation; moving headlights or a large vehicle can make
        a spurious peak, so a shift only counts when undoing it makes the edge maps line up clearly
        better than they do unshifted.
        """
        self._small.append(cv2.resize(g, (160, 120), interpolation=cv2.INTER_AREA))
        # the median of the last frames: passing vehicles and headlights do not shift the view
        a = np.median(np.stack(self._small), axis=0).astype(np.float32) if len(self._small) >= 3 \
            else self._small[-1]
        b = cv2.resize(ref, (160, 120), interpolation=cv2.INTER_AREA)
        if self._window is None:
            self._window = cv2.createHanningWindow((160, 120), cv2.CV_32F)
        (dx, dy), _resp = cv2.phaseCorrelate(b, a, self._window)
        shift = float(np.hypot(dx, dy))
        ea, eb = _edge_map(a), _edge_map(b)
        m = 12  # ignore the border that the shift fills in
        before = _ncc(ea[m:-m, m:-m], eb[m:-m, m:-m])
        self.last_before = before
        if shift < 1.0:
            return shift * g.shape[1] / 160.0
        back = cv2.warpAffine(ea, np.array([[1, 0, -dx], [0, 1, -dy]], np.float32), (160, 120),
                              borderMode=cv2.BORDER_REPLICATE)
        after = _ncc(back[m:-m, m:-m], eb[m:-m, m:-m])
        self.last_align = (before, after)
        # the view no longer lines up as well as it normally does for this camera, and the shift
        # (a turn adds some rotation, so only roughly) makes it line up better
        normal = float(np.median(self._normal_before)) if len(self._normal_before) >= 5 else 1.0
        dropped = before <= normal - 0.2 and after >= before + 0.05
        explains = (after >= before + 0.15 and after >= 0.5) or (after >= before + 0.08 and after >= 0.9)
        if not (dropped or explains):
            return 0.0
        return shift * g.shape[1] / 160.0
