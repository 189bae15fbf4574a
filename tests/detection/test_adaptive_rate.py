"""The adaptive rate (``gridwatch analyze --adaptive``) on generated clips shaped like IP cameras' streams.

Key frames every 2 s or 4 s and no B-frames (as cameras send; tests/detection/synth.py's own clips
have B-frames, on which the adaptive rate stays dense). A quiet village road with no traffic: the
scene is learned on dense frames, then only key frames are decoded, and nothing is raised. A
landslide on that road at several phases against the key frames: raised within 5 s of the material
coming to rest, as at the fixed rate.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

import edge.analyze as analyze_mod
from edge.adaptive_source import AdaptiveStats, adaptive_frames
from edge.analyze import analyze_file
from edge.onnx_models import ModelBundle
from gridwatch.config import parse_roi
from tests.detection import synth
from tests.detection.conftest import FAST, REPO

FPS = 5


def camera_clip(path: Path, frame_at: Callable[[float], np.ndarray], seconds: float, gop_s: float) -> Path:
    """H.264 as an IP camera sends it: fixed key-frame interval, no B-frames."""
    if path.exists():
        return path
    with av.open(str(path), "w") as out:
        st = out.add_stream("libx264", rate=FPS)
        st.width, st.height, st.pix_fmt = synth.W, synth.H, "yuv420p"
        st.time_base = Fraction(1, FPS)
        g = str(round(FPS * gop_s))
        st.options = {"crf": "23", "preset": "veryfast", "g": g, "keyint_min": g, "sc_threshold": "0",
                      "bf": "0"}
        for i in range(int(seconds * FPS)):
            vf = av.VideoFrame.from_ndarray(frame_at(i / FPS), format="bgr24")
            vf.pts = i
            for pkt in st.encode(vf):
                out.mux(pkt)
        for pkt in st.encode():
            out.mux(pkt)
    return path


def quiet_road(seed: int = 0) -> Callable[[float], np.ndarray]:
    c = synth.Clip(seed, traffic=False)
    return lambda t: c.finish(c.frame(t))


def quiet_landslide(at: float, seed: int = 0) -> Callable[[float], np.ndarray]:
    """synth.landslide's debris (slides over 3 s from ``at``, rests at at + 3) on a road without traffic."""
    c = synth.Clip(seed, traffic=False)
    h, w = synth.H, synth.W

    def f(t: float) -> np.ndarray:
        img = c.frame(t)
        if t >= at:
            k = min(1.0, (t - at) / 3.0)
            cy = 60 + k * 100
            m = synth.blob(h, w, 170, (60 + cy) / 2, 70, max(10, (cy - 60) / 2 + 20))
            if k >= 1.0:
                m = np.maximum(m * (np.arange(h)[:, None] > 70), synth.blob(h, w, 170, 150, 75, 42))
            img = img * (1 - m[..., None]) + c.debris * m[..., None]
        return c.finish(img)
    return f


ROIS = [parse_roi(r) for r in (synth.ROAD_ROI, synth.SLOPE_ROI)]


def run_adaptive(video: Path, models: ModelBundle, monkeypatch: pytest.MonkeyPatch
                 ) -> tuple[list[analyze_mod.EventRecord], AdaptiveStats]:
    stats = AdaptiveStats()
    monkeypatch.setattr(analyze_mod, "adaptive_frames",
                        lambda *a, **k: adaptive_frames(*a, stats=stats, **k))
    return analyze_file(video, ROIS, FAST, models, adaptive=True), stats


@pytest.mark.parametrize("gop_s", [2.0, 4.0])
def test_quiet_road_is_watched_on_key_frames_and_raises_nothing(
        gop_s: float, clip_dir: Path, models: ModelBundle, monkeypatch: pytest.MonkeyPatch) -> None:
    video = camera_clip(clip_dir / f"cam_quiet_g{gop_s:g}.mp4", quiet_road(), 80, gop_s)
    records, stats = run_adaptive(video, models, monkeypatch)
    assert records == []
    assert analyze_file(video, ROIS, FAST, models) == []           # the fixed rate agrees
    # Dense while the scene is learned (15 s) and for the hold after it, then key frames: of the
    # 80 s, at most ~27 s are analysed at 1 frame/s, the rest on key frames only.
    assert stats.quiet_taken >= (80 - 30) / gop_s - 1, stats
    assert stats.decoded <= 30 * FPS + 80 / gop_s, stats            # the fixed rate decodes 400
    assert stats.parked_dropped >= (80 - 30) * FPS * 0.8, stats


@pytest.mark.parametrize(("gop_s", "at"), [(2.0, 30.0), (2.0, 31.3), (2.0, 32.6),
                                           (4.0, 30.0), (4.0, 31.0), (4.0, 32.4), (4.0, 33.2)])
def test_landslide_on_a_quiet_road_is_raised_within_5_s_of_rest(
        gop_s: float, at: float, clip_dir: Path, models: ModelBundle,
        monkeypatch: pytest.MonkeyPatch) -> None:
    video = camera_clip(clip_dir / f"cam_landslide_g{gop_s:g}_{at:g}.mp4", quiet_landslide(at), 46, gop_s)
    records, stats = run_adaptive(video, models, monkeypatch)
    rest = at + 3.0
    assert [r.kind for r in records] == ["landslide"], records
    assert rest <= records[0].start_s <= rest + 5.0, (records[0].start_s, rest)
    assert stats.quiet_taken >= 3, stats                           # it was quiet before the slide
    fixed = analyze_file(video, ROIS, FAST, models)
    assert [r.kind for r in fixed] == ["landslide"]
    assert records[0].start_s - fixed[0].start_s <= gop_s        # at most a key interval later


def test_analyze_cli_takes_adaptive(clip_dir: Path) -> None:
    video = camera_clip(clip_dir / "cam_landslide_g2_30.mp4", quiet_landslide(30.0), 46, 2.0)
    out = subprocess.run([sys.executable, "-m", "gridwatch.cli", "analyze", str(video), "--adaptive",
                          "--roi", synth.ROAD_ROI, "--roi", synth.SLOPE_ROI], capture_output=True, text=True,
                         cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    assert '"kind": "landslide"' in out.stdout


class _QuietClip(synth.Clip):
    def __init__(self, seed: int = 0, traffic: bool = False) -> None:
        super().__init__(seed, traffic=False)


@pytest.mark.parametrize("kind", ["frozen", "dark", "overexposed", "blurred", "occluded", "moved"])
def test_camera_faults_on_a_quiet_road_are_raised_as_at_the_fixed_rate(
        kind: str, clip_dir: Path, models: ModelBundle, monkeypatch: pytest.MonkeyPatch) -> None:
    # A fault begins while the camera is quiet (key frames only, most of them not even analysed):
    # the change it makes calls the pipeline in, and it is raised as at the fixed rate, at most one
    # key interval later.
    with monkeypatch.context() as m:
        m.setattr(synth, "Clip", _QuietClip)
        frame_at = synth.fault(kind, at=40.0)
    video = camera_clip(clip_dir / f"cam_fault_{kind}.mp4", frame_at, 60, 2.0)
    records, stats = run_adaptive(video, models, monkeypatch)
    assert stats.quiet_taken >= 5, stats
    fixed = analyze_file(video, ROIS, FAST, models)
    assert [r.kind for r in records] == [r.kind for r in fixed] and len(records) == 1, (records, fixed)
    assert 40.0 <= records[0].start_s <= fixed[0].start_s + 2.0, (records[0].start_s, fixed[0].start_s)
