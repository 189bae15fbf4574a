"""Real photographed textures (scikit-image's gravel, grass, brick) and smooth noise, ready to paint with.

Using photographed surfaces instead of flat colours gives the detectors the fine structure of real
roads, verges and rubble, so that a "texture appeared" cue cannot be satisfied by flat paint alone.
"""

from __future__ import annotations

import cv2
import numpy as np
import skimage.data


class Textures:
    """Grey textures in 0..1 (mean about 0.5), loaded once per process and passed to whoever paints."""

    def __init__(self) -> None:
        self.gravel = _normalise(skimage.data.gravel())
        self.grass = _normalise(skimage.data.grass())
        self.brick = _normalise(skimage.data.brick())

    def get(self, name: str) -> np.ndarray:
        return {"gravel": self.gravel, "grass": self.grass, "brick": self.brick}[name]


def _normalise(img: np.ndarray) -> np.ndarray:
    f = img.astype(np.float32) / 255.0
    f = (f - f.mean()) / (f.std() + 1e-6)
    return np.clip(0.5 + 0.18 * f, 0.0, 1.0).astype(np.float32)


def sample(tex: np.ndarray, u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Texture looked up at float pixel coordinates, wrapping around (tiles seamlessly enough)."""
    h, w = tex.shape[:2]
    mx = np.mod(u, w).astype(np.float32)
    my = np.mod(v, h).astype(np.float32)
    return cv2.remap(tex, mx, my, cv2.INTER_LINEAR, borderMode=cv2.BORDER_WRAP)


def smooth_noise(rng: np.random.Generator, size: int = 64, blur: float = 2.0) -> np.ndarray:
    """A tileable-ish low-frequency random field in 0..1, to be sampled with ``sample``."""
    f = rng.standard_normal((size, size)).astype(np.float32)
    f = cv2.GaussianBlur(f, (0, 0), blur, borderType=cv2.BORDER_REFLECT)
    f = (f - f.min()) / (f.max() - f.min() + 1e-6)
    return f.astype(np.float32)


def tint(grey: np.ndarray, rgb: tuple[float, float, float], contrast: float = 1.0) -> np.ndarray:
    """Colour a grey texture: mean brightness maps to ``rgb``, detail scaled by ``contrast``."""
    g = 1.0 + contrast * (grey - 0.5) * 2.0
    return (g[..., None] * np.asarray(rgb, np.float32)[None, None, :]).astype(np.float32)


def smoothstep(e0: float, e1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)
