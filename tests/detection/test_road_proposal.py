"""No road ROI needed (issue 20, part 6): the pipeline proposes the carriageway from where traffic moves
and the learned surface, uses it, and reports it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from edge.analyze import analyze_video
from edge.regions import polygon_mask
from gridwatch.cli import main
from gridwatch.config import parse_roi
from tests.detection import synth
from tests.detection.conftest import FAST, VTEST, VTEST_ROAD


def _iou(a: list[list[float]], b: str, shape: tuple[int, int] = (180, 320)) -> float:
    pa = polygon_mask([(x, y) for x, y in a], shape)
    pb = polygon_mask(list(parse_roi(b).polygon), shape)
    return float((pa & pb).sum()) / float((pa | pb).sum())


def _lines(capsys) -> list[dict]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]


def test_generated_road_is_proposed_where_the_cars_drive(make_clip, models) -> None:
    video = make_clip("proposal_clean", synth.clean(seed=4), 40)
    result = analyze_video(video, [], FAST, models)
    assert result.records == []
    assert result.road_proposal is not None
    assert _iou(result.road_proposal, synth.ROAD_ROI, (240, 320)) >= 0.6


def test_no_proposal_is_made_when_a_road_roi_is_given(make_clip, capsys) -> None:
    video = make_clip("proposal_clean", synth.clean(seed=4), 40)
    assert main(["analyze", str(video), "--roi", synth.ROAD_ROI]) == 0
    assert _lines(capsys) == []


def test_no_proposal_without_traffic_is_reported_as_null(make_clip, capsys) -> None:
    def empty(t: float) -> np.ndarray:
        return np.clip(synth.scene(5), 0, 255).astype(np.uint8)

    video = make_clip("proposal_empty", empty, 25)
    assert main(["analyze", str(video)]) == 0
    assert _lines(capsys) == [{"road_proposal": None}]


def test_landslide_on_generated_road_is_found_without_any_roi(make_clip, capsys) -> None:
    video = make_clip("proposal_landslide", synth.landslide(at=25.0, seed=2), 40)
    assert main(["analyze", str(video)]) == 0
    lines = _lines(capsys)
    events = [x for x in lines if "kind" in x]
    assert [e["kind"] for e in events] in (["landslide"], ["road_blockage"])
    assert 25.0 <= events[0]["start_s"] <= 25.0 + FAST.blockage_persist_s + 5.0
    proposal = [x for x in lines if "road_proposal" in x]
    assert len(proposal) == 1 and proposal[0]["road_proposal"] is not None


def test_demo_clip_landslide_is_found_without_roi(demo_clip: Path, capsys) -> None:
    video, labels = demo_clip, json.loads(demo_clip.with_suffix(".json").read_text())
    assert main(["analyze", str(video)]) == 0
    lines = _lines(capsys)
    events = [x for x in lines if "kind" in x]
    (truth,) = labels["events"]
    assert [e["kind"] for e in events] == ["landslide"]
    assert truth["start_s"] <= events[0]["start_s"] <= truth["start_s"] + 10.0
    (proposal,) = [x["road_proposal"] for x in lines if "road_proposal" in x]
    road = next(r for r in labels["rois"] if r.startswith("road="))
    assert _iou(proposal, road, (360, 640)) >= 0.6


@pytest.mark.skipif(not VTEST.is_file(), reason="real footage not fetched (scripts/fetch_footage.sh)")
def test_real_footage_road_proposal_overlaps_the_drawn_road(models) -> None:
    result = analyze_video(VTEST, [], FAST, models)
    assert result.records == []
    assert result.road_proposal is not None
    assert _iou(result.road_proposal, VTEST_ROAD, (240, 320)) >= 0.5


def test_heartbeat_carries_the_proposal_and_refuses_points_off_the_frame() -> None:
    from pydantic import ValidationError

    from gridwatch.wire import CameraHealth

    base = {"camera_id": "cam-1", "status": "online", "fps_in": 1.0, "fps_analysed": 1.0, "decode_errors": 0}
    cam = CameraHealth(**base, road_proposal=[[0, 0.5], [1, 0.45], [1, 0.9]])
    again = CameraHealth.model_validate_json(cam.model_dump_json())
    assert again.road_proposal == [(0.0, 0.5), (1.0, 0.45), (1.0, 0.9)]
    assert CameraHealth(**base).road_proposal is None
    with pytest.raises(ValidationError):
        CameraHealth(**base, road_proposal=[[0, 1.5], [1, 0.45], [1, 0.9]])
