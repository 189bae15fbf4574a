"""The per-camera model of normal appearance, learned on site without labels.

A new camera first collects a few seconds of frames and takes their per-pixel median (traffic passes,
the road stays). After that the slow reference adapts with a time constant of about a minute, and only
where the pipeline says the picture is healthy and nothing is standing. Several references are kept,
chosen by global brightness, so that the switch to street lamps or night infrared at dusk meets a
reference learned in that light instead of looking like an anomaly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edge.health import gradient_map, sharpness_of

#: Brightness ratio beyond which a frame belongs to another light regime (another reference).
BANK_RATIO = 1.8
MAX_BANKS = 4


@dataclass(slots=True)
class Reference:
    """One learned reference: what the view looks like in one light regime."""

    level: float  # mean grey of the frames it was learned from
    bgr: np.ndarray  # float32 HxWx3
    grey: np.ndarray  # float32 HxW
    grad: np.ndarray  # coarse gradient map (health: has the view moved?)
    sharpness: float
    frames: int
    serial: int = 0  # which reference of this camera it is (1, 2, ...): tells a new one from an old one


class SceneModel:
    """Learns and keeps the references of one camera."""

    def __init__(self, warmup_frames: int, adapt_frames: float) -> None:
        self.warmup_frames = max(3, warmup_frames)
        self.alpha = 1.0 / max(2.0, adapt_frames)
        self.banks: list[Reference] = []
        self._warm: list[np.ndarray] = []
        self._warm_level: float | None = None
        self._made = 0

    @property
    def ready(self) -> bool:
        return bool(self.banks)

    @property
    def learning_new(self) -> bool:
        return bool(self._warm)

    def reference_for(self, brightness: float) -> Reference | None:
        """The bank learned nearest this light level (None before the first warm-up ends)."""
        if not self.banks:
            return None
        return min(self.banks, key=lambda r: abs(np.log((brightness + 4) / (r.level + 4))))

    def relearn(self) -> None:
        """Forget everything (the camera now looks somewhere else)."""
        self.banks.clear()
        self._warm.clear()
        self._warm_level = None

    def learn(self, bgr: np.ndarray, grey: np.ndarray, brightness: float,
              keep: np.ndarray | None = None) -> None:
        """Feed one healthy frame; ``keep`` (HxW bool) marks pixels that must not be learned now."""
        ref = self.reference_for(brightness)
        far = ref is None or abs(np.log((brightness + 4) / (ref.level + 4))) > np.log(BANK_RATIO)
        if far:
            if self._warm and self._warm_level is not None and \
                    abs(np.log((brightness + 4) / (self._warm_level + 4))) > np.log(BANK_RATIO):
                self._warm.clear()  # the light moved on before this regime was learned
            self._warm.append(bgr.copy())
            self._warm_level = brightness
            if len(self._warm) >= self.warmup_frames:
                self._finish_warmup()
            return
        self._warm.clear()
        assert ref is not None
        a = self.alpha
        cur = bgr.astype(np.float32)
        if keep is None:
            ref.bgr += a * (cur - ref.bgr)
        else:
            upd = (~keep).astype(np.float32)[..., None] * a
            ref.bgr += upd * (cur - ref.bgr)
        ref.grey = _grey_f(ref.bgr)
        ref.level += a * (brightness - ref.level)
        ref.frames += 1
        if ref.frames % 10 == 0:
            g8 = np.clip(ref.grey, 0, 255).astype(np.uint8)
            ref.grad = gradient_map(g8)
            ref.sharpness = sharpness_of(g8)

    def _finish_warmup(self) -> None:
        stack = np.stack(self._warm)
        med = np.median(stack, axis=0).astype(np.float32)
        grey = _grey_f(med)
        g8 = np.clip(grey, 0, 255).astype(np.uint8)
        sharp = float(np.median([sharpness_of(_grey_u8(f)) for f in self._warm]))
        level = float(grey.mean())
        self._made += 1
        self.banks.append(Reference(level, med, grey, gradient_map(g8), sharp, len(self._warm), self._made))
        if len(self.banks) > MAX_BANKS:
            self.banks.pop(0)
        self._warm.clear()
        self._warm_level = None


def _grey_f(bgr: np.ndarray) -> np.ndarray:
    b, g, r = bgr[..., 0], bgr[..., 1], bgr[..., 2]
    return (0.114 * b + 0.587 * g + 0.299 * r).astype(np.float32)


def _grey_u8(bgr: np.ndarray) -> np.ndarray:
    return np.clip(_grey_f(bgr.astype(np.float32)), 0, 255).astype(np.uint8)
