"""Small generated clips for the detection tests: a painted village road with traffic and noise.

Each scenario is a function of time that returns the frame; ``write_clip`` encodes it with PyAV
(H.264) so the tests exercise the real decoding path of ``analyze``. Clips are low resolution and a
minute or less, so the whole set takes seconds to make.
"""

from __future__ import annotations

from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
import skimage.data

W, H = 320, 240
ROAD_Y0, ROAD_Y1 = 120, 200  # the carriageway's rows
ROAD_ROI = "road=0,0.5 1,0.5 1,0.83 0,0.83"
SLOPE_ROI = "slope=0,0.12 1,0.12 1,0.49 0,0.49"


def _tex(img: np.ndarray, h: int, w: int, scale: float) -> np.ndarray:
    t = img.astype(np.float32)
    t = (t - t.mean()) / (t.std() + 1e-6)
    return cv2.resize(t[: int(h / scale), : int(w / scale)], (w, h))


def scene(seed: int = 0) -> np.ndarray:
    """The empty scene: sky, slope (gravel/grass), road with markings, verge."""
    rng = np.random.default_rng(seed)
    img = np.zeros((H, W, 3), np.float32)
    img[:30] = (200, 170, 140)  # sky (BGR)
    grass = _tex(skimage.data.grass(), 90, W, 1.0)
    img[30:ROAD_Y0] = np.array([60, 110, 90], np.float32) * (1 + 0.25 * grass[..., None])
    road_noise = cv2.GaussianBlur(rng.standard_normal((ROAD_Y1 - ROAD_Y0, W)).astype(np.float32), (0, 0), 0.8)
    img[ROAD_Y0:ROAD_Y1] = 95 + 6 * road_noise[..., None]
    img[158:161, ::40][:, :20] = 220
    verge = _tex(skimage.data.grass(), H - ROAD_Y1, W, 1.5)
    img[ROAD_Y1:] = np.array([50, 100, 80], np.float32) * (1 + 0.2 * verge[..., None])
    return img


def debris_patch(h: int, w: int, seed: int = 1) -> np.ndarray:
    g = _tex(skimage.data.gravel(), h, w, 0.7)
    return np.array([70, 100, 130], np.float32) * np.clip(1 + 0.45 * g[..., None], 0.2, 3)


def blob(h: int, w: int, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    m = np.zeros((h, w), np.float32)
    cv2.ellipse(m, (int(cx), int(cy)), (int(rx), int(ry)), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(m, (0, 0), 1.0)


class Clip:
    """A scenario: base scene plus traffic, noise and what happens."""

    def __init__(self, seed: int = 0, traffic: bool = True) -> None:
        self.base = scene(seed)
        self.rng = np.random.default_rng(seed + 100)
        self.traffic = traffic
        self.debris = debris_patch(H, W)

    def car(self, img: np.ndarray, x: float, lane_y: int, colour: tuple[int, int, int]) -> None:
        x0 = int(x)
        cv2.rectangle(img, (x0, lane_y), (x0 + 44, lane_y + 20), colour, -1)
        cv2.rectangle(img, (x0 + 8, lane_y + 3), (x0 + 30, lane_y + 9), (40, 40, 40), -1)

    def cars(self, img: np.ndarray, t: float) -> None:
        if not self.traffic:
            return
        for k, (period, speed, lane, col) in enumerate(((9.0, 60.0, 130, (30, 30, 200)),
                                                         (13.0, -45.0, 168, (220, 220, 220)))):
            phase = (t + 3 * k) % period
            x = -50 + phase * speed if speed > 0 else W + 10 + phase * speed
            if -60 < x < W + 10:
                self.car(img, x, lane, col)

    def frame(self, t: float) -> np.ndarray:
        img = self.base.copy()
        self.cars(img, t)
        return img

    def finish(self, img: np.ndarray) -> np.ndarray:
        img = img + self.rng.standard_normal(img.shape).astype(np.float32) * 2.0
        return np.clip(img, 0, 255).astype(np.uint8)


def write_clip(path: Path, frame_at: Callable[[float], np.ndarray], seconds: float, fps: int = 5) -> Path:
    """Encode frames of ``frame_at(t)`` (BGR uint8) for ``seconds`` as H.264 MP4."""
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=fps)
        st.width, st.height, st.pix_fmt = W, H, "yuv420p"
        st.time_base = Fraction(1, fps)
        st.options = {"crf": "23", "preset": "veryfast", "g": str(fps * 4)}
        for i in range(int(seconds * fps)):
            vf = av.VideoFrame.from_ndarray(frame_at(i / fps), format="bgr24")
            vf.pts = i
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


# --- scenarios ---------------------------------------------------------------------------------------

def clean(seed: int = 0) -> Callable[[float], np.ndarray]:
    c = Clip(seed)
    return lambda t: c.finish(c.frame(t))


def landslide(at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Debris slides from the slope onto the road over 3 s from ``at`` and stays (rest at at+3)."""
    c = Clip(seed)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            k = min(1.0, (t - at) / 3.0)
            cy = 60 + k * 100  # the front moves from the slope down to the road
            m = blob(H, W, 170, (60 + cy) / 2, 70, max(10, (cy - 60) / 2 + 20))
            if k >= 1.0:
                m = np.maximum(m * (np.arange(H)[:, None] > 70), blob(H, W, 170, 150, 75, 42))
            img = img * (1 - m[..., None]) + c.debris * m[..., None]
        return c.finish(img)
    return f


def blockage(at: float, until: float | None = None, seed: int = 0) -> Callable[[float], np.ndarray]:
    """A lorry stops across most of the road at ``at`` (until ``until``)."""
    c = Clip(seed)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at and (until is None or t < until):
            cv2.rectangle(img, (70, 126), (250, 190), (40, 90, 170), -1)
            cv2.rectangle(img, (80, 132), (130, 150), (30, 30, 30), -1)
        return c.finish(img)
    return f


def flooding(at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Muddy water spreads over the road from ``at`` (standing from at+5)."""
    c = Clip(seed)
    ripple_rng = np.random.default_rng(seed + 7)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            k = min(1.0, (t - at) / 5.0)
            m = blob(H, W, 160, 162, 40 + 120 * k, 10 + 30 * k)
            rip = cv2.GaussianBlur(ripple_rng.standard_normal((H, W)).astype(np.float32), (0, 0), 3) * 20
            water = np.array([70, 105, 130], np.float32) + rip[..., None]
            img = img * (1 - 0.9 * m[..., None]) + water * 0.9 * m[..., None]
        return c.finish(img)
    return f


def stopped_car(at: float, stop_s: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """A car drives in, stops for ``stop_s`` seconds, and drives off (no event)."""
    c = Clip(seed, traffic=True)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if at - 3 <= t < at + stop_s + 3:
            if t < at:
                x = 140 - (at - t) * 60
            elif t < at + stop_s:
                x = 140
            else:
                x = 140 + (t - at - stop_s) * 60
            c.car(img, x, 150, (200, 60, 30))
        return c.finish(img)
    return f


def light_change(at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Dusk: light falls to 45 % with a warm cast over 15 s; a cloud shadow drifts across."""
    c = Clip(seed)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            k = min(1.0, (t - at) / 15.0)
            img = img * (1 - 0.55 * k) * np.array([1 - 0.1 * k, 1, 1 + 0.1 * k], np.float32)
            sx = -100 + (t - at) * 8
            sh = blob(H, W, sx, 150, 90, 60)
            sh = cv2.GaussianBlur(sh, (0, 0), 8)
            img = img * (1 - 0.45 * sh[..., None])
        return c.finish(img)
    return f


def fault(kind: str, at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """A camera fault from ``at`` on: frozen, dark, overexposed, blurred, occluded, moved."""
    c = Clip(seed)
    frozen: dict[str, np.ndarray] = {}

    def f(t: float) -> np.ndarray:
        clean_img = c.finish(c.frame(t))
        if t < at:
            return clean_img
        if kind == "frozen":
            return frozen.setdefault("img", clean_img)
        if kind == "dark":
            return (clean_img * 0.06).astype(np.uint8)
        if kind == "overexposed":
            return np.clip(clean_img.astype(np.float32) * 3.0 + 60, 0, 255).astype(np.uint8)
        if kind == "blurred":
            return cv2.GaussianBlur(clean_img, (0, 0), 4.0)
        if kind == "occluded":
            out = clean_img.copy()
            m = blob(H, W, 80, 140, 150, 130)
            return (out * (1 - m[..., None]) + 35 * m[..., None]).astype(np.uint8)
        if kind == "moved":
            mat = np.float32([[1, 0, 40], [0, 1, 25]])
            return cv2.warpAffine(clean_img, mat, (W, H), borderMode=cv2.BORDER_REFLECT)
        raise ValueError(kind)
    return f


def _turf(c: Clip) -> np.ndarray:
    """Slope surface torn off with its soil: olive-brown textured material."""
    g = _tex(skimage.data.grass(), H, W, 0.8)
    return np.array([45, 95, 105], np.float32) * np.clip(1 + 0.4 * g[..., None], 0.3, 3)


def _turf_arriving(at: float, seconds: float, seed: int,
                   mask: Callable[[float], np.ndarray]) -> Callable[[float], np.ndarray]:
    """Turf (``_turf``) over ``mask(k)`` on the road from ``at``, ``k`` going 0 -> 1 over ``seconds``."""
    c = Clip(seed)
    turf = _turf(c)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            m = mask(min(1.0, (t - at) / seconds)) * (np.arange(H)[:, None] >= ROAD_Y0)
            img = img * (1 - m[..., None]) + turf * m[..., None]
        return c.finish(img)
    return f


def landslide_unseen_on_slope(at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Material lands on the road at the slope's edge at ``at`` and spreads across it over 3 s (rest at
    at+3), with nothing to see on the slope itself (it came down behind vegetation, or looks like it)."""

    def mask(k: float) -> np.ndarray:
        bottom = ROAD_Y0 + 12 + k * 50  # the front moves away from the slope, down the road
        return blob(H, W, 170, (ROAD_Y0 + bottom) / 2, 30 + 40 * k, (bottom - ROAD_Y0) / 2)
    return _turf_arriving(at, 3.0, seed, mask)


def pile_in_place_beside_slope(at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """The same material dumped at the slope's edge of the road: it grows from its middle over 2 s from
    ``at`` and stays; nothing came from the slope, so it is a blockage, not a landslide."""

    def mask(k: float) -> np.ndarray:
        return blob(H, W, 170, ROAD_Y0 + 14, 12 + 60 * k, 8 + 8 * k)  # spreads along the edge
    return _turf_arriving(at, 2.0, seed, mask)


def ghost_of_warmup(leave_at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """A lorry stands across the road from the start (through the scene's warm-up) and drives off at
    ``leave_at``: the empty road then differs from what was learned, but nothing is on it."""
    c = Clip(seed)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t < leave_at:
            cv2.rectangle(img, (70, 126), (250, 190), (40, 90, 170), -1)
            cv2.rectangle(img, (80, 132), (130, 150), (30, 30, 30), -1)
        return c.finish(img)
    return f


def verge_landslide(at: float, reach_road: bool, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Material slides down the slope over 2 s from ``at`` and comes to rest on its verge, just above
    the road's edge; with ``reach_road`` thin tongues of it (narrower than a block) run across the road."""
    c = Clip(seed)
    rock = c.debris

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            k = min(1.0, (t - at) / 2.0)
            bottom = 60 + k * (ROAD_Y0 - 2 - 60)
            m = blob(H, W, 170, (60 + bottom) / 2, 60, (bottom - 60) / 2)
            if reach_road and k >= 1.0:
                for x in (140, 165, 190):
                    cv2.line(m, (x, ROAD_Y0 - 4), (x + 2, ROAD_Y0 + 30), 0.6, 2)
            img = img * (1 - m[..., None]) + rock * m[..., None]
        return c.finish(img)
    return f



def parked_car(at: float, stop_s: float, length: int = 44, height: int = 20,
               colour: tuple[int, int, int] = (200, 60, 30), lane_y: int = 150, seed: int = 0
               ) -> Callable[[float], np.ndarray]:
    """A flat-coloured car of ``length`` x ``height`` px drives in, stops in its lane at ``at`` for
    ``stop_s`` seconds, and drives off."""
    c = Clip(seed, traffic=True)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if at - 3 <= t < at + stop_s + 3:
            if t < at:
                x = 140 - (at - t) * 60
            elif t < at + stop_s:
                x = 140
            else:
                x = 140 + (t - at - stop_s) * 60
            x0 = int(x)
            cv2.rectangle(img, (x0, lane_y), (x0 + length, lane_y + height), colour, -1)
            cv2.rectangle(img, (x0 + length // 5, lane_y + 2), (x0 + 2 * length // 3, lane_y + height // 3),
                          (40, 40, 40), -1)
        return c.finish(img)
    return f


# --- illumination that is not an obstruction (issue 20, part 5) -----------------------------------

def cloud_shadows(seed: int = 0, depth: float = 0.4, speed: float = 6.0) -> Callable[[float], np.ndarray]:
    """Soft cloud shadows (blurred blobs, up to ``depth`` darker) drifting over the whole scene at
    ``speed`` px/s, several at once, from the start to the end."""
    c = Clip(seed)
    rng = np.random.default_rng(seed + 11)
    field = np.zeros((H, 3 * W), np.float32)
    for _ in range(9):
        cx, cy = rng.uniform(0, 3 * W), rng.uniform(0, H)
        axes = (int(rng.uniform(40, 90)), int(rng.uniform(25, 60)))
        cv2.ellipse(field, (int(cx), int(cy)), axes, 0, 0, 360, 1.0, -1)
    field = np.clip(cv2.GaussianBlur(field, (0, 0), 22), 0, 1)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        off = int(t * speed) % (2 * W)
        shade = field[:, off:off + W]
        return c.finish(img * (1 - depth * shade[..., None]))
    return f


def night_headlights(seed: int = 0) -> Callable[[float], np.ndarray]:
    """Night (light at 18 %): cars with headlights whose beams sweep over the road and the verge."""
    c = Clip(seed, traffic=False)
    yy, xx = np.mgrid[:H, :W].astype(np.float32)

    def f(t: float) -> np.ndarray:
        img = c.base * 0.18
        for k, (period, speed, lane) in enumerate(((11.0, 55.0, 132), (15.0, -40.0, 170))):
            phase = (t + 4 * k) % period
            x = -50 + phase * speed if speed > 0 else W + 10 + phase * speed
            if not -140 < x < W + 140:
                continue
            front = x + 44 if speed > 0 else x
            d = (xx - front) * np.sign(speed)
            # a cone of light ahead of the car, widening with distance, brightest near it
            cone = (d > 0) & (np.abs(yy - lane - 10) < 8 + 0.35 * d)
            beam = np.where(cone, np.exp(-d / 70.0), 0.0).astype(np.float32)
            img = img + cv2.GaussianBlur(beam, (0, 0), 4)[..., None] * 150
            cv2.rectangle(img, (int(x), lane), (int(x) + 44, lane + 20), (25, 25, 30), -1)
            hx = int(front)
            cv2.circle(img, (hx, lane + 6), 3, (255, 255, 255), -1)
            cv2.circle(img, (hx, lane + 15), 3, (255, 255, 255), -1)
        return c.finish(img)
    return f


def wet_road(at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Rain stops and leaves the road wet from ``at`` (over 10 s): darker, with a soft sheen of the sky
    along it that shimmers a little; traffic goes on."""
    c = Clip(seed)
    rng = np.random.default_rng(seed + 5)
    sheen = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 10)
    sheen = (sheen - sheen.min()) / (sheen.max() - sheen.min())
    road = np.zeros((H, W), np.float32)
    road[ROAD_Y0:ROAD_Y1] = 1.0
    road = cv2.GaussianBlur(road, (0, 0), 2)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            k = min(1.0, (t - at) / 10.0)
            shimmer = 1 + 0.1 * np.sin(t * 0.7)
            tint = np.array([1.1, 1.0, 0.9], np.float32)
            wet = img * (1 - 0.3 * k) + k * 45 * shimmer * sheen[..., None] * tint
            img = img * (1 - road[..., None]) + wet * road[..., None]
        return c.finish(img)
    return f


def sunset(at: float, seconds: float = 60.0, seed: int = 0) -> Callable[[float], np.ndarray]:
    """Sunset from ``at`` over ``seconds``: light falls to 30 % with a warm, then blue cast, and the
    slope's shadow creeps across the road."""
    c = Clip(seed)
    yy = np.mgrid[:H, :W][0].astype(np.float32)

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            k = min(1.0, (t - at) / seconds)
            glow = np.sin(np.pi * k)
            warm = np.array([1 - 0.25 * glow, 1 - 0.1 * k, 1 + 0.15 * glow], np.float32)
            img = img * (1 - 0.7 * k) * warm
            edge = ROAD_Y0 - 20 + 100 * k  # the shadow's edge moves down over the road
            shadow = np.clip((edge - yy) / 25.0, 0, 1)
            img = img * (1 - 0.35 * shadow[..., None])
        return c.finish(img)
    return f
