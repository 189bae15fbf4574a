"""Light and weather: day, dusk, night, a sunset drift, drifting cloud shadows, lamps, headlights, rain.

These are exactly the global and moving changes a detector must not mistake for something on the road,
so they are applied to every clip that carries their tag, positives as well as negatives.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.evalset.geometry import CANVAS_H, CANVAS_W
from models.evalset.textures import sample, smooth_noise, smoothstep
from models.evalset.traffic import Light

PERIODS = {
    # ambient gain, colour of the light, sky darkening, lamps on
    "day": (1.0, (1.0, 1.0, 1.0), 1.0, 0.0),
    "dusk": (0.42, (1.0, 0.8, 0.62), 0.75, 1.0),
    "night": (0.24, (0.75, 0.85, 1.1), 0.3, 1.0),  # a camera's gain at night, not the eye's
}


def _blob(size: int = 64, sx: float = 1.0, sy: float = 1.0) -> np.ndarray:
    yy, xx = np.mgrid[-1 : 1 : size * 1j, -1 : 1 : size * 1j].astype(np.float32)
    return np.exp(-((xx / sx) ** 2 + (yy / sy) ** 2) * 4.0).astype(np.float32)


@dataclass
class LightingSpec:
    period: str = "day"
    sunset: bool = False
    clouds: float = 0.0  # shadow strength 0..0.5
    cloud_speed: float = 15.0  # canvas px per second
    cloud_soft: float = 0.25  # width of the shadow edge's ramp in noise units (larger = softer)
    rain: float = 0.0  # 0..1


class Lighting:
    """Per-frame light: ambient gain and tint, cloud shadows, lamps, and additive glows of lights."""

    def __init__(
        self,
        spec: LightingSpec,
        rng: np.random.Generator,
        duration: float,
        sky: np.ndarray,
        lamps: list[tuple[float, float]],
        lamp_ppm: float,
    ) -> None:
        self.spec = spec
        self.duration = duration
        self.sky2 = sky.astype(np.float32)
        self._mix: np.ndarray | None = None
        self.gain_jitter = float(rng.uniform(0.9, 1.08))
        self.noise = smooth_noise(rng, 48, 2.5)
        self.cloud_dir = float(rng.uniform(-0.4, 0.4))
        self.cloud_sign = 1.0 if rng.random() < 0.5 else -1.0
        self.blob = _blob()
        self.beam = _blob(64, 1.0, 0.45)
        self.lamp_glow = np.zeros((CANVAS_H, CANVAS_W, 3), np.float32)
        warm = np.array(rng.choice([[1.0, 0.78, 0.45], [0.95, 0.95, 1.0]]), np.float32)
        for hx, hy in lamps:
            self._add(self.lamp_glow, hx, hy, max(4.0, lamp_ppm * 0.8), warm * 1.2)
            self._add(self.lamp_glow, hx, hy + 7 * lamp_ppm, lamp_ppm * 6, warm * 0.35, squash=0.45)
        self.lamp_switch = float(rng.uniform(0.45, 0.7)) * duration  # sunset: lamps come on here

    def _state(self, t: float) -> tuple[float, np.ndarray, float, float]:
        if self.spec.sunset:
            p = t / self.duration
            g = float(np.interp(p, [0, 0.5, 1.0], [1.0, 0.55, 0.16]))
            tint = np.array(
                [
                    np.interp(p, [0, 0.5, 1], [1.0, 1.0, 0.8]),
                    np.interp(p, [0, 0.5, 1], [1.0, 0.82, 0.85]),
                    np.interp(p, [0, 0.5, 1], [1.0, 0.62, 1.05]),
                ],
                np.float32,
            )
            skyk = float(np.interp(p, [0, 1], [1.0, 0.4]))
            lamps = float(np.clip((t - self.lamp_switch) / 1.5, 0.0, 1.0))
            return g * self.gain_jitter, tint, skyk, lamps
        g, tint, skyk, lamps = PERIODS[self.spec.period]
        return g * self.gain_jitter, np.asarray(tint, np.float32), skyk, lamps

    def lights_on(self, t: float) -> bool:
        return self._state(t)[0] < 0.6

    def apply(self, img: np.ndarray, t: float, lights: list[Light]) -> np.ndarray:
        gain, tint, skyk, lamps = self._state(t)
        if self.spec.clouds > 0:
            small = self._cloud(t)
            field = cv2.resize(small, (CANVAS_W, CANVAS_H), interpolation=cv2.INTER_LINEAR)
            field = cv2.merge([field * (1 - self.sky2) + self.sky2] * 3)
            cv2.multiply(img, field, dst=img)
        if skyk != 1.0:
            if self.spec.sunset or self._mix is None:
                mix = gain * (1 - self.sky2) + gain * skyk * self.sky2
                self._mix = cv2.merge([mix * float(c) for c in tint])
            cv2.multiply(img, self._mix, dst=img)
        elif tint[0] == tint[1] == tint[2]:
            img *= np.float32(gain * tint[0])
        else:
            cv2.multiply(img, (*tuple(float(gain * c) for c in tint), 0.0), dst=img)
        if self.spec.rain > 0:
            c = 0.12 + 0.2 * self.spec.rain
            cv2.addWeighted(img, 1 - c, img, 0, 0, dst=img)
            cv2.add(img, (*tuple(float(c * 0.55 * gain * v) for v in tint), 0.0), dst=img)
        if lamps > 0:
            cv2.scaleAdd(self.lamp_glow, lamps, img, dst=img)
        if lights:
            for li in lights:
                self._add(img, li.x, li.y, li.radius * 3, np.asarray(li.rgb, np.float32) * 0.9)
                if li.beam is not None:
                    bx, by = li.beam
                    ln = max(abs(bx), abs(by), 4.0)
                    self._add(
                        img,
                        li.x + bx * 0.6,
                        li.y + by * 0.6,
                        ln * 0.7,
                        np.asarray(li.rgb) * 0.35,
                        squash=0.35 if abs(bx) > abs(by) else 1.0,
                        stretch=0.35 if abs(by) >= abs(bx) else 1.0,
                    )
        return img

    def _cloud(self, t: float) -> np.ndarray:
        h, w = CANVAS_H // 8, CANVAS_W // 8
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        shift = self.cloud_sign * self.spec.cloud_speed * t / 8.0
        n = sample(self.noise, (xx + shift) * 0.35, (yy + shift * self.cloud_dir) * 0.35)
        soft = self.spec.cloud_soft
        lo, hi = (0.45, 0.7) if soft == 0.25 else (0.575 - soft / 2, 0.575 + soft / 2)
        return (1.0 - self.spec.clouds * smoothstep(lo, hi, n)).astype(np.float32)

    def _add(
        self,
        img: np.ndarray,
        x: float,
        y: float,
        radius: float,
        rgb: np.ndarray,
        squash: float = 1.0,
        stretch: float = 1.0,
    ) -> None:
        rx = max(2, int(radius * stretch))
        ry = max(2, int(radius * squash))
        x0, y0 = int(x - rx), int(y - ry)
        b = cv2.resize(self.blob, (2 * rx, 2 * ry), interpolation=cv2.INTER_LINEAR)
        H, W = img.shape[:2]
        cx0, cy0, cx1, cy1 = max(x0, 0), max(y0, 0), min(x0 + 2 * rx, W), min(y0 + 2 * ry, H)
        if cx1 <= cx0 or cy1 <= cy0:
            return
        patch = b[cy0 - y0 : cy1 - y0, cx0 - x0 : cx1 - x0, None]
        img[cy0:cy1, cx0:cx1] += patch * np.asarray(rgb, np.float32)


def rain_streaks(img: np.ndarray, rng: np.random.Generator, strength: float, brightness: float) -> None:
    """Falling rain drawn as short bright slanted streaks, different every frame."""
    layer = np.zeros((CANVAS_H, CANVAS_W), np.uint8)
    n = int(250 + 700 * strength)
    xs = rng.uniform(0, CANVAS_W, n)
    ys = rng.uniform(0, CANVAS_H, n)
    ln = rng.uniform(8, 22, n)
    slant = rng.normal(0.18, 0.04)
    val = rng.integers(50, 140, n)
    for x, y, length, v in zip(xs, ys, ln, val, strict=True):
        cv2.line(layer, (int(x), int(y)), (int(x + slant * length), int(y + length)), int(v), 1, cv2.LINE_AA)
    img += (layer.astype(np.float32) * (brightness / 255.0))[..., None]
