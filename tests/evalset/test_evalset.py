"""The evaluation set generator: deterministic, labels consistent, files decodable, faults where labelled."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from gridwatch.config import parse_roi
from models.evalset.catalog import catalog
from models.evalset.check import check_dir, label_problems
from models.evalset.faults import Fault
from models.evalset.generate import DEFAULT_FOOTAGE, generate, main
from models.evalset.render import ClipRenderer, ClipSpec
from models.evalset.textures import Textures
from tests.support.needs import needs

KINDS = {
    "landslide",
    "road_blockage",
    "flooding",
    "camera_frozen",
    "camera_blurred",
    "camera_occluded",
    "camera_moved",
    "camera_too_dark",
    "camera_overexposed",
    "camera_offline",
}
needs_footage = needs(DEFAULT_FOOTAGE.is_file(), "the real footage", "run scripts/fetch_footage.sh")


@pytest.fixture(scope="module")
def tex() -> Textures:
    return Textures()


def _check_labels(lb: dict) -> None:
    assert lb["video"].endswith(".mp4")
    assert 30 <= lb["duration_s"] <= 181
    assert lb["fps"] > 0
    assert lb["tags"][0] in ("day", "dusk", "night")
    for roi in lb["rois"]:
        parse_roi(roi)
    for ev in lb["events"]:
        assert ev["kind"] in KINDS
        # at least 20 s of clean video before anything happens, and the event inside the clip
        assert 20 <= ev["start_s"] < lb["duration_s"]
        if ev["end_s"] is not None:
            assert ev["start_s"] < ev["end_s"] <= lb["duration_s"]
        if ev["bbox"] is not None:
            x0, y0, x1, y1 = ev["bbox"]
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1


def test_catalog_covers_every_kind_and_negatives() -> None:
    full = catalog(0)
    assert 80 <= len(full) <= 130
    hours = sum(s.duration for s in full) / 3600
    assert hours >= 2.0
    kinds = {ev["kind"] for s in full for ev in s.events} | {f.kind for s in full for f in s.faults}
    assert kinds == {"landslide", "debris", "tree", "stalled", "flood"} | {
        k for k in KINDS if k.startswith("camera")
    }
    negatives = [s for s in full if not s.events and not s.faults]
    assert len(negatives) >= 20
    assert {"rain", "clouds", "sunset", "shake", "stopping", "real"} <= {t for s in negatives for t in s.tags}
    quick = catalog(0, quick=True)
    assert 8 <= len(quick) <= 16


def test_labels_consistent_for_synthetic_quick_clips(tex: Textures) -> None:
    for spec in catalog(0, quick=True):
        if spec.scene.startswith("real"):
            continue
        lb = ClipRenderer(spec, tex, DEFAULT_FOOTAGE).label_json()
        _check_labels(lb)
        assert "stops" not in lb  # the legacy set's labels stay as they were
        if spec.events or spec.faults:
            assert lb["events"], spec.name
        else:
            assert lb["events"] == []


def test_same_seed_same_labels_and_first_frame(tex: Textures) -> None:
    spec = next(s for s in catalog(5, quick=True) if s.name.startswith("landslide_day"))
    a = ClipRenderer(spec, tex, DEFAULT_FOOTAGE)
    b = ClipRenderer(spec, tex, DEFAULT_FOOTAGE)
    assert a.label_json() == b.label_json()
    fa = next(a.frames())[1]
    fb = next(b.frames())[1]
    assert fa.tobytes() == fb.tobytes()
    other = next(s for s in catalog(6, quick=True) if s.name.startswith("landslide_day"))
    assert ClipRenderer(other, tex, DEFAULT_FOOTAGE).label_json() != a.label_json()


def _sharpness(rgb: np.ndarray) -> float:
    grey = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    return float(cv2.Laplacian(grey, cv2.CV_32F).var())


def _short(spec: ClipSpec, **kw) -> ClipSpec:
    return dataclasses.replace(spec, **kw)


def _decode(path: Path) -> tuple[list[float], list[np.ndarray]]:
    times, frames = [], []
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            times.append(float(f.time))
            frames.append(f.to_ndarray(format="rgb24"))
    return times, frames


def test_frozen_clip_decodes_and_freezes_where_labelled(tmp_path: Path, tex: Textures) -> None:
    spec = ClipSpec(
        name="t_frozen",
        duration=40.0,
        scene="across",
        seed=1,
        traffic=12.0,
        people=3.0,
        faults=[Fault("camera_frozen", 22.0, 34.0)],
    )
    generate(tmp_path, [spec], DEFAULT_FOOTAGE, jobs=1)
    lb = json.loads((tmp_path / "t_frozen.json").read_text())
    assert lb["events"] == [{"kind": "camera_frozen", "start_s": 22.0, "end_s": 34.0, "bbox": None}]
    index = json.loads((tmp_path / "index.json").read_text())
    assert index["clips"][0]["video"] == "t_frozen.mp4"
    problems, summary = check_dir(tmp_path)
    assert problems == [] and summary["events"] == {"camera_frozen": 1}
    times, frames = _decode(tmp_path / "t_frozen.mp4")
    assert len(frames) == 400
    assert times[-1] == pytest.approx(39.9, abs=0.01)
    with av.open(str(tmp_path / "t_frozen.mp4")) as c:
        st = c.streams.video[0]
        assert st.codec_context.name == "h264" and st.codec_context.pix_fmt == "yuv420p"
        assert float(st.average_rate) == pytest.approx(10.0)

    def diff(i: int, j: int) -> float:
        return float(np.abs(frames[i].astype(np.int16) - frames[j].astype(np.int16)).mean())

    frozen = [diff(k, 220) for k in range(221, 340)]
    moving = [diff(k, k - 10) for k in range(30, 210, 10)]
    # lossy re-encoding of a repeated picture differs only by codec noise, a live scene by much more
    assert max(frozen) < 0.6
    assert np.median(moving) > 3 * max(frozen)
    assert diff(360, 350) > max(frozen)


def test_fault_clip_equals_clean_twin_until_the_fault(tex: Textures) -> None:
    base = ClipSpec(name="t_twin", duration=20.0, scene="along", seed=4, traffic=12.0, period="dusk")
    clean = dict(ClipRenderer(base, tex, DEFAULT_FOOTAGE).frames())
    for fault in (
        Fault("camera_moved", 10.0, None, {"dx": 20.0, "dy": -6.0, "angle": 2.0}),
        Fault("camera_occluded", 10.0, None, {"cover": 0.6, "what": "bag", "side": "left"}),
        Fault("camera_blurred", 10.0, None, {"sigma": 6.0}),
        Fault("camera_too_dark", 10.0, None, {"gain": 0.04}),
        Fault("camera_overexposed", 10.0, None, {"gain": 6.0}),
    ):
        faulty = dict(ClipRenderer(_short(base, faults=[fault]), tex, DEFAULT_FOOTAGE).frames())
        for i in (0, 50, 99):
            assert np.array_equal(clean[i], faulty[i]), (fault.kind, i)
        for i in (100, 150, 199):
            if fault.kind == "camera_blurred":
                assert _sharpness(faulty[i]) < 0.2 * _sharpness(clean[i]), i
                continue
            d = np.abs(clean[i].astype(np.int16) - faulty[i].astype(np.int16)).mean()
            assert d > 8, (fault.kind, i, d)
        if fault.kind == "camera_too_dark":
            assert faulty[150].mean() < 8
        if fault.kind == "camera_overexposed":
            assert (faulty[150] >= 245).mean() > 0.5


def test_landslide_changes_the_labelled_box_only(tex: Textures) -> None:
    event = {
        "kind": "landslide",
        "t": 20.0,
        "motion_s": 3.0,
        "cover": 0.7,
        "length": 8.0,
        "slope_m": 3.0,
        "rgb": (0.5, 0.38, 0.26),
        "boulders": 5,
        "pos": 0.5,
        "end": None,
    }
    spec = ClipSpec(
        name="t_slide", duration=30.0, scene="across", seed=9, traffic=0.0, people=0.0, events=[event]
    )
    r = ClipRenderer(spec, tex, DEFAULT_FOOTAGE)
    (ev,) = r.label_json()["events"]
    assert ev["kind"] == "landslide" and ev["start_s"] == 23.0
    frames = dict(r.frames())
    h, w = frames[0].shape[:2]
    x0, y0, x1, y1 = ev["bbox"]
    inside = np.zeros((h, w), bool)
    inside[int(y0 * h) : int(y1 * h), int(x0 * w) : int(x1 * w)] = True
    grown = np.zeros((h, w), bool)
    grown[max(int(y0 * h) - 8, 0) : int(y1 * h) + 8, max(int(x0 * w) - 8, 0) : int(x1 * w) + 8] = True

    def change(i: int, j: int) -> np.ndarray:
        return np.abs(frames[i].astype(np.int16) - frames[j].astype(np.int16)).mean(axis=2)

    before, after, later = change(150, 190), change(150, 240), change(240, 290)
    assert before[inside].mean() < 4  # nothing yet
    assert after[inside].mean() > 15  # material in the box once it rests
    assert after[~grown].mean() < 4  # and nowhere else
    assert later[inside].mean() < 4  # it stays still after coming to rest


def test_offline_is_a_timestamp_gap(tmp_path: Path) -> None:
    spec = ClipSpec(
        name="t_offline", duration=40.0, scene="across", seed=2, faults=[Fault("camera_offline", 21.0, 30.0)]
    )
    generate(tmp_path, [spec], DEFAULT_FOOTAGE, jobs=1)
    times, _ = _decode(tmp_path / "t_offline.mp4")
    gaps = np.diff(times)
    k = int(np.argmax(gaps))
    assert times[k] == pytest.approx(20.9, abs=0.01)
    assert times[k + 1] == pytest.approx(30.0, abs=0.01)
    assert np.sort(gaps)[-2] == pytest.approx(0.1, abs=0.01)
    assert len(times) == 400 - 90


@needs_footage
def test_real_footage_raw_is_unchanged_and_labels_parse(tmp_path: Path) -> None:
    assert main([str(tmp_path), "--quick", "--only", "neg_real_raw*", "--jobs", "1"]) == 0
    lb = json.loads((tmp_path / "neg_real_raw_01.json").read_text())
    _check_labels(lb)
    assert lb["events"] == [] and "real" in lb["tags"]
    _times, frames = _decode(tmp_path / "neg_real_raw_01.mp4")
    assert frames[0].shape == (576, 768, 3)
    assert len(frames) == 795


def test_generate_rejects_unknown_pattern(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([str(tmp_path), "--quick", "--only", "no_such_clip_*"]) == 2
    assert "no clip matches" in capsys.readouterr().err


def test_demo_clip_script(demo_clip: Path) -> None:
    # demo_clip (tests/support/democlip.py) ran scripts/make_demo_clip.py and checked its exit status
    out = demo_clip
    lb = json.loads(out.with_suffix(".json").read_text())
    _check_labels(lb)
    (ev,) = lb["events"]
    assert ev["kind"] == "landslide" and 20 <= ev["start_s"] <= 30 and ev["end_s"] - ev["start_s"] >= 40
    assert lb["duration_s"] - ev["end_s"] >= 15  # room to clear before the loop starts again
    with av.open(str(out)) as c:
        st = c.streams.video[0]
        assert (st.codec_context.width, st.codec_context.height) == (640, 360)
    assert out.stat().st_size < 8_000_000


def test_label_checker_names_what_is_wrong() -> None:
    good = {
        "video": "a.mp4",
        "duration_s": 60.0,
        "fps": 10.0,
        "rois": ["road=0,0.5 1,0.5 1,1 0,1"],
        "tags": ["day"],
        "events": [{"kind": "flooding", "start_s": 40.0, "end_s": None, "bbox": [0.1, 0.5, 0.4, 0.9]}],
    }
    assert label_problems(good) == []
    bad = json.loads(json.dumps(good))
    bad["rois"] = ["road=0,0.5 1.5,0.5 1,1"]
    bad["events"][0].update(kind="meteor", start_s=70.0, bbox=[0.5, 0.5, 0.2, 0.9])
    bad["tags"] = ["noon"]
    text = " | ".join(label_problems(bad))
    for part in (
        "outside the 0..1 frame",
        "unknown kind 'meteor'",
        "start_s 70.0",
        "bad bbox",
        "day/dusk/night",
    ):
        assert part in text
