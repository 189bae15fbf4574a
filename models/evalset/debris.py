"""What comes to stay on the road: landslide material, debris piles, fallen trees and flood water.

Each layer is defined on the ground (metres along and across the road), animated from its arrival to
its rest, and knows its label: the time it came to rest and its final screen extent.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from models.evalset.geometry import CANVAS_H, CANVAS_W, bbox_from_mask
from models.evalset.scene import Scene
from models.evalset.textures import Textures, sample, smooth_noise, smoothstep, tint
from models.evalset.traffic import _c, blit


@dataclass
class Label:
    kind: str
    start_s: float
    end_s: float | None
    bbox: list[float] | None


def _patch(
    scene: Scene, a0: float, a1: float, b0: float, b1: float, pad: int = 6
) -> tuple[int, int, int, int]:
    """Canvas rectangle holding the ground region a0..a1 x b0..b1."""
    sel = (scene.ga >= a0) & (scene.ga <= a1) & (scene.gb >= b0) & (scene.gb <= b1)
    ys, xs = np.nonzero(sel)
    if len(xs) == 0:
        raise ValueError("the region is not visible from this camera")
    return (
        max(int(xs.min()) - pad, 0),
        max(int(ys.min()) - pad, 0),
        min(int(xs.max()) + pad + 1, CANVAS_W),
        min(int(ys.max()) + pad + 1, CANVAS_H),
    )


def _unit(field: np.ndarray) -> np.ndarray:
    return (field - field.mean()) / (field.std() + 1e-6)


class Deposit:
    """A pile of material (landslide or dumped debris) with soft irregular edges and some boulders.

    ``mode`` "slide": it flows in from the slope side (b < 0) over ``motion_s``; "grow": it spreads from
    its middle (tipped or collapsed in place). It may be cleared (fades out over a few seconds) at ``end``.
    """

    def __init__(
        self,
        rng: np.random.Generator,
        tex: Textures,
        scene: Scene,
        *,
        a_c: float,
        length: float,
        b_from: float,
        b_to: float,
        t_begin: float,
        motion_s: float,
        mode: str,
        material: str,
        rgb: tuple[float, float, float],
        boulders: int,
        end: float | None = None,
        clear_s: float = 4.0,
    ) -> None:
        self.scene = scene
        self.t_begin = t_begin
        self.motion_s = motion_s
        self.mode = mode
        self.end = end
        self.clear_s = clear_s
        self.b_from, self.b_to = b_from, b_to
        x0, y0, x1, y1 = _patch(scene, a_c - length, a_c + length, b_from - 1.0, b_to + 1.0)
        self.box = (x0, y0, x1, y1)
        ga = scene.ga[y0:y1, x0:x1]
        gb = scene.gb[y0:y1, x0:x1]
        self.gb = gb
        noise = smooth_noise(rng, 48, 1.6)
        v = (gb - b_from) / (b_to - b_from)  # 0 at the source side, 1 at the far toe
        n1 = sample(noise, ga * 6 + 11, gb * 6)
        n2 = sample(noise, ga * 2.5, gb * 2.5 + 31)
        n3 = sample(noise, ga * 1.1 + 40, gb * 1.1 + 5)
        size = min(length, b_to - b_from)
        # lobes and bays along the outline: noise scaled to unit spread, so every pile gets them
        rough = size * (0.12 * _unit(n3) + 0.04 * _unit(n1))
        if mode == "slide":
            half = length / 2 * (0.65 + 0.35 * np.clip(v, 0, 1)) * (0.8 + 0.4 * n2)
            lateral = 1 - np.abs(ga - a_c) / np.maximum(half, 0.3)
            toe = b_to - (b_to - b_from) * 0.12 * n1 - gb
            top = gb - b_from
            shape = np.minimum(np.minimum(lateral * half, toe), top) + rough
        else:
            rb = (b_to - b_from) / 2
            r = np.sqrt(((ga - a_c) / (length / 2)) ** 2 + ((gb - (b_from + rb)) / rb) ** 2)
            shape = (1 - r) * min(length / 2, rb) + rough
        self.alpha = smoothstep(0.0, 0.45, shape).astype(np.float32)
        self.depth = (np.maximum(shape, 0) / max(float(shape.max()), 1e-3)).astype(np.float32)
        base = tex.get(material)
        t1 = sample(base, ga * 55, gb * 55)
        mud = sample(tex.gravel, ga * 20 + 7, gb * 20)
        col = tint(t1, rgb, 1.1) * (0.6 + 0.5 * mud[..., None])
        muddy = smoothstep(0.4, 0.7, n3)[..., None]
        col = col * (1 - 0.5 * muddy) + np.float32([0.3, 0.25, 0.19]) * 0.5 * muddy
        col *= (0.7 + 0.5 * n2)[..., None]
        # darker, damper rims and a lighter crest give the pile some body
        col *= (0.8 + 0.3 * smoothstep(0.0, 1.2, shape))[..., None]
        self.rgb = col.astype(np.float32)
        self._boulders(rng, boulders, ga, gb, a_c, length)
        self.final = np.dstack([self.rgb, self.alpha]).astype(np.float32)
        if mode == "slide":
            sx0, sy0 = scene.layout.to_screen(a_c, b_from) if scene.layout else (0.0, 0.0)
            sx1, sy1 = scene.layout.to_screen(a_c, b_to) if scene.layout else (0.0, 10.0)
            self.flow = (sx1 - sx0, sy1 - sy0)
        else:
            self.flow = (0.0, 0.0)

    def _boulders(
        self, rng: np.random.Generator, n: int, ga: np.ndarray, gb: np.ndarray, a_c: float, length: float
    ) -> None:
        ys, xs = np.nonzero(self.alpha > 0.7)
        if len(xs) == 0:
            return
        for _ in range(n):
            k = int(rng.integers(0, len(xs)))
            x, y = int(xs[k]), int(ys[k])
            ppm = self.scene.layout.scale(float(ga[y, x])) if self.scene.layout else 20.0
            r = max(1.5, float(rng.uniform(0.2, 0.6)) * ppm)
            grey = float(rng.uniform(0.3, 0.6))
            c = np.array([grey * rng.uniform(0.9, 1.1), grey, grey * rng.uniform(0.85, 1.0)], np.float32)
            axes = (int(r), max(1, int(r * rng.uniform(0.6, 0.9))))
            ang = float(rng.uniform(0, 180))
            cv2.ellipse(
                self.rgb, (x, y), axes, ang, 0, 360, tuple(float(v) * 0.55 for v in c), -1, cv2.LINE_AA
            )
            hi = (x - max(1, int(r * 0.2)), y - max(1, int(r * 0.25)))
            cv2.ellipse(
                self.rgb,
                hi,
                (max(1, int(r * 0.7)), max(1, int(axes[1] * 0.6))),
                ang,
                0,
                360,
                tuple(float(v) for v in c),
                -1,
                cv2.LINE_AA,
            )
            cv2.ellipse(self.alpha, (x, y), axes, ang, 0, 360, 1.0, -1, cv2.LINE_AA)

    @property
    def rest_s(self) -> float:
        return self.t_begin + self.motion_s

    def label(self, kind: str) -> Label:
        x0, y0, _, _ = self.box
        end = self.end if self.end is None else round(self.end, 2)
        return Label(kind, round(self.rest_s, 2), end, bbox_from_mask(self.alpha, x0, y0))

    def draw(self, img: np.ndarray, t: float) -> None:
        if t < self.t_begin or (self.end is not None and t >= self.end):
            return
        x0, y0, _, _ = self.box
        layer = self.final
        p = (t - self.t_begin) / self.motion_s
        if p < 1.0:
            e = 1 - (1 - p) ** 2
            if self.mode == "slide":
                front = self.b_from + (self.b_to - self.b_from + 1.0) * e
                reveal = smoothstep(front + 0.01, front - 0.8, self.gb)
                dx, dy = -self.flow[0] * (1 - e) * 0.5, -self.flow[1] * (1 - e) * 0.5
                m = np.float32([[1, 0, dx], [0, 1, dy]])
                rgb = cv2.warpAffine(
                    self.rgb, m, (layer.shape[1], layer.shape[0]), borderMode=cv2.BORDER_REFLECT
                )
                layer = np.dstack([rgb, self.alpha * reveal])
            else:
                # deepest (middle) part first, the rims last
                layer = self.final.copy()
                layer[..., 3] = self.alpha * smoothstep(1 - e - 0.02, 1 - e + 0.1, self.depth)
        if self.end is not None and t > self.end - self.clear_s:
            k = (self.end - t) / self.clear_s
            layer = layer.copy()
            layer[..., 3] *= k
        blit(img, layer, x0, y0)


class Flood:
    """Water rising over the road: the lowest ground floods first, the level then holds (and may recede)."""

    def __init__(
        self,
        rng: np.random.Generator,
        scene: Scene,
        *,
        a_c: float,
        length: float,
        t_begin: float,
        rise_s: float,
        look: str,
        end: float | None = None,
        recede_s: float = 15.0,
        colour: tuple[float, float, float] | None = None,
        opacity: float = 0.9,
    ) -> None:
        self.fixed_colour = colour
        self.opacity = opacity
        layout = scene.layout
        w = layout.width_m if layout is not None else 6.0
        b_lo, b_hi = (-0.6, w + 0.6) if layout is not None else (a_c * 0 + 0, 0)
        if layout is None:
            raise ValueError("flood needs a synthetic layout; use RealFlood for real footage")
        x0, y0, x1, y1 = _patch(scene, a_c - length, a_c + length, b_lo, b_hi)
        self.box = (x0, y0, x1, y1)
        ga = scene.ga[y0:y1, x0:x1]
        gb = scene.gb[y0:y1, x0:x1]
        self._setup(
            rng,
            ga,
            gb,
            a_c,
            length,
            (b_lo + b_hi) / 2,
            (b_hi - b_lo) / 2,
            t_begin,
            rise_s,
            look,
            end,
            recede_s,
        )

    def _setup(
        self,
        rng: np.random.Generator,
        ga: np.ndarray,
        gb: np.ndarray,
        a_c: float,
        length: float,
        b_c: float,
        b_half: float,
        t_begin: float,
        rise_s: float,
        look: str,
        end: float | None,
        recede_s: float,
    ) -> None:
        noise = smooth_noise(rng, 48, 2.0)
        bowl = ((ga - a_c) / (length / 2)) ** 2 + 0.35 * ((gb - b_c) / b_half) ** 2
        bumps = 0.55 * (sample(noise, ga * 3, gb * 3) - 0.5) + 0.25 * (
            sample(noise, ga * 9 + 17, gb * 9) - 0.5
        )
        self.height = (bowl + bumps).astype(np.float32)
        self.tone = (0.85 + 0.3 * sample(noise, ga * 0.8 + 5, gb * 0.8 + 29)).astype(np.float32)
        self.level_final = 1.0
        self.t_begin, self.rise_s, self.end, self.recede_s = t_begin, rise_s, end, recede_s
        self.ga, self.gb = ga, gb
        if look == "muddy":
            c = np.array(rng.uniform([0.42, 0.33, 0.2], [0.55, 0.45, 0.3]), np.float32)
        else:  # reflecting a pale sky
            c = np.array(rng.uniform([0.55, 0.62, 0.7], [0.7, 0.76, 0.82]), np.float32)
        fixed = getattr(self, "fixed_colour", None)
        if fixed is not None:  # the split's own colour, drawn by the catalog
            c = np.asarray(fixed, np.float32)
        self.colour = c
        self.opacity = float(getattr(self, "opacity", 0.9))
        self.ripple_k = float(rng.uniform(2.5, 5.0))
        self.ripple_dir = float(rng.uniform(0, np.pi))
        self._standing: np.ndarray | None = None
        self._sin: list[np.ndarray] | None = None

    def alpha_at(self, t: float) -> np.ndarray:
        if t < self.t_begin:
            level = -1.0
        else:
            level = self.level_final * min(1.0, (t - self.t_begin) / self.rise_s) ** 0.7 * 1.05
        if self.end is not None and t > self.end - self.recede_s:
            level = min(level, self.level_final * max(0.0, (self.end - t) / self.recede_s))
        return (smoothstep(0.0, 0.3, level - self.height) * self.opacity).astype(np.float32)

    @property
    def stand_s(self) -> float:
        return self.t_begin + self.rise_s

    def label(self) -> Label:
        x0, y0, _, _ = self.box
        final = smoothstep(0.0, 0.3, self.level_final * 1.05 - self.height)
        return Label(
            "flooding",
            round(self.stand_s, 2),
            None if self.end is None else round(self.end, 2),
            bbox_from_mask(final * 0.9, x0, y0),  # the water's extent, however transparent it is
        )

    def draw(self, img: np.ndarray, t: float) -> None:
        if t < self.t_begin or (self.end is not None and t >= self.end):
            return
        standing = t >= self.stand_s and (self.end is None or t <= self.end - self.recede_s)
        if standing and self._standing is not None:
            a = self._standing
        else:
            a = self.alpha_at(t)
            if standing:
                self._standing = a
        if not a.any():
            return
        x0, y0, x1, y1 = self.box
        if self._sin is None:
            c, s = np.cos(self.ripple_dir), np.sin(self.ripple_dir)
            phase = (self.ga * c + self.gb * s) * self.ripple_k
            phase2 = phase * 2.3 + self.ga * 1.7
            self._sin = [
                np.sin(phase).astype(np.float32),
                np.cos(phase).astype(np.float32),
                np.sin(phase2).astype(np.float32),
                np.cos(phase2).astype(np.float32),
            ]
        s1, c1, s2, c2 = self._sin
        w1, w2 = 2.2 * t, -1.3 * t
        # sin(p - w t) expanded, so no per-pixel sine per frame
        ripple = 0.035 * (s1 * np.cos(w1) - c1 * np.sin(w1)) + 0.02 * (s2 * np.cos(w2) - c2 * np.sin(w2))
        region = img[y0:y1, x0:x1]
        keep = 1 - a
        for ch in range(3):
            region[..., ch] = region[..., ch] * keep + (self.colour[ch] * a) * (self.tone + ripple)


class RealFlood(Flood):
    """Flood water on real footage, placed by canvas pixels (no ground model there)."""

    def __init__(
        self,
        rng: np.random.Generator,
        scene: Scene,
        *,
        box: tuple[int, int, int, int],
        t_begin: float,
        rise_s: float,
        look: str,
        end: float | None = None,
    ) -> None:
        x0, y0, x1, y1 = box
        self.box = box
        ga = scene.ga[y0:y1, x0:x1]
        gb = scene.gb[y0:y1, x0:x1]
        road = scene.road[y0:y1, x0:x1]
        a_c, b_c = float(ga.mean()), float(gb.mean())
        self._setup(
            rng,
            ga,
            gb,
            a_c,
            0.7 * float(ga.max() - ga.min()),  # stays clear of the box's edges
            b_c,
            0.7 * float(gb.max() - gb.min()) / 2,
            t_begin,
            rise_s,
            look,
            end,
            15.0,
        )
        self.height = np.where(road, self.height, 9.0).astype(np.float32)


class FallenTree:
    """A roadside tree that falls across the road in about 1.5 s and lies there (may be cleared)."""

    def __init__(
        self,
        rng: np.random.Generator,
        tex: Textures,
        scene: Scene,
        *,
        a_c: float,
        cover: float,
        t_begin: float,
        from_far_side: bool,
        end: float | None = None,
    ) -> None:
        layout = scene.layout
        assert layout is not None
        w = layout.width_m
        self.t_begin, self.fall_s, self.end = t_begin, float(rng.uniform(1.2, 2.0)), end
        base_b = w + 0.8 if from_far_side else -0.8
        tip_b = w - cover * w - 0.3 if from_far_side else cover * w + 0.3
        self.base = np.array(layout.to_screen(a_c, base_b), np.float32)
        self.tip = np.array(layout.to_screen(a_c, tip_b), np.float32)
        ppm = layout.scale(a_c)
        height_m = abs(tip_b - base_b)
        sh = max(8, int(height_m * ppm))
        sw = max(6, int(rng.uniform(0.6, 0.9) * height_m * ppm))
        spr = np.zeros((sh, sw, 4), np.float32)
        trunk = max(2, int(0.35 * ppm))
        bark = np.array([0.32, 0.24, 0.16], np.float32) * rng.uniform(0.8, 1.2)
        cv2.rectangle(
            spr, (sw // 2 - trunk // 2, int(sh * 0.3)), (sw // 2 + trunk // 2, sh - 1), _c(bark), -1
        )
        yy, xx = np.mgrid[0:sh, 0:sw].astype(np.float32)
        crown_h = sh * 0.6
        n = cv2.resize(
            rng.standard_normal((5, 4)).astype(np.float32), (sw, sh), interpolation=cv2.INTER_CUBIC
        )
        r = np.sqrt(((xx - sw / 2) / (sw / 2)) ** 2 + ((yy - crown_h / 2) / (crown_h / 2)) ** 2)
        crown = smoothstep(0.0, 0.15, 1 - r + 0.15 * n)
        leaf = tint(
            sample(tex.grass, xx * 1.5, yy * 1.5),
            tuple(rng.uniform([0.12, 0.2, 0.06], [0.22, 0.32, 0.12])),
            1.2,
        )
        spr[..., :3] = spr[..., :3] * (1 - crown[..., None]) + leaf * crown[..., None]
        spr[..., 3] = np.maximum(spr[..., 3], crown)
        self.sprite = spr
        self.box = (0, 0, CANVAS_W, CANVAS_H)
        self._final: tuple[np.ndarray, int, int] | None = None
        self._standing = self._warp(0.0)

    def _warp(self, theta: float) -> tuple[np.ndarray, int, int]:
        sh, sw = self.sprite.shape[:2]
        up = np.array([0.0, -float(sh)], np.float32)
        tipv = up * np.cos(theta) + (self.tip - self.base) * np.sin(theta)
        ln = float(np.linalg.norm(tipv))
        perp = (
            np.array([-tipv[1], tipv[0]], np.float32) / ln
            if ln > 0.3 * sh
            else np.array([1.0, 0.0], np.float32)
        )
        if perp[0] < 0:
            perp = -perp
        # sprite (x, y): x across the tree, y from crown top (0) to base (sh)
        src = np.float32([[sw / 2, sh], [sw / 2, 0], [sw, sh]])
        dst = np.float32([self.base, self.base + tipv, self.base + perp * sw / 2])
        m = cv2.getAffineTransform(src, dst)
        pts = np.array([[0, 0], [sw, 0], [0, sh], [sw, sh]], np.float32)
        warped_pts = pts @ m[:, :2].T + m[:, 2]
        x0, y0 = np.floor(warped_pts.min(axis=0)).astype(int) - 2
        x1, y1 = np.ceil(warped_pts.max(axis=0)).astype(int) + 2
        m[:, 2] -= (x0, y0)
        out = cv2.warpAffine(self.sprite, m, (int(x1 - x0), int(y1 - y0)), flags=cv2.INTER_LINEAR)
        return out, int(x0), int(y0)

    def final(self) -> tuple[np.ndarray, int, int]:
        if self._final is None:
            self._final = self._warp(np.pi / 2)
        return self._final

    def label(self) -> Label:
        out, x0, y0 = self.final()
        return Label(
            "road_blockage",
            round(self.t_begin + self.fall_s, 2),
            None if self.end is None else round(self.end, 2),
            bbox_from_mask(out[..., 3], x0, y0),
        )

    def draw(self, img: np.ndarray, t: float) -> None:
        if self.end is not None and t >= self.end:
            return
        if t < self.t_begin:
            layer, x0, y0 = self._standing
        elif t < self.t_begin + self.fall_s:
            p = (t - self.t_begin) / self.fall_s
            layer, x0, y0 = self._warp(float(np.pi / 2 * p * p))
        else:
            layer, x0, y0 = self.final()
        blit(img, layer, x0, y0)
