"""Illumination is not an obstruction (issue 20, part 5): soft cloud shadows drifting over the road,
headlights sweeping over it at night, a wet road's sheen and a sunset raise nothing, with the road ROI
and without any ROI, at the short test persistence and at the town's defaults."""

from __future__ import annotations

import pytest

from gridwatch.config import DetectionSettings
from tests.detection import synth
from tests.detection.conftest import FAST

#: name -> (scenario, seconds)
CASES = {
    "cloud_shadows": (lambda: synth.cloud_shadows(seed=1), 120),
    "deep_slow_cloud_shadows": (lambda: synth.cloud_shadows(seed=2, depth=0.55, speed=3.0), 120),
    "night_headlights": (lambda: synth.night_headlights(seed=1), 90),
    "wet_road_sheen": (lambda: synth.wet_road(25.0, seed=1), 90),
    "sunset": (lambda: synth.sunset(20.0, seed=1), 100),
}


@pytest.mark.parametrize("name", sorted(CASES))
@pytest.mark.parametrize("rois", [[synth.ROAD_ROI, synth.SLOPE_ROI], []], ids=["rois", "no_roi"])
@pytest.mark.parametrize("settings", [FAST, DetectionSettings()], ids=["fast", "defaults"])
def test_light_raises_nothing(make_clip, run, name: str, rois: list[str], settings) -> None:
    scenario, seconds = CASES[name]
    video = make_clip(f"light_{name}", scenario(), seconds)
    assert run(video, rois, settings) == []
