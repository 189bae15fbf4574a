"""The camera itself: its view of the canvas, shake, sensor noise, and the faults a camera can have.

Faults are applied after the scene is rendered, so a fault clip is its clean twin up to the fault's
start (same seed, same frames) and differs only where and when the label says.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import cv2
import numpy as np

from models.evalset.geometry import MARGIN, OUT_H, OUT_W


@dataclass
class Fault:
    """One camera fault: ``kind`` from ``start`` (fully in effect) to ``end`` (None = to the end)."""

    kind: str
    start: float
    end: float | None = None
    params: dict[str, float | str] = field(default_factory=dict)

    def active(self, t: float) -> bool:
        return t >= self.start and (self.end is None or t < self.end)


class Camera:
    """Turns a lit canvas into the uint8 RGB picture the camera would deliver, or None when offline."""

    def __init__(
        self,
        rng: np.random.Generator,
        faults: list[Fault],
        shake_px: float,
        noise: float,
        seed: int,
        out_size: tuple[int, int] = (OUT_W, OUT_H),
    ) -> None:
        self.faults = faults
        self.shake_px = shake_px
        self.noise = noise
        self.seed = seed
        self.out_w, self.out_h = out_size
        bank_rng = np.random.default_rng([seed, 7])
        self.bank = [
            bank_rng.standard_normal((self.out_h, self.out_w, 3)).astype(np.float32) for _ in range(8)
        ]
        self.shake_phase = rng.uniform(0, 2 * np.pi, 4)
        self.held: np.ndarray | None = None
        self.occluder: np.ndarray | None = None
        for f in faults:
            if f.kind == "camera_occluded":
                self.occluder = occluder(rng, f.params, self.out_w, self.out_h)

    def _matrix(self, t: float) -> np.ndarray:
        dx = dy = 0.0
        if self.shake_px > 0:
            p = self.shake_phase
            # wind sway: a few incommensurate sines plus per-frame jitter, 1-3 px peak
            dx = self.shake_px * (
                0.6 * np.sin(2 * np.pi * 0.7 * t + p[0]) + 0.4 * np.sin(2 * np.pi * 1.9 * t + p[1])
            )
            dy = self.shake_px * (
                0.5 * np.sin(2 * np.pi * 0.9 * t + p[2]) + 0.3 * np.sin(2 * np.pi * 2.3 * t + p[3])
            )
        angle = 0.0
        for f in self.faults:
            if (
                f.kind == "camera_moved"
                and t >= f.start - float(f.params.get("ramp", 0.0))
                and (f.end is None or t < f.end)
            ):
                ramp = float(f.params.get("ramp", 0.0))
                k = 1.0 if ramp <= 0 else float(np.clip((t - (f.start - ramp)) / ramp, 0, 1))
                dx += k * float(f.params.get("dx", 0.0))
                dy += k * float(f.params.get("dy", 0.0))
                angle += k * float(f.params.get("angle", 0.0))
        cx, cy = MARGIN + self.out_w / 2, MARGIN + self.out_h / 2
        m = cv2.getRotationMatrix2D((cx, cy), angle, 1.0)
        m[0, 2] += dx - MARGIN
        m[1, 2] += dy - MARGIN
        return m

    def frame(self, canvas: np.ndarray, t: float, i: int) -> np.ndarray | None:
        active = [f for f in self.faults if f.active(t)]
        kinds = {f.kind for f in active}
        if "camera_offline" in kinds:
            return None
        if "camera_frozen" in kinds and self.held is not None:
            return self.held
        m = self._matrix(t)
        if m[0, 0] == 1.0 and m[0, 1] == 0.0 and m[0, 2] == -MARGIN and m[1, 2] == -MARGIN:
            out = canvas[MARGIN : MARGIN + self.out_h, MARGIN : MARGIN + self.out_w]
        else:
            out = cv2.warpAffine(
                canvas, m, (self.out_w, self.out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT
            )
        gain = 1.0
        noise = self.noise
        for f in self.faults:
            # blur and exposure faults may ramp in before their labelled start (a lens fogging up)
            ramp = float(f.params.get("ramp", 0.0))
            if not (t >= f.start - ramp and (f.end is None or t < f.end)):
                continue
            k = 1.0 if ramp <= 0 else float(np.clip((t - (f.start - ramp)) / ramp, 0, 1))
            if f.kind == "camera_blurred":
                sigma = float(f.params.get("sigma", 5.0)) * k
                if sigma > 0.3:
                    out = cv2.GaussianBlur(out, (0, 0), sigma)
                fog = float(f.params.get("fog", 0.0)) * k
                if fog > 0:
                    out = out * (1 - fog) + fog * np.float32(f.params.get("fog_level", 0.75))
            elif f.kind == "camera_too_dark":
                g = float(f.params.get("gain", 0.04))
                gain *= 1 + (g - 1) * k
                noise += 0.012 * k
            elif f.kind == "camera_overexposed":
                # exposure control stuck wide open: at least enough gain to push the median to white
                want = float(f.params.get("gain", 6.0))
                if not f.params.get("glare"):
                    median = float(np.median(out[::8, ::8]))
                    want = max(want, 1.05 / max(median, 0.02))
                gain *= 1 + (want - 1) * k
                glare = float(f.params.get("glare", 0.0)) * k
                if glare > 0:
                    out = out + glare * _glare(
                        self.out_w, self.out_h, float(f.params.get("gx", 0.6)), float(f.params.get("gy", 0.3))
                    )
            elif f.kind == "camera_occluded" and self.occluder is not None:
                sway = float(f.params.get("sway", 3.0))
                ox = round(sway * np.sin(2 * np.pi * 0.4 * t))
                occ = np.roll(self.occluder, ox, axis=1) if ox else self.occluder
                a = occ[..., 3:4] * k
                out = out * (1 - a) + occ[..., :3] * a
        if noise > 0:
            pick = np.random.default_rng([self.seed, i, 11]).integers(0, len(self.bank))
            out = cv2.scaleAdd(self.bank[pick], noise / gain, np.ascontiguousarray(out))
        img = cv2.convertScaleAbs(cv2.max(np.ascontiguousarray(out), 0.0), alpha=255.0 * gain)
        if "camera_frozen" in kinds:
            self.held = img
        return img


def _glare(w: int, h: int, gx: float, gy: float) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    d = np.sqrt((xx / w - gx) ** 2 + ((yy / h - gy) * h / w) ** 2)
    g = np.exp(-d * 3.0) * 1.6 + np.exp(-d * 12) * 2.0
    return np.repeat(g[..., None], 3, axis=2) * np.array([1.0, 0.97, 0.9], np.float32)


#: Textured near-lens materials: (mean RGB when dark, mean RGB when light). Which split may use which is
#: in ``splits`` (dev: bark, cloth; test: foliage, sacking).
TEXTURED = {
    "bark": ((0.16, 0.12, 0.09), (0.55, 0.5, 0.42)),
    "cloth": ((0.1, 0.1, 0.14), (0.7, 0.68, 0.64)),
    "foliage": ((0.07, 0.13, 0.05), (0.45, 0.55, 0.3)),
    "sacking": ((0.2, 0.16, 0.1), (0.68, 0.6, 0.45)),
}


def _material(rng: np.random.Generator, what: str, w: int, h: int) -> np.ndarray:
    """Grey detail (mean 0, about unit spread) of a textured occluder, made from noise only."""
    if what == "bark":  # long vertical furrows
        f = cv2.resize(rng.standard_normal((h // 24, w // 2)).astype(np.float32), (w, h))
    elif what == "cloth":  # a fine weave
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        p = float(rng.uniform(5, 9))
        f = np.sin(xx * 2 * np.pi / p) * np.sin(yy * 2 * np.pi / p) + 0.5 * rng.standard_normal((h, w))
    elif what == "foliage":  # overlapping leaves, each its own tone
        f = np.zeros((h, w), np.float32)
        for _ in range(int(w * h / 900)):
            ax = (int(rng.uniform(8, 30)), int(rng.uniform(4, 12)))
            cv2.ellipse(f, (int(rng.uniform(0, w)), int(rng.uniform(0, h))), ax, float(rng.uniform(0, 180)),
                        0, 360, float(rng.normal()), -1)
    else:  # sacking: coarse diagonal weave with slubs
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        f = np.sin((xx + yy) * 2 * np.pi / 11) + np.sin((xx - yy) * 2 * np.pi / 13)
        f = f + cv2.resize(rng.standard_normal((h // 16, w // 16)).astype(np.float32), (w, h))
    f = cv2.GaussianBlur(f.astype(np.float32), (0, 0), 1.5)  # close to the lens: somewhat out of focus
    return (f - f.mean()) / (f.std() + 1e-6)


def occluder(rng: np.random.Generator, params: dict[str, float | str], w: int, h: int) -> np.ndarray:
    """An out-of-focus near-field object covering part of the view.

    Flat kinds (leaf, plastic bag, hand, paper) are one colour with soft shading; textured kinds
    (``TEXTURED``) carry visible detail and come dark or light (``tone``).
    """
    cover = float(params.get("cover", 0.6))
    what = str(params.get("what", "leaf"))
    if what in TEXTURED:
        return _textured_occluder(rng, params, w, h)
    colour = {
        "leaf": (0.1, 0.16, 0.05),
        "bag": (0.06, 0.06, 0.07),
        "hand": (0.35, 0.22, 0.16),
        "paper": (0.55, 0.52, 0.45),
    }[what]
    side = str(params.get("side", "left"))
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    u, v = xx / w, yy / h
    n = cv2.resize(rng.standard_normal((6, 10)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
    # a lobe entering from one side or corner, sized so that about ``cover`` of the view is hidden
    if side == "left":
        field_ = u + 0.08 * n
    elif side == "right":
        field_ = (1 - u) + 0.08 * n
    elif side == "top":
        field_ = v + 0.08 * n
    elif side == "bottom":
        field_ = 1 - v + 0.08 * n
    else:  # corner blob
        field_ = np.sqrt(u**2 + v**2) / np.sqrt(2) + 0.06 * n
    thr = float(np.quantile(field_, cover))
    mask = (field_ < thr).astype(np.float32)
    mask = cv2.GaussianBlur(mask, (0, 0), 9)
    rgb = np.ones((h, w, 3), np.float32) * np.asarray(colour, np.float32)
    shade = cv2.GaussianBlur(rng.uniform(0.7, 1.3, (h // 16, w // 16)).astype(np.float32), (0, 0), 1)
    rgb *= cv2.resize(shade, (w, h))[..., None]
    return np.dstack([rgb, mask]).astype(np.float32)


def _textured_occluder(
    rng: np.random.Generator, params: dict[str, float | str], w: int, h: int
) -> np.ndarray:
    what = str(params["what"])
    dark, light = TEXTURED[what]
    colour = np.asarray(light if params.get("tone") == "light" else dark, np.float32)
    flat = occluder(rng, {**params, "what": "paper"}, w, h)  # the same lobe shape as a flat cover
    detail = _material(rng, what, w, h)
    contrast = float(params.get("contrast", 0.35))
    rgb = colour[None, None, :] * np.clip(1.0 + contrast * detail, 0.2, 2.5)[..., None]
    return np.dstack([rgb, flat[..., 3]]).astype(np.float32)
