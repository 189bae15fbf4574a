"""The evaluation's matching rule and figures on hand-made inputs (pure)."""

from __future__ import annotations

from pathlib import Path

from edge.analyze import EventRecord
from edge.evaluate import Clip, ClipResult, Truth, match, score


def rec(kind: str, start: float) -> EventRecord:
    return EventRecord(kind=kind, start_s=start, end_s=None, score=0.9, bbox=None, event_id=f"{kind}{start}")


def test_match_by_family_and_window() -> None:
    truths = [Truth("landslide", 30.0, 60.0, None), Truth("camera_blurred", 70.0, None, None)]
    raised = [rec("road_blockage", 33.0), rec("camera_moved", 75.0), rec("landslide", 20.0),
              rec("flooding", 40.0)]
    pairs = match(truths, raised, duration_s=100.0)
    assert sorted(pairs) == [(0, 0), (1, 1)]  # family counts for matching; kind is scored apart


def test_figures_count_false_alarms_kind_accuracy_and_ttd() -> None:
    clip = Clip("c", Path("c.mp4"), 3600.0, [], [], [Truth("landslide", 30.0, None, None)])
    res = ClipResult(clip, [rec("road_blockage", 34.0), rec("road_blockage", 50.0)], 1.0)
    res.matches = match(clip.events, res.raised, clip.duration_s)
    neg = ClipResult(Clip("n", Path("n.mp4"), 3600.0, [], [], []), [rec("camera_frozen", 5.0)], 1.0)
    fig = score([res, neg])
    ob = fig["families"]["obstructions"]
    assert ob["recall"] == 1.0 and ob["precision"] == 0.5 and ob["kind_accuracy"] == 0.0
    assert ob["median_time_to_detect_s"] == 4.0
    assert fig["families"]["faults"]["false_alarms_on_negatives_per_camera_hour"] == 1.0
    assert fig["families"]["all"]["false_alarms_per_camera_hour"] == 1.0
    assert fig["landslides_within_5s"] == 1.0
    assert fig["faults_on_clean_clips"] == 1
