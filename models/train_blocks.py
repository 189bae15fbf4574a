"""Train the block classifier (models/block_classifier.onnx) from data generated here.

No labelled footage of landslides exists for this town, so the training pairs are made: a reference
picture (the median of real vtest.avi frames, scikit-image's photographs, or painted ground from its
real gravel/grass/brick textures) and a "current" picture in which we paste

* debris: photographed gravel/brick/grass textures, tinted earth, rock or vegetation colours (class 1),
* standing water: smooth muddy or sky-reflecting surfaces with ripples, partly transparent (class 2),
* solid objects: flat-painted vehicles / crates with windows and shading (class 3),

and apply benign changes everywhere (class 0): global gain, offset and colour cast (clouds, dusk,
sunset, street lamps), soft shadows, light pools (headlights), wet-road darkening, a shift of up to
2 px (shake), blur, sensor noise and JPEG loss. Features come from ``edge.detectors_blocks`` (the
same function the edge runs). A small MLP (14-32-32-4) is trained in numpy and written as ONNX with
onnx.helper, so no torch is needed.

Run: ``python -m models.train_blocks [--out models/block_classifier.onnx] [--images 1200]`` (about
30 s on an idle core; the committed model is exactly this default run).

``--source dev`` draws no real footage and no photograph at all: references are the dev split's
painted scenes (``models.evalset.splits.DEV``: its camera geometries, procedural textures, colours)
and painted ground from the procedural texture family plus noise-made soil; debris is made of the
same procedural stones, grass and brick and of noise-made soil. See MODEL_CARD.md for which source
the committed model was trained on.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np
import onnx
import skimage.data
from onnx import TensorProto, helper, numpy_helper

from edge.detectors_blocks import BLOCK, FEATURE_NAMES, N_FEATURES, block_features, block_mean

W, H = 320, 240
CLASSES = ("benign", "debris", "water", "object")
ROOT = Path(__file__).resolve().parent.parent
VTEST = ROOT / "data" / "footage" / "vtest.avi"


# --- material ------------------------------------------------------------------------------------

def _norm_tex(img: np.ndarray) -> np.ndarray:
    f = img.astype(np.float32)
    return (f - f.mean()) / (f.std() + 1e-6)


def _fbm(rng: np.random.Generator, size: int = 512) -> np.ndarray:
    """Noise-made soil: octaves of blurred noise (clods, grit) without any photograph."""
    out = np.zeros((size, size), np.float32)
    for sigma, weight in ((16, 1.0), (6, 0.6), (2, 0.4), (0.7, 0.3)):
        noise = rng.standard_normal((size, size)).astype(np.float32)
        out += weight * cv2.GaussianBlur(noise, (0, 0), sigma) * sigma**0.5
    return out


class Material:
    """Backgrounds and textures, loaded once. ``source`` "legacy": real footage and photographs;
    "dev": only the dev split's procedural scenes and textures (nothing photographed)."""

    def __init__(self, rng: np.random.Generator, night_and_rain: bool = False, source: str = "legacy"
                 ) -> None:
        self.night_and_rain = night_and_rain
        self.source = source
        self.rng = rng
        if source == "dev":
            from models.evalset.splits import DEV
            from models.evalset.textures import Textures

            tex = Textures(DEV.textures)
            self.tex = [_norm_tex(t) for t in (tex.gravel, tex.grass, tex.brick, _fbm(rng))]
            self.photos: list[np.ndarray] = []
            self.vtest: list[np.ndarray] = []
            self.scenes = self._dev_scenes(tex, 24)
            return
        self.scenes = []
        self.tex = [_norm_tex(skimage.data.gravel()), _norm_tex(skimage.data.grass()),
                    _norm_tex(skimage.data.brick())]
        photos = []
        for name in ("astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry"):
            try:
                photos.append(cv2.cvtColor(getattr(skimage.data, name)(), cv2.COLOR_RGB2BGR))
            except Exception:  # some scikit-image images need a download; skip those
                continue
        self.photos = [cv2.resize(p, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32) for p in photos]
        self.vtest = self._vtest_backgrounds()

    def _dev_scenes(self, tex: object, n: int) -> list[np.ndarray]:
        """Painted dev-split road scenes (no traffic, neutral light) as BGR references."""
        from models.evalset.geometry import MARGIN, OUT_H, OUT_W
        from models.evalset.scene import synthetic_scene
        from models.evalset.splits import DEV

        out = []
        for k in range(n):
            kind = ("across", "along", "wide")[k % 3]
            sc = synthetic_scene(np.random.default_rng([int(self.rng.integers(1 << 30)), k]), tex, kind, DEV)
            assert sc.albedo is not None
            view = sc.albedo[MARGIN:MARGIN + OUT_H, MARGIN:MARGIN + OUT_W, ::-1] * 255.0
            out.append(cv2.resize(view, (W, H), interpolation=cv2.INTER_AREA).astype(np.float32))
        return out

    @staticmethod
    def _vtest_backgrounds() -> list[np.ndarray]:
        if not VTEST.is_file():
            print(f"warning: {VTEST} missing; training without real footage", file=sys.stderr)
            return []
        cap = cv2.VideoCapture(str(VTEST))
        frames = []
        i = 0
        while True:
            ok, f = cap.read()
            if not ok:
                break
            if i % 10 == 0:
                frames.append(cv2.resize(f, (W, H), interpolation=cv2.INTER_AREA))
            i += 1
        cap.release()
        out = []
        for k in range(0, len(frames) - 15, 15):
            out.append(np.median(np.stack(frames[k:k + 15]), axis=0).astype(np.float32))
        return out

    def texture(self, h: int, w: int, scale: float) -> np.ndarray:
        t = self.tex[self.rng.integers(len(self.tex))]
        th, tw = t.shape
        sh, sw = max(2, int(h / scale)), max(2, int(w / scale))
        sh, sw = min(sh, th), min(sw, tw)
        y, x = self.rng.integers(0, th - sh + 1), self.rng.integers(0, tw - sw + 1)
        return cv2.resize(t[y:y + sh, x:x + sw], (w, h), interpolation=cv2.INTER_LINEAR)

    def painted_ground(self) -> np.ndarray:
        """A road scene from textures: verge/slope, carriageway, sky."""
        rng = self.rng
        img = np.zeros((H, W, 3), np.float32)
        bands = np.sort(rng.uniform(0, H, 3)).astype(int)
        cols = [rng.uniform(60, 200, 3) for _ in range(4)]
        edges = [0, *bands.tolist(), H]
        for k in range(4):
            y0, y1 = edges[k], edges[k + 1]
            if y1 <= y0:
                continue
            tex = self.texture(y1 - y0, W, rng.uniform(0.3, 2.0))
            contrast = rng.uniform(0.03, 0.25)
            img[y0:y1] = cols[k][None, None, :] * (1 + contrast * tex[..., None])
        road = rng.uniform(50, 150)
        y0 = int(rng.uniform(0.3, 0.7) * H)
        fine = rng.standard_normal((H - y0, W)).astype(np.float32)
        fine = cv2.GaussianBlur(fine, (0, 0), 0.7) * rng.uniform(1, 6)
        img[y0:] = road + fine[..., None] + rng.uniform(-8, 8, 3)
        if rng.random() < 0.5:
            yl = rng.integers(y0 + 5, H - 3)
            img[yl:yl + 2, ::12][:, :6] = 220
        return np.clip(img, 0, 255)

    def background(self) -> np.ndarray:
        r = self.rng.random()
        if self.scenes and r < 0.55:
            bg = self.scenes[self.rng.integers(len(self.scenes))].copy()
        elif self.vtest and r < 0.45:
            bg = self.vtest[self.rng.integers(len(self.vtest))].copy()
        elif self.photos and r < 0.6:
            bg = self.photos[self.rng.integers(len(self.photos))].copy()
        else:
            bg = self.painted_ground()
        if self.rng.random() < 0.5:
            bg = bg[:, ::-1].copy()
        if not self.night_and_rain:
            if self.rng.random() < 0.3:  # dusk / night reference
                bg *= self.rng.uniform(0.25, 0.7)
            return bg
        r2 = self.rng.random()
        if r2 < 0.25:  # dusk reference
            bg *= self.rng.uniform(0.25, 0.7)
        elif r2 < 0.4:  # night: very dark, with a few lamp pools
            bg *= self.rng.uniform(0.06, 0.2)
            for _ in range(self.rng.integers(0, 3)):
                g = np.zeros((H, W), np.float32)
                cv2.circle(g, (int(self.rng.uniform(0, W)), int(self.rng.uniform(0, H))),
                           int(self.rng.uniform(10, 50)), 1.0, -1)
                g = cv2.GaussianBlur(g, (0, 0), 15)
                bg = bg * (1 + 3 * g[..., None])
        return bg


# --- shapes and pastes ---------------------------------------------------------------------------

def blob_mask(rng: np.random.Generator, cx: float, cy: float, rx: float, ry: float) -> np.ndarray:
    """A soft-edged irregular blob (0..1)."""
    m = np.zeros((H, W), np.float32)
    n = rng.integers(3, 9)
    ang = np.sort(rng.uniform(0, 2 * np.pi, n))
    rad = rng.uniform(0.6, 1.0, n)
    pts = np.stack([cx + rx * rad * np.cos(ang), cy + ry * rad * np.sin(ang)], 1).astype(np.int32)
    cv2.fillPoly(m, [pts], 1.0)
    for _ in range(rng.integers(1, 4)):
        ex, ey = cx + rng.uniform(-rx, rx) * 0.6, cy + rng.uniform(-ry, ry) * 0.6
        cv2.ellipse(m, (int(ex), int(ey)), (max(2, int(rx * rng.uniform(0.3, 0.8))),
                    max(2, int(ry * rng.uniform(0.3, 0.8)))), rng.uniform(0, 180), 0, 360, 1.0, -1)
    soft = rng.uniform(0.3, 2.0)
    return cv2.GaussianBlur(m, (0, 0), soft)


def _earth_colour(rng: np.random.Generator) -> np.ndarray:
    palette = [(60, 90, 130), (40, 70, 110), (90, 110, 140), (110, 110, 110), (70, 70, 75), (50, 60, 50),
               (40, 80, 60), (80, 120, 160), (30, 45, 70), (140, 150, 160)]  # BGR: earth, rock, leaves
    base = np.array(palette[rng.integers(len(palette))], np.float32)
    return base * rng.uniform(0.6, 1.5) + rng.uniform(-15, 15, 3)


def paste_debris(mat: Material, cur: np.ndarray, mask: np.ndarray) -> np.ndarray:
    rng = mat.rng
    tex = mat.texture(H, W, rng.uniform(0.25, 1.5))
    contrast = rng.uniform(0.2, 0.6)
    col = _earth_colour(rng)
    mat_img = col[None, None, :] * np.clip(1 + contrast * tex[..., None], 0.1, 3)
    if rng.random() < 0.3:  # second material mixed in (mud with rocks)
        tex2 = mat.texture(H, W, rng.uniform(0.3, 1.5))
        sel = (cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 4) > 0)[..., None]
        mat_img = np.where(sel, _earth_colour(rng)[None, None, :] * (1 + 0.4 * tex2[..., None]), mat_img)
    a = mask[..., None] * rng.uniform(0.85, 1.0)
    return cur * (1 - a) + mat_img * a


def paste_water(mat: Material, cur: np.ndarray, mask: np.ndarray, ref: np.ndarray) -> np.ndarray:
    rng = mat.rng
    kind = rng.random()
    if kind < 0.45:  # muddy brown water
        col = np.array([rng.uniform(40, 90), rng.uniform(70, 120), rng.uniform(90, 150)], np.float32)
        surf = np.broadcast_to(col, cur.shape).copy()
    elif kind < 0.8:  # reflecting the sky: bright, bluish-grey, smooth gradient
        top = np.array([rng.uniform(150, 240), rng.uniform(140, 230), rng.uniform(120, 220)], np.float32)
        grad = np.linspace(0.8, 1.1, H, dtype=np.float32)[:, None, None]
        surf = top[None, None, :] * grad * np.ones((1, W, 1), np.float32)
    else:  # mirrored, blurred scene
        surf = cv2.GaussianBlur(ref[::-1], (0, 0), rng.uniform(2, 5)) * rng.uniform(0.6, 0.9)
    ripple = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), rng.uniform(1.5, 4))
    ripple *= rng.uniform(3, 25) / (ripple.std() + 1e-6) * 0.5
    surf = surf + ripple[..., None]
    a = mask[..., None] * rng.uniform(0.75, 1.0)
    under = cv2.GaussianBlur(cur, (0, 0), 2.0)
    return under * (1 - a) + surf * a


def paste_object(mat: Material, cur: np.ndarray, cx: float, cy: float, rx: float, ry: float
                 ) -> tuple[np.ndarray, np.ndarray]:
    rng = mat.rng
    m = np.zeros((H, W), np.float32)
    x0, y0, x1, y1 = int(cx - rx), int(cy - ry * 0.6), int(cx + rx), int(cy + ry * 0.6)
    cv2.rectangle(m, (x0, y0), (x1, y1), 1.0, -1)
    palette = [(240, 240, 240), (20, 20, 20), (40, 40, 200), (200, 80, 30), (150, 150, 150), (30, 160, 220),
               (60, 120, 60)]
    col = np.array(palette[rng.integers(len(palette))], np.float32) + rng.uniform(-20, 20, 3)
    body = np.broadcast_to(col, cur.shape).copy()
    shade = np.linspace(1.1, 0.8, H, dtype=np.float32)[:, None, None]
    body *= shade
    wy0 = y0 + int((y1 - y0) * 0.15)
    wy1 = y0 + int((y1 - y0) * 0.45)
    body[wy0:wy1, x0 + 3:x1 - 3] = body[wy0:wy1, x0 + 3:x1 - 3] * 0.3 + 25
    m = cv2.GaussianBlur(m, (0, 0), 0.6)
    a = m[..., None]
    return cur * (1 - a) + body * a, m


# --- benign changes -------------------------------------------------------------------------------

def benign(mat: Material, cur: np.ndarray) -> np.ndarray:
    rng = mat.rng
    out = cur * rng.uniform(0.5, 1.6) + rng.uniform(-15, 15)
    if rng.random() < 0.5:
        out *= rng.uniform(0.85, 1.15, 3)[None, None, :]
    if rng.random() < 0.5:  # soft shadows
        for _ in range(rng.integers(1, 3)):
            sm = blob_mask(rng, rng.uniform(0, W), rng.uniform(0, H), rng.uniform(20, 120),
                           rng.uniform(15, 80))
            sm = cv2.GaussianBlur(sm, (0, 0), rng.uniform(1, 6))
            f = rng.uniform(0.35, 0.8)
            tintc = np.array([1.08, 1.0, 0.92], np.float32)
            out = out * (1 - sm[..., None] * (1 - f * tintc[None, None, :]))
    if rng.random() < 0.35:  # light pools: headlights, street lamps
        for _ in range(rng.integers(1, 3)):
            g = np.zeros((H, W), np.float32)
            cv2.circle(g, (int(rng.uniform(0, W)), int(rng.uniform(0, H))), int(rng.uniform(5, 40)), 1.0, -1)
            g = cv2.GaussianBlur(g, (0, 0), rng.uniform(5, 20))
            g /= g.max() + 1e-6
            col = np.array([rng.uniform(120, 200), rng.uniform(170, 230), rng.uniform(200, 255)], np.float32)
            out = out + g[..., None] * col[None, None, :] * rng.uniform(0.2, 0.7)
    if rng.random() < 0.25:  # wet road: darker, same texture
        wm = blob_mask(rng, rng.uniform(0, W), rng.uniform(H / 2, H), rng.uniform(40, 160),
                       rng.uniform(20, 60))
        out = out * (1 - wm[..., None] * rng.uniform(0.1, 0.35))
    if mat.night_and_rain and rng.random() < 0.2:  # rain: thin bright streaks
        streaks = np.zeros((H, W), np.float32)
        for _ in range(int(rng.integers(50, 300))):
            x, y = int(rng.uniform(0, W)), int(rng.uniform(0, H))
            cv2.line(streaks, (x, y), (x + int(rng.integers(-2, 3)), y + int(rng.integers(4, 12))), 1.0, 1)
        out = out + streaks[..., None] * rng.uniform(10, 40)
    if rng.random() < 0.5:  # shake
        dx, dy = rng.integers(-2, 3), rng.integers(-2, 3)
        out = cv2.warpAffine(out, np.float32([[1, 0, dx], [0, 1, dy]]), (W, H), borderMode=cv2.BORDER_REFLECT)
    if rng.random() < 0.4:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(0.3, 1.0))
    out = out + rng.standard_normal(out.shape).astype(np.float32) * rng.uniform(0.5, 4)
    return out


# --- one training image ----------------------------------------------------------------------------

def make_pair(mat: Material) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Reference, current (uint8) and a per-pixel label image (-1 = ignore)."""
    rng = mat.rng
    ref = mat.background()
    cur = ref.copy()
    cover = np.zeros((4, H, W), np.float32)
    for _ in range(rng.integers(0, 4)):
        cls = int(rng.integers(1, 4))
        cx, cy = rng.uniform(0, W), rng.uniform(0, H)
        rx, ry = rng.uniform(8, 80), rng.uniform(6, 50)
        if cls == 3:
            cur, m = paste_object(mat, cur, cx, cy, rx, ry)
        else:
            m = blob_mask(rng, cx, cy, rx * (1.6 if cls == 2 else 1), ry)
            cur = paste_debris(mat, cur, m) if cls == 1 else paste_water(mat, cur, m, ref)
        for k in range(1, 4):
            cover[k] *= 1 - m
        cover[cls] = np.maximum(cover[cls], m)
    cur = benign(mat, cur)
    cur8 = np.clip(cur, 0, 255).astype(np.uint8)
    if rng.random() < 0.6:
        _ok, buf = cv2.imencode(".jpg", cur8, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(35, 90))])
        cur8 = cv2.imdecode(buf, cv2.IMREAD_COLOR)
    return ref, cur8, cover


def dataset(n_images: int, seed: int, night_and_rain: bool = False, compensate: bool = False,
            source: str = "legacy") -> tuple[np.ndarray, np.ndarray]:
    """Feature rows and labels of ``n_images`` generated pairs.

    ``compensate`` (off by default: the committed model was trained without it) applies the run-time
    gain compensation of dark references to the training pairs too.
    """
    mat = Material(np.random.default_rng(seed), night_and_rain, source)
    xs, ys = [], []
    for _ in range(n_images):
        ref, cur, cover = make_pair(mat)
        st = block_features(cur, ref, compensate=compensate)
        cov = np.stack([block_mean(c) for c in cover[1:]], axis=-1)  # gy x gx x 3
        best = cov.argmax(axis=-1)
        top = cov.max(axis=-1)
        label = np.where(top >= 0.5, best + 1, np.where(top <= 0.1, 0, -1))
        f = st.features.reshape(-1, N_FEATURES)
        lab = label.reshape(-1)
        keep = lab >= 0
        xs.append(f[keep])
        ys.append(lab[keep])
    return np.concatenate(xs), np.concatenate(ys)


# --- the MLP ---------------------------------------------------------------------------------------

def train_mlp(x: np.ndarray, y: np.ndarray, hidden: int = 32, epochs: int = 12, seed: int = 0
              ) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xn = (x - mu) / sd
    counts = np.bincount(y, minlength=4).astype(np.float64)
    cw = (counts.sum() / (4 * np.maximum(counts, 1))) ** 0.7
    dims = [x.shape[1], hidden, hidden, 4]
    params = {}
    for i in range(3):
        w0 = rng.standard_normal((dims[i], dims[i + 1])) * np.sqrt(2 / dims[i])
        params[f"W{i}"] = w0.astype(np.float32)
        params[f"b{i}"] = np.zeros(dims[i + 1], np.float32)
    m = {k: np.zeros_like(v) for k, v in params.items()}
    v = {k: np.zeros_like(p) for k, p in params.items()}
    lr, b1, b2, step = 3e-3, 0.9, 0.999, 0
    n = len(xn)
    bs = 1024
    for ep in range(epochs):
        order = rng.permutation(n)
        loss_sum = 0.0
        for s in range(0, n, bs):
            idx = order[s:s + bs]
            xb, yb = xn[idx], y[idx]
            h1 = np.maximum(xb @ params["W0"] + params["b0"], 0)
            h2 = np.maximum(h1 @ params["W1"] + params["b1"], 0)
            z = h2 @ params["W2"] + params["b2"]
            z -= z.max(1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(1, keepdims=True)
            w = cw[yb].astype(np.float32)
            loss_sum += float(-(w * np.log(p[np.arange(len(yb)), yb] + 1e-9)).sum())
            g = p.copy()
            g[np.arange(len(yb)), yb] -= 1
            g *= (w / w.sum())[:, None]
            grads = {"W2": h2.T @ g, "b2": g.sum(0)}
            g2 = (g @ params["W2"].T) * (h2 > 0)
            grads["W1"], grads["b1"] = h1.T @ g2, g2.sum(0)
            g1 = (g2 @ params["W1"].T) * (h1 > 0)
            grads["W0"], grads["b0"] = xb.T @ g1, g1.sum(0)
            step += 1
            for k in params:
                m[k] = b1 * m[k] + (1 - b1) * grads[k]
                v[k] = b2 * v[k] + (1 - b2) * grads[k] ** 2
                mh = m[k] / (1 - b1 ** step)
                vh = v[k] / (1 - b2 ** step)
                params[k] -= (lr * mh / (np.sqrt(vh) + 1e-8)).astype(np.float32)
        if ep == epochs * 2 // 3:
            lr *= 0.3
        print(f"epoch {ep + 1}/{epochs} loss {loss_sum / n:.4f}", file=sys.stderr)
    params["mu"], params["sd"] = mu.astype(np.float32), sd.astype(np.float32)
    return params


def predict(params: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    xn = (x - params["mu"]) / params["sd"]
    h1 = np.maximum(xn @ params["W0"] + params["b0"], 0)
    h2 = np.maximum(h1 @ params["W1"] + params["b1"], 0)
    z = h2 @ params["W2"] + params["b2"]
    z -= z.max(1, keepdims=True)
    p = np.exp(z)
    return p / p.sum(1, keepdims=True)


def to_onnx(params: dict[str, np.ndarray], path: Path, meta: dict[str, str]) -> None:
    init = [numpy_helper.from_array(params[k].astype(np.float32), k)
            for k in ("mu", "sd", "W0", "b0", "W1", "b1", "W2", "b2")]
    nodes = [
        helper.make_node("Sub", ["features", "mu"], ["c"]),
        helper.make_node("Div", ["c", "sd"], ["xn"]),
        helper.make_node("Gemm", ["xn", "W0", "b0"], ["z0"]),
        helper.make_node("Relu", ["z0"], ["h0"]),
        helper.make_node("Gemm", ["h0", "W1", "b1"], ["z1"]),
        helper.make_node("Relu", ["z1"], ["h1"]),
        helper.make_node("Gemm", ["h1", "W2", "b2"], ["z2"]),
        helper.make_node("Softmax", ["z2"], ["probs"], axis=1),
    ]
    graph = helper.make_graph(
        nodes, "block_classifier",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", N_FEATURES])],
        [helper.make_tensor_value_info("probs", TensorProto.FLOAT, ["N", len(CLASSES)])], init)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)],
                              producer_name="gridwatch.models.train_blocks")
    model.ir_version = 8
    for k, val in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = k, val
    onnx.checker.check_model(model)
    onnx.save(model, str(path))


def report(params: dict[str, np.ndarray], x: np.ndarray, y: np.ndarray) -> dict[str, object]:
    pred = predict(params, x).argmax(1)
    out: dict[str, object] = {"n": len(y), "accuracy": round(float((pred == y).mean()), 4)}
    for k, name in enumerate(CLASSES):
        tp = int(((pred == k) & (y == k)).sum())
        out[name] = {"support": int((y == k).sum()),
                     "precision": round(tp / max(1, int((pred == k).sum())), 4),
                     "recall": round(tp / max(1, int((y == k).sum())), 4)}
    anom_true, anom_pred = y > 0, pred > 0
    out["anomaly_vs_benign"] = {
        "precision": round(float((anom_true & anom_pred).sum() / max(1, anom_pred.sum())), 4),
        "recall": round(float((anom_true & anom_pred).sum() / max(1, anom_true.sum())), 4),
        "benign_false_positive_rate": round(
            float((~anom_true & anom_pred).sum() / max(1, (~anom_true).sum())), 4),
    }
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "block_classifier.onnx")
    ap.add_argument("--images", type=int, default=1200)
    ap.add_argument("--night-and-rain", action="store_true",
                    help="also make very dark references and rain streaks (tried; see MODEL_CARD.md)")
    ap.add_argument("--gain-compensation", action="store_true",
                    help="train on gain-compensated features of dark pairs (tried; see MODEL_CARD.md)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--source", choices=["legacy", "dev"], default="legacy",
                    help="legacy: real footage + scikit-image photographs (the committed model); dev: the "
                         "dev split's procedural scenes and textures only (see MODEL_CARD.md)")
    args = ap.parse_args()
    t0 = time.time()
    x, y = dataset(args.images, args.seed, args.night_and_rain, args.gain_compensation, args.source)
    # Balance: keep every anomaly block, a share of the (abundant) benign ones.
    rng = np.random.default_rng(args.seed)
    keep = (y > 0) | (rng.random(len(y)) < 0.35)
    x, y = x[keep], y[keep]
    print(f"train blocks: {len(y)} per class {np.bincount(y, minlength=4).tolist()} "
          f"({time.time() - t0:.0f} s)", file=sys.stderr)
    params = train_mlp(x, y)
    xt, yt = dataset(max(100, args.images // 5), args.seed + 1000, args.night_and_rain,
                     args.gain_compensation, args.source)
    figures = {"train": report(params, x, y), "test": report(params, xt, yt)}
    print(json.dumps(figures, indent=1))
    meta = {"classes": ",".join(CLASSES), "features": ",".join(FEATURE_NAMES), "block": str(BLOCK),
            "source": args.source,
            "test_figures": json.dumps(figures["test"])}
    to_onnx(params, args.out, meta)
    (args.out.with_suffix(".figures.json")).write_text(json.dumps(figures, indent=1) + "\n")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes) in {time.time() - t0:.0f} s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
