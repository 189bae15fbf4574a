"""The robustness grid of ``gridwatch eval --split``: phases, the per-cell summary, the split manifest."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from edge.analyze import analyze_file, frames_of
from edge.evaluate_grid import GridError, format_grid, read_manifest, summarise
from edge.onnx_models import load_models
from gridwatch.cli import main
from gridwatch.config import DetectionSettings, parse_roi
from models.evalset.generate import DEFAULT_FOOTAGE, render_to_files
from models.evalset.split_catalog import split_catalog
from models.evalset.splits import DEV, PHASES


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """A 48 s dev clip, frozen from 30 s (the labelled start of the quick frozen clip)."""
    quick = split_catalog("dev", DEV.quick_seed, quick=True)
    spec = next(s for s in quick if s.name.startswith("fault_frozen"))
    spec = dataclasses.replace(spec, duration=48.0)
    out = tmp_path_factory.mktemp("grid_clip")
    labels = render_to_files(spec, out, DEFAULT_FOOTAGE)
    return out / labels["video"], labels["rois"]


def test_phases_are_the_grid_of_the_issue() -> None:
    from edge.evaluate_grid import PHASES as EVAL_PHASES

    assert PHASES == EVAL_PHASES == (0.0, 0.25, 0.5, 0.75)


def test_phased_frames_fall_at_k_plus_phase(short_clip: tuple[Path, list[str]]) -> None:
    video, _ = short_clip
    base = [f.t for f in frames_of(video, 160, 1.0)]
    assert base[:3] == pytest.approx([0.0, 1.0, 2.0])
    for phase in (0.0, 0.25, 0.5, 0.75):
        ts = [f.t for f in frames_of(video, 160, 1.0, phase_s=phase)]
        assert len(ts) in (len(base), len(base) - 1)
        assert ts[:3] == pytest.approx([phase, 1 + phase, 2 + phase], abs=0.051)
    # the same frames at phase 0 as analyze's own reader
    assert [f.t for f in frames_of(video, 160, 1.0, phase_s=0.0)] == base


def test_a_phase_moves_the_analysed_frames_not_the_verdict(short_clip: tuple[Path, list[str]]) -> None:
    """The grid runs ``analyze_file`` itself at each phase: the frozen camera is raised at every phase."""
    video, rois = short_clip
    settings = DetectionSettings()
    roi = [parse_roi(r) for r in rois]
    models = load_models()
    for phase in (0.0, 0.5):
        found = analyze_file(video, roi, settings, models, "c", phase_s=phase)
        assert any(r.kind == "camera_frozen" for r in found), phase


def _fig(recall: float, fa: int, ttd: float) -> dict:
    return {"families": {"obstructions": {"recall": recall, "precision": 1.0, "kind_accuracy": 1.0,
                                          "median_time_to_detect_s": ttd},
                         "faults": {"recall": 1.0, "precision": 1.0},
                         "all": {"false_alarms": fa, "false_alarms_on_negatives_per_camera_hour": fa * 2.0}},
            "landslides_within_5s": None, "faults_within_10s": 1.0, "stopped_vehicles_within_10s": None}


def test_summary_takes_mean_and_the_worst_cell_each_way() -> None:
    cells = {"seed-1@0": _fig(1.0, 0, 3.0), "seed-1@0.5": _fig(0.8, 2, 9.0), "seed-2@0": _fig(0.9, 0, 2.0)}
    s = summarise(cells)
    assert s["obstr recall"] == {"mean": pytest.approx(0.9), "worst": 0.8, "worst_cell": "seed-1@0.5"}
    assert s["obstr median TTD s"]["worst"] == 9.0 and s["obstr median TTD s"]["worst_cell"] == "seed-1@0.5"
    assert s["false alarms (count)"]["worst"] == 2
    assert s["landslides <= 5 s"]["mean"] is None
    text = format_grid(cells, s)
    assert "seed-1@0.5" in text and "worst" in text and "mean" in text


def test_manifest_errors_say_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(GridError, match="--split test"):
        read_manifest(tmp_path, "test")
    (tmp_path / "split.json").write_text(json.dumps({"split": "dev", "seeds": [1], "cells": ["seed-1"]}))
    with pytest.raises(GridError, match="holds the 'dev' split"):
        read_manifest(tmp_path, "test")
    with pytest.raises(GridError, match="seed folders missing: seed-1"):
        read_manifest(tmp_path, "dev")
    (tmp_path / "seed-1").mkdir()
    assert read_manifest(tmp_path, "dev") == ["seed-1"]
    assert main(["eval", str(tmp_path), "--split", "test"]) == 2
