"""Grey textures to paint with: photographed (scikit-image's gravel, grass, brick) or procedural.

Using textured surfaces instead of flat colours gives the detectors the fine structure of roads,
verges and rubble, so that a "texture appeared" cue cannot be satisfied by flat paint alone. The
photographs belong to the sealed test split (and the legacy set); the dev split, and anything trained
on it, uses the procedural family, made from noise only (see ``splits``).
"""

from __future__ import annotations

import cv2
import numpy as np
import skimage.data


class Textures:
    """Grey textures in 0..1 (mean about 0.5), loaded once per process and passed to whoever paints.

    ``source`` "photographed" (default) loads scikit-image's photographs; "procedural-N" synthesises
    stones, grass blades and brick courses from noise of family N (no photograph involved).
    """

    def __init__(self, source: str = "photographed") -> None:
        self.source = source
        if source == "photographed":
            self.gravel = _normalise(skimage.data.gravel())
            self.grass = _normalise(skimage.data.grass())
            self.brick = _normalise(skimage.data.brick())
            return
        if not source.startswith("procedural-"):
            raise ValueError(f"unknown texture source {source!r}")
        family = int(source.split("-", 1)[1])
        rng = np.random.default_rng([family, 7919])
        self.gravel = _normalise(procedural_gravel(rng))
        self.grass = _normalise(procedural_grass(rng))
        self.brick = _normalise(procedural_brick(rng))

    def get(self, name: str) -> np.ndarray:
        return {"gravel": self.gravel, "grass": self.grass, "brick": self.brick}[name]


def procedural_gravel(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Stones of many sizes, each shaded like a lit pebble, over fine grit: noise only."""
    img = np.zeros((size, size), np.float32)
    grit = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 0.8)
    n = int(size * size / 90)
    xs, ys = rng.uniform(0, size, n), rng.uniform(0, size, n)
    rs = np.clip(rng.lognormal(1.3, 0.45, n), 1.5, 14)
    tones = rng.uniform(-1.0, 1.0, n)
    for x, y, r, tone in zip(xs, ys, rs, tones, strict=True):
        ax = (int(r), int(r * rng.uniform(0.6, 1.0)))
        cv2.ellipse(img, (int(x), int(y)), ax, float(rng.uniform(0, 180)), 0, 360, float(tone), -1)
        # a highlight up-left and a shadow down-right, like daylight on a stone
        cv2.circle(img, (int(x - r * 0.3), int(y - r * 0.3)), max(1, int(r * 0.35)), float(tone + 0.6), -1)
        cv2.line(img, (int(x - r * 0.6), int(y + r * 0.8)), (int(x + r * 0.8), int(y + r * 0.5)),
                 float(tone - 0.8), 1)
    img = cv2.GaussianBlur(img, (0, 0), 0.9) + 0.35 * grit
    return img


def procedural_grass(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Blades: short, mostly upright strokes of random brightness over darker, clumpy ground."""
    img = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 6) * 0.6
    n = int(size * size / 25)
    xs, ys = rng.uniform(0, size, n), rng.uniform(0, size, n)
    lens = rng.uniform(4, 14, n)
    angs = rng.normal(-np.pi / 2, 0.35, n)
    tones = rng.uniform(-0.6, 1.2, n)
    for x, y, ln, a, tone in zip(xs, ys, lens, angs, tones, strict=True):
        x1, y1 = x + ln * np.cos(a), y + ln * np.sin(a)
        cv2.line(img, (int(x), int(y)), (int(x1), int(y1)), float(tone), 1, cv2.LINE_AA)
    return cv2.GaussianBlur(img, (0, 0), 0.6)


def procedural_brick(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Courses of bricks with dark mortar, each brick its own tone and grain."""
    img = np.full((size, size), -1.2, np.float32)  # mortar
    course = int(rng.integers(18, 26))
    length = int(course * rng.uniform(2.2, 2.8))
    mortar = 2
    for row, y in enumerate(range(0, size, course)):
        off = (length // 2) * (row % 2)
        for x in range(-off, size, length):
            tone = float(rng.normal(0.3, 0.35))
            cv2.rectangle(img, (x + mortar, y + mortar), (x + length - mortar, y + course - mortar), tone, -1)
    grain = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 1.2)
    stains = cv2.GaussianBlur(rng.standard_normal((size, size)).astype(np.float32), (0, 0), 12)
    return img + 0.3 * grain + 2.0 * stains


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
