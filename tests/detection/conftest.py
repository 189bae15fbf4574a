"""Shared fixtures: generated clips (made once per session) and the models (loaded once)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from edge.analyze import EventRecord, analyze_file
from edge.onnx_models import ModelBundle, load_models
from gridwatch.config import DetectionSettings, parse_roi
from tests.detection import synth

REPO = Path(__file__).resolve().parents[2]
VTEST = REPO / "data" / "footage" / "vtest.avi"
#: The road of vtest.avi as a region of interest (0..1 coordinates).
VTEST_ROAD = "road=0,0.33 0.4,0.34 0.62,0.33 1,0.16 1,0.85 0.73,0.69 0.43,0.52 0,0.43"

#: Shorter persistence than a town's defaults so the clips stay short; the logic is the same.
FAST = DetectionSettings(blockage_persist_s=10.0, flooding_persist_s=10.0, clear_s=8.0, fault_persist_s=4.0)


@pytest.fixture(scope="session")
def models() -> ModelBundle:
    return load_models()


@pytest.fixture(scope="session")
def clip_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clips")


@pytest.fixture(scope="session")
def make_clip(clip_dir: Path) -> Callable[[str, Callable[[float], np.ndarray], float], Path]:
    made: dict[str, Path] = {}

    def make(name: str, frame_at: Callable[[float], np.ndarray], seconds: float) -> Path:
        if name not in made:
            made[name] = synth.write_clip(clip_dir / f"{name}.mp4", frame_at, seconds, fps=4)
        return made[name]
    return make


@pytest.fixture(scope="session")
def run(models: ModelBundle) -> Callable[..., list[EventRecord]]:
    def go(video: Path, rois: list[str] | None = None, settings: DetectionSettings = FAST
           ) -> list[EventRecord]:
        roi_list = [parse_roi(r) for r in (rois if rois is not None else [synth.ROAD_ROI, synth.SLOPE_ROI])]
        return analyze_file(video, roi_list, settings, models)
    return go
