"""The any-occluder measure frame by frame (issue 20, parts 4 and 5), on synthetic frames: a cover that
sways in the wind, a light cover on a faint night scene and a dark one by day are covers; a dusk that
drowns the scene's texture, a change that creeps over the view for a minute and a film that spreads
over it for half a minute are not."""

from __future__ import annotations

import cv2
import numpy as np

from edge.occlusion import OcclusionMeter, still_blocks

H, W = 240, 320
COVER_W = 200  # 62.5 % of the view, from the left


def _scene(seed: int, mean: float, spread: float) -> np.ndarray:
    """A textured scene: blurred noise with local contrast that varies across the view."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.standard_normal((H, W)).astype(np.float32), (0, 0), 1.5)
    tex /= tex.std()
    contrast = cv2.resize(rng.uniform(0.5, 1.5, (4, 5)).astype(np.float32), (W, H))
    return mean + spread * contrast * tex


def _cover(seed: int, mean: float, spread: float) -> np.ndarray:
    """A textured material near the lens: its own pattern, somewhat out of focus."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.standard_normal((H, W + 16)).astype(np.float32), (0, 0), 2.0)
    return mean + spread * tex / tex.std()


def _frame(img: np.ndarray, seed: int, noise: float = 1.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(img + noise * rng.standard_normal(img.shape), 0, 255).astype(np.uint8)


def _covered(scene: np.ndarray, cover: np.ndarray, sway: int) -> np.ndarray:
    out = scene.copy()
    out[:, :COVER_W] = cover[:, 8 + sway: 8 + sway + COVER_W]
    return out


def _run(frames: list[np.ndarray], ref: np.ndarray) -> list[float]:
    meter = OcclusionMeter()
    shares, prev = [], None
    for t, f in enumerate(frames):
        shares.append(meter.measure(f, prev, ref, float(t)).patch)
        prev = f
    return shares


def test_a_cover_swaying_by_a_few_pixels_is_a_cover_and_traffic_is_not_still() -> None:
    scene = _scene(1, 110, 30)
    ref = _frame(scene, 0, 0.0)
    cover = _cover(2, 150, 35)
    sways = [0, 3, -3, 2, -2, 3, 0, -3]
    frames = [_frame(scene, i) for i in range(5)] + \
        [_frame(_covered(scene, cover, s), 10 + i) for i, s in enumerate(sways)]
    shares = _run(frames, ref)
    assert max(shares[:5]) == 0.0
    assert min(shares[6:]) >= 0.5, shares
    # the same material moving 20 px between analysed frames is passing, not resting on the lens
    a = _frame(_covered(scene, cover, 0), 1).astype(np.float32)
    moved = scene.copy()
    moved[:, :COVER_W] = np.roll(cover, 20, axis=1)[:, 8: 8 + COVER_W]
    assert still_blocks(_frame(moved, 2).astype(np.float32), a)[:, :10].mean() < 0.1
    assert still_blocks(_frame(_covered(scene, cover, 3), 3).astype(np.float32), a)[:, :10].mean() > 0.9


def test_a_light_cover_on_a_faint_night_scene_and_a_dark_one_by_day_are_covers() -> None:
    night = _scene(3, 20, 3.5)  # faint detail, a few grey levels: what a night reference holds
    ref = _frame(night, 0, 0.0)
    frames = [_frame(night, i) for i in range(4)] + \
        [_frame(_covered(night, _cover(4, 60, 8), 0), 10 + i) for i in range(4)]
    assert _run(frames, ref)[-1] >= 0.5
    day = _scene(5, 120, 25)
    ref = _frame(day, 0, 0.0)
    frames = [_frame(day, i) for i in range(4)] + \
        [_frame(_covered(day, _cover(6, 35, 10), 0), 10 + i) for i in range(4)]
    assert _run(frames, ref)[-1] >= 0.5


def test_dusk_drowning_the_texture_in_noise_is_not_a_cover() -> None:
    """Light on the ground falls to 3.5 % over two minutes (by the same factor every second, as daylight
    does) while the sky keeps half of its own, with the camera's noise left as it is: the fine texture
    of the ground sinks under the noise while the sky still matches (a large still patch that no
    longer matches, but the light's doing)."""
    scene = _scene(7, 110, 22)
    ref = _frame(scene, 0, 0.0)
    sky = np.zeros((H, 1), np.float32)
    sky[: H * 2 // 5] = 1.0
    meter = OcclusionMeter()
    prev = None
    for t in range(150):
        ground = float(np.exp(np.log(0.035) * np.clip((t - 20) / 120, 0, 1)))
        gain = sky * max(ground, 0.5) + (1 - sky) * ground
        f = _frame(scene * gain, 100 + t, 1.8)
        occ = meter.measure(f, prev, ref, float(t))
        prev = f
        assert occ.patch == 0.0, (t, occ)
        assert occ.flat < 0.3, (t, occ)


def test_a_change_fading_in_over_a_minute_did_not_arrive_at_once() -> None:
    """The same change as a cover, but fading in over 60 s (as a change of light does): not something
    put in front of the lens; the same change at once is a cover."""
    scene = _scene(8, 110, 25)
    ref = _frame(scene, 0, 0.0)
    other = scene.copy()
    other[:, :COVER_W] = _cover(9, 60, 20)[:, :COVER_W]
    frames = [_frame(scene + float(np.clip((t - 5) / 60, 0, 1)) * (other - scene), 200 + t)
              for t in range(80)]
    assert max(_run(frames, ref)) == 0.0
    at_once = [_frame(scene, 300 + t) for t in range(5)] + [_frame(other, 310 + t) for t in range(4)]
    assert _run(at_once, ref)[-1] >= 0.5


def test_a_film_spreading_over_the_view_for_half_a_minute_is_not_a_cover() -> None:
    """The same material reaching the view's columns one after another over 30 s, each column at once
    (as the front of water or mud spreading over a road passes each spot): its blocks did not stop
    showing the scene together, so it is not a cover, even once it stands still; the same material
    over the same part at once is a cover."""
    scene = _scene(10, 110, 25)
    ref = _frame(scene, 0, 0.0)
    film = _cover(11, 70, 20)[:, :COVER_W]
    frames = []
    for t in range(60):
        reached = int(np.clip((t - 5) / 30, 0, 1) * COVER_W)
        img = scene.copy()
        img[:, :reached] = film[:, :reached]
        frames.append(_frame(img, 400 + t))
    assert max(_run(frames, ref)) == 0.0
    at_once = scene.copy()
    at_once[:, :COVER_W] = film
    frames = [_frame(scene, 500 + t) for t in range(5)] + [_frame(at_once, 510 + t) for t in range(4)]
    assert _run(frames, ref)[-1] >= 0.5
