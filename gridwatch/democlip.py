"""The demo's clip: a painted village road under a slope, with traffic, where material slides down onto
the road, lies there, and is cleared again. Played in a loop, the demo raises and clears the event each
lap.

Made with run-time packages only (numpy, OpenCV, PyAV: what an edge box has), so an installed
``gridwatch`` can make it; the evaluation set (``models/evalset``, a build-time tool) is not needed.
Everything random comes from one seed, so the same seed gives the same clip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

W, H = 640, 360
FPS = 10
#: Rows of the picture: sky above SLOPE_Y0, the slope down to ROAD_Y0, the carriageway to ROAD_Y1,
#: then the verge.
SLOPE_Y0, ROAD_Y0, ROAD_Y1 = 44, 180, 300
#: The row where the material breaks off the slope.
SLIDE_TOP = 120.0
ROAD_ROI = "road=0,0.5 1,0.5 1,0.83 0,0.83"
SLOPE_ROI = "slope=0,0.12 1,0.12 1,0.49 0,0.49"


@dataclass(frozen=True, slots=True)
class Timeline:
    """When things happen, in seconds of the clip."""

    slide_at: float = 22.0  # the material starts to come down (after the scene was learned)
    slide_s: float = 3.0  # ...and comes to rest this much later
    lies_s: float = 45.0  # it lies on the road this long
    clear_s: float = 2.0  # it is taken away over this long
    duration: float = 100.0  # the event clears (after clear_s of empty road) within the lap

    @property
    def rest_at(self) -> float:
        return self.slide_at + self.slide_s

    @property
    def cleared_at(self) -> float:
        return self.rest_at + self.lies_s


def make_demo_clip(mp4: Path, seed: int = 3, timeline: Timeline | None = None) -> dict[str, Any]:
    """Write ``mp4`` (H.264, 640x360) and its labels beside it (``.json``); return the labels."""
    if mp4.suffix != ".mp4":
        raise ValueError(f"the demo clip must be an .mp4 file, not {mp4.name}")
    tl = timeline or Timeline()
    scene = _Scene(np.random.default_rng(seed), tl)
    tmp = mp4.with_name(f".{mp4.stem}.tmp.mp4")
    _write(tmp, scene.frame, tl.duration)
    tmp.replace(mp4)
    labels = {
        "video": mp4.name,
        "duration_s": tl.duration,
        "fps": float(FPS),
        "rois": [ROAD_ROI, SLOPE_ROI],
        "tags": ["day", "demo", "across", "traffic"],
        "events": [
            {
                "kind": "landslide",
                "start_s": tl.rest_at,
                "end_s": tl.cleared_at,
                "bbox": [round(float(v), 3) for v in scene.rest_box()],
            }
        ],
    }
    mp4.with_suffix(".json").write_text(json.dumps(labels, indent=1), encoding="utf-8")
    return labels


# -- textures -------------------------------------------------------------------------------------


def _noise(rng: np.random.Generator, h: int, w: int, sigmas: tuple[float, ...]) -> np.ndarray:
    """Smooth noise of several grain sizes, mean 0, standard deviation 1."""
    out = np.zeros((h, w), np.float32)
    for sigma in sigmas:
        layer = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), sigma)
        out += layer / (layer.std() + 1e-6)
    return (out - out.mean()) / (out.std() + 1e-6)


def _pebbles(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """Gravel and stones: many small lit stones over dark gaps, mean 0, standard deviation 1."""
    img = np.full((h, w), -1.0, np.float32)
    n = h * w // 40
    xs, ys = rng.uniform(0, w, n), rng.uniform(0, h, n)
    radii = rng.uniform(2.0, 7.0, n)
    tones = rng.uniform(-0.2, 1.6, n)
    for x, y, r, tone in zip(xs, ys, radii, tones, strict=True):
        axes = (int(r), max(1, int(r * rng.uniform(0.5, 1.0))))
        cv2.ellipse(img, (int(x), int(y)), axes, float(rng.uniform(0, 180)), 0, 360, float(tone), -1)
        # the lit top of each stone
        cv2.circle(img, (int(x - r / 3), int(y - r / 3)), max(1, int(r / 3)), float(tone + 0.6), -1)
    out = cv2.GaussianBlur(img, (0, 0), 0.8) + 0.3 * _noise(rng, h, w, (0.7,))
    return (out - out.mean()) / (out.std() + 1e-6)


def _blob(cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    m = np.zeros((H, W), np.float32)
    cv2.ellipse(m, (int(cx), int(cy)), (max(1, int(rx)), max(1, int(ry))), 0, 0, 360, 1.0, -1)
    return cv2.GaussianBlur(m, (0, 0), 2.0)


class _Scene:
    """The empty scene, the moving traffic and the material, frame by frame (BGR uint8)."""

    def __init__(self, rng: np.random.Generator, tl: Timeline) -> None:
        self.rng, self.tl = rng, tl
        self.base = self._empty()
        self.debris = np.array([70, 100, 130], np.float32) * np.clip(
            1 + 0.45 * _pebbles(rng, H, W)[..., None], 0.2, 3
        )
        #: sensor noise, drawn once and picked at random per frame (drawing it per frame is most of
        #: the time the clip takes)
        self.noise = [rng.standard_normal((H, W, 3), dtype=np.float32) * 2.0 for _ in range(12)]
        self._resting: np.ndarray | None = None

    def _empty(self) -> np.ndarray:
        rng = self.rng
        img = np.zeros((H, W, 3), np.float32)
        sky = np.linspace(0.9, 1.05, SLOPE_Y0, dtype=np.float32)[:, None, None]
        img[:SLOPE_Y0] = np.array([200, 170, 140], np.float32) * sky
        slope = _noise(rng, ROAD_Y0 - SLOPE_Y0, W, (0.7, 1.5, 4.0))
        img[SLOPE_Y0:ROAD_Y0] = np.array([60, 110, 90], np.float32) * (1 + 0.25 * slope[..., None])
        road = _noise(rng, ROAD_Y1 - ROAD_Y0, W, (1.6,))
        img[ROAD_Y0:ROAD_Y1] = 95 + 6 * road[..., None]
        mid = (ROAD_Y0 + ROAD_Y1) // 2
        for x in range(0, W, 80):  # the centre line's dashes
            img[mid - 2 : mid + 3, x : x + 40] = 220
        verge = _noise(rng, H - ROAD_Y1, W, (1.0, 3.0))
        img[ROAD_Y1:] = np.array([50, 100, 80], np.float32) * (1 + 0.2 * verge[..., None])
        return img

    def _cars(self, img: np.ndarray, t: float) -> None:
        lanes = ((9.0, 120.0, 200, (30, 30, 200)), (13.0, -90.0, 256, (220, 220, 220)))
        for k, (period, speed, lane_y, colour) in enumerate(lanes):
            phase = (t + 3 * k) % period
            x = -100 + phase * speed if speed > 0 else W + 20 + phase * speed
            if -120 < x < W + 20:
                x0 = int(x)
                cv2.rectangle(img, (x0, lane_y), (x0 + 88, lane_y + 40), colour, -1)
                cv2.rectangle(img, (x0 + 16, lane_y + 6), (x0 + 60, lane_y + 18), (40, 40, 40), -1)

    def _material(self, t: float) -> np.ndarray | None:
        """Where the material is at ``t`` (a soft mask), or None when there is none."""
        tl = self.tl
        if t < tl.slide_at or t >= tl.cleared_at + tl.clear_s:
            return None
        k = min(1.0, (t - tl.slide_at) / tl.slide_s)
        if k < 1.0:
            m = self._sliding(k)
        else:  # at rest: the same every frame, made once
            if self._resting is None:
                below = np.arange(H)[:, None] > SLIDE_TOP + 20
                self._resting = np.maximum(self._sliding(1.0) * below, _blob(340, 240, 150, 60))
            m = self._resting
        if t >= tl.cleared_at:  # taken away from the far side first
            left = (t - tl.cleared_at) / tl.clear_s
            m = m * (np.arange(W)[None, :] >= left * W)
        return m

    @staticmethod
    def _sliding(k: float) -> np.ndarray:
        """The material ``k`` (0..1) of the way down: its front moves from the slope onto the road."""
        front = SLIDE_TOP + k * (ROAD_Y0 + 100 - SLIDE_TOP)
        return _blob(340, (SLIDE_TOP + front) / 2, 140, max(20, (front - SLIDE_TOP) / 2 + 40))

    def rest_box(self) -> tuple[float, float, float, float]:
        """The material at rest on the road, in 0..1 frame coordinates."""
        m = self._material(self.tl.rest_at + 1.0)
        assert m is not None
        on_road = (m > 0.5) & (np.arange(H)[:, None] >= ROAD_Y0)
        ys, xs = np.nonzero(on_road)
        return (xs.min() / W, ys.min() / H, (xs.max() + 1) / W, (ys.max() + 1) / H)

    def frame(self, t: float) -> np.ndarray:
        img = self.base.copy()
        self._cars(img, t)
        m = self._material(t)
        if m is not None:
            img += (self.debris - img) * m[..., None]
        img += self.noise[int(self.rng.integers(len(self.noise)))]
        return np.clip(img, 0, 255, out=img).astype(np.uint8)


def _write(path: Path, frame_at: Any, seconds: float) -> None:
    """Encode ``frame_at(t)`` (BGR uint8) for ``seconds`` as H.264 MP4 at FPS."""
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=FPS)
        st.width, st.height, st.pix_fmt = W, H, "yuv420p"
        st.time_base = Fraction(1, FPS)
        st.options = {"crf": "26", "preset": "veryfast", "g": str(FPS * 4)}
        for i in range(round(seconds * FPS)):
            vf = av.VideoFrame.from_ndarray(frame_at(i / FPS), format="bgr24")
            vf.pts = i
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
