"""The learned obstruction decision: its input row, the physical gates around the model's answer, and the
training labels (models/train_decision.py) taken from a clip's truth."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from edge.obstruction_decide import decide_learned
from edge.obstruction_learned import DECISION_CLASSES, FEATURES, TIME_CAP_S, Context, feature_vector
from edge.obstruction_measure import Measures
from edge.onnx_models import DECISION_MODEL, ModelError, load_models
from gridwatch.config import DetectionSettings
from gridwatch.wire import EventKind
from models.train_decision import CLASS, dev_labels, fit, inside, label_of, truth_spans

SETTINGS = DetectionSettings()


def measures(**kw: object) -> Measures:
    base: dict[str, object] = dict(
        blocks=6, box=(10, 10, 3, 2), bbox=(0.3, 0.5, 0.4, 0.6), share=0.4, area_share=0.05, reach=None,
        debris=0.7, water=0.1, obj=0.1, strength=0.9, arrival_s=3.0, rest_s=2.0, origin=0.5, side=0.5,
        away=1.0, vegetation=False, textured_change=0.2, self_lit=False, pixel_share=None, gather_s=1.0,
        calm_s=5.0, in_parking=0.0, steady=1.0, details={"d_bright": -0.1, "lit": 3.0})
    base.update(kw)
    return Measures(**base)  # type: ignore[arg-type]


def probs(kind: str) -> np.ndarray:
    p = np.full(len(DECISION_CLASSES), 0.02, np.float32)
    p[DECISION_CLASSES.index(kind)] = 0.92
    return p


def test_feature_row_matches_the_feature_names_and_caps_durations() -> None:
    ctx = Context(need=0.3, has_slope=True, verge_only=False, level=128.0)
    row = feature_vector(measures(calm_s=500.0, arrival_s=-1.0), ctx)
    assert row.shape == (len(FEATURES),) and row.dtype == np.float32
    assert row[FEATURES.index("calm_s")] == TIME_CAP_S  # how long it stood is the gates' business
    assert row[FEATURES.index("arrival_s")] == 0.0
    assert row[FEATURES.index("pixel_share")] == -1.0  # not measured
    assert row[FEATURES.index("has_slope")] == 1.0


def test_a_vehicle_is_judged_by_how_long_it_stood_whatever_its_width() -> None:
    wide = measures(share=0.9)
    assert decide_learned(measures(calm_s=60.0), probs("vehicle"), SETTINGS, 0.3, False) is None
    assert decide_learned(wide, probs("vehicle"), SETTINGS, 0.3, False) is None  # no early raise
    comp = decide_learned(measures(calm_s=SETTINGS.stopped_vehicle_s + 1, share=0.1), probs("vehicle"),
                          SETTINGS, 0.3, False)
    assert comp is not None and comp.kind == EventKind.ROAD_BLOCKAGE and comp.judged
    assert comp.details["cause"] == "vehicle"
    # standing event: it stays raised while it is there
    assert decide_learned(measures(calm_s=3.0), probs("vehicle"), SETTINGS, 0.3, False, held=True)
    # where stopping is normal, never
    parked = measures(calm_s=1000.0, in_parking=0.8)
    assert decide_learned(parked, probs("vehicle"), SETTINGS, 0.3, False) is None


def test_gates_around_the_models_kind() -> None:
    assert decide_learned(measures(), probs("none"), SETTINGS, 0.3, False) is None
    narrow = measures(share=0.2)
    assert decide_learned(narrow, probs("blockage"), SETTINGS, 0.3, False) is None
    comp = decide_learned(measures(share=0.35), probs("blockage"), SETTINGS, 0.3, False)
    assert comp is not None and comp.kind == EventKind.ROAD_BLOCKAGE and not comp.judged
    puddle = measures(share=0.05, area_share=0.01)
    assert decide_learned(puddle, probs("flooding"), SETTINGS, 0.3, False) is None
    comp = decide_learned(measures(), probs("landslide"), SETTINGS, 0.3, False)
    assert comp is not None and comp.kind == EventKind.LANDSLIDE
    # a road+verge component is only ever a landslide
    assert decide_learned(measures(), probs("blockage"), SETTINGS, 0.3, True) is None
    assert decide_learned(measures(blocks=2), probs("landslide"), SETTINGS, 0.3, False) is None


def test_labels_come_from_events_and_stops() -> None:
    label = {"tags": ["day", "stopped", "car"],
             "events": [{"kind": "road_blockage", "start_s": 200.0, "end_s": None,
                         "bbox": [0.4, 0.4, 0.6, 0.6]},
                        {"kind": "camera_frozen", "start_s": 10.0, "end_s": 20.0, "bbox": None}],
             "stops": [{"start_s": 30.0, "end_s": 50.0, "bbox": [0.0, 0.0, 0.1, 0.1]}]}
    spans = truth_spans(label)
    assert [s.cls for s in spans] == ["vehicle", "vehicle"]
    assert spans[0].start_s == 80.0 and math.isinf(spans[0].end_s)  # from the stop, not from +120 s
    assert label_of(100.0, (0.45, 0.45, 0.55, 0.55), spans) == CLASS["vehicle"]
    assert label_of(60.0, (0.45, 0.45, 0.55, 0.55), spans) == CLASS["none"]  # before it stopped
    assert label_of(40.0, (0.0, 0.0, 0.1, 0.1), spans) == CLASS["vehicle"]
    # a box only partly on the truth's is left out, not taught as "none"
    assert label_of(100.0, (0.5, 0.5, 0.8, 0.8), spans) == -1
    assert inside((0.0, 0.0, 1.0, 1.0), (0.0, 0.0, 0.5, 1.0)) == pytest.approx(0.5)
    slide = truth_spans({"tags": ["day"], "events": [
        {"kind": "landslide", "start_s": 50.0, "end_s": 90.0, "bbox": [0.2, 0.2, 0.8, 0.8]}]})
    assert label_of(25.0, (0.3, 0.3, 0.4, 0.4), slide) == CLASS["landslide"]  # still arriving
    assert label_of(100.0, (0.3, 0.3, 0.4, 0.4), slide) == CLASS["none"]  # cleared


def test_collect_refuses_the_sealed_test_split(tmp_path: Path) -> None:
    (tmp_path / "split.json").write_text(json.dumps({"split": "test", "seeds": [9001]}))
    (tmp_path / "seed-9001").mkdir()
    with pytest.raises(SystemExit, match="only the dev split"):
        dev_labels(tmp_path / "seed-9001")
    with pytest.raises(SystemExit, match=r"no split\.json"):
        dev_labels(tmp_path / "seed-9001" / "nowhere")


def test_fitted_model_runs_under_onnxruntime_as_scikit_learn_predicts(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    n = 400
    y = rng.integers(0, len(DECISION_CLASSES), n)
    x = rng.normal(size=(n, len(FEATURES))).astype(np.float32)
    x[:, FEATURES.index("object")] += y  # something to learn
    data = tmp_path / "d.npz"
    groups = np.array([f"seed-1/c{i % 7}" for i in range(n)])
    np.savez(data, x=x, y=y, t=np.zeros(n, np.float32), group=groups,
             phase=np.zeros(n, np.float32), features=np.array(FEATURES), classes=np.array(DECISION_CLASSES))
    models_dir = tmp_path / "models"
    models_dir.mkdir()
    (models_dir / "block_classifier.onnx").write_bytes(
        (Path(__file__).resolve().parents[2] / "models" / "block_classifier.onnx").read_bytes())
    bundle = load_models(models_dir)
    assert bundle.decision is None
    with pytest.raises(ModelError, match="train_decision"):
        bundle.decide_probs(x[:1])
    fit([data], models_dir / DECISION_MODEL, None, trees={"n_estimators": 20, "min_samples_leaf": 5})
    bundle = load_models(models_dir)
    p = bundle.decide_probs(x[:50])
    assert p.shape == (50, len(DECISION_CLASSES))
    assert np.allclose(p.sum(axis=1), 1.0, atol=1e-4)
    assert (p.argmax(axis=1) == y[:50]).mean() > 0.5  # it learned the planted signal
    figures = json.loads((models_dir / "obstruction_decision.figures.json").read_text())
    assert figures["records"] == n and figures["features"] == list(FEATURES)
