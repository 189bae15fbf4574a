"""CameraPipeline directly, with frames made in memory: offline via tick(), health figures, snapshots,
warm-up, and the ONNX block classifier's contract."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np

from edge.detectors_blocks import N_FEATURES, block_features
from edge.frames import Frame
from edge.pipeline import CameraPipeline
from gridwatch.config import DetectionSettings, parse_roi
from gridwatch.wire import EventKind, Phase
from tests.detection import synth

T0 = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def frames(fn, start: float, stop: float, step: float = 1.0):
    t = start
    while t < stop:
        yield Frame(fn(t), t, T0 + timedelta(seconds=t))
        t += step


def test_offline_raised_by_tick_and_cleared_when_frames_return(models) -> None:
    pipe = CameraPipeline("cam-1", [], DetectionSettings(offline_after_s=20.0), models)
    clip = synth.clean()
    for f in frames(clip, 0, 10):
        assert pipe.process(f) == []
    assert pipe.tick(25.0, T0 + timedelta(seconds=25)) == []  # 16 s since the last frame
    raised = pipe.tick(29.5, T0 + timedelta(seconds=29.5))
    assert [(e.kind, e.phase) for e in raised] == [(EventKind.CAMERA_OFFLINE, Phase.ONSET)]
    assert pipe.faults == [EventKind.CAMERA_OFFLINE]
    assert pipe.tick(40.0, T0 + timedelta(seconds=40)) == []  # one fault, one event
    back = pipe.process(Frame(clip(41.0), 41.0, T0 + timedelta(seconds=41)))
    assert [(e.kind, e.phase) for e in back] == [(EventKind.CAMERA_OFFLINE, Phase.CLEAR)]
    assert back[0].event_id == raised[0].event_id
    assert pipe.faults == []


def test_a_camera_that_never_sends_a_frame_goes_offline(models) -> None:
    pipe = CameraPipeline("cam-2", [], DetectionSettings(offline_after_s=20.0), models)
    assert pipe.tick(100.0, T0) == []
    assert [e.kind for e in pipe.tick(121.0, T0)] == [EventKind.CAMERA_OFFLINE]


def test_health_scores_and_faults_for_heartbeats(models) -> None:
    pipe = CameraPipeline("cam-3", [parse_roi(synth.ROAD_ROI)], DetectionSettings(fault_persist_s=3), models)
    clip = synth.fault("dark", at=20.0)
    steps = []
    for f in frames(clip, 0, 30):
        steps += pipe.process(f)
    assert pipe.learning is False
    assert {"brightness", "sharpness", "sharp_ratio", "shift_px"} <= set(pipe.scores)
    assert pipe.faults == [EventKind.CAMERA_TOO_DARK]
    onset = next(e for e in steps if e.phase == Phase.ONSET)
    assert onset.snapshot_jpeg is not None and onset.snapshot_jpeg[:3] == b"\xff\xd8\xff"
    assert 20.0 <= onset.start_s <= 26.0


def test_nothing_is_raised_while_learning_the_scene(models) -> None:
    # debris is already there when the camera starts: it is part of the scene it learns
    settings = DetectionSettings(landslide_persist_s=1)
    pipe = CameraPipeline("cam-4", [parse_roi(synth.ROAD_ROI)], settings, models)
    clip = synth.landslide(at=0.0)
    out = []
    for f in frames(clip, 0, 40):
        out += pipe.process(f)
    assert out == []


def test_larger_frames_are_scaled_to_the_analysis_size(models) -> None:
    pipe = CameraPipeline("cam-5", [], DetectionSettings(), models)
    big = np.repeat(np.repeat(synth.clean()(1.0), 2, axis=0), 2, axis=1)
    assert pipe.process(Frame(big, 1.0, T0)) == []
    assert pipe.scores["brightness"] > 0


def test_block_classifier_gives_probabilities_for_every_block(models) -> None:
    clip = synth.clean()
    ref = clip(0.0).astype(np.float32)
    st = block_features(clip(5.0), ref)
    assert st.features.shape[-1] == N_FEATURES and np.isfinite(st.features).all()
    probs = models.classify_blocks(st.features.reshape(-1, N_FEATURES))
    assert probs.shape == (st.features.shape[0] * st.features.shape[1], 4)
    assert np.allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    debris = synth.landslide(at=0.0)(10.0)
    probs_d = models.classify_blocks(block_features(debris, ref).features.reshape(-1, N_FEATURES))
    # the debris region reads as debris, the untouched scene as benign
    assert float((probs_d.argmax(1) == 1).mean()) > 0.05
    assert float((probs.argmax(1) == 0).mean()) > 0.9
