"""The adaptive analysis rate as pure logic: what a frame showed -> until when frames stay dense."""

from __future__ import annotations

import math

import numpy as np
import pytest

from edge.rate import Activity, RatePolicy, SkipGate

QUIET = Activity()


def test_dense_until_the_first_quiet_frame_then_key_frames() -> None:
    policy = RatePolicy(hold_s=10.0)
    assert policy.dense_until == math.inf                   # nothing judged yet: dense
    assert policy.judge(0.0, Activity(learning=True)) == 10.0
    assert policy.judge(14.0, Activity(learning=True)) == 24.0
    assert policy.judge(15.0, QUIET) == 24.0                # quiet, but held for hold_s
    assert policy.dense_at(23.9) and not policy.dense_at(24.0)
    assert RatePolicy().judge(3.0, QUIET) == 3.0            # quiet from the start: key frames at once


@pytest.mark.parametrize("field", ["learning", "fault_candidate", "near_road", "slope_motion",
                                   "event_pending"])
def test_anything_that_could_become_an_event_asks_for_dense_frames(field: str) -> None:
    policy = RatePolicy(hold_s=8.0)
    policy.judge(100.0, QUIET)
    assert not policy.dense_at(101.0)
    activity = Activity(**{field: True})
    assert not activity.quiet
    assert policy.judge(104.0, activity) == 112.0
    assert policy.dense_at(111.0)
    # it keeps being extended while it lasts, and lapses hold_s after the last sign
    assert policy.judge(110.0, activity) == 118.0
    assert policy.judge(112.0, QUIET) == 118.0
    assert not policy.dense_at(118.0)


def test_time_going_back_starts_afresh_densely() -> None:
    policy = RatePolicy(hold_s=5.0)
    policy.judge(50.0, QUIET)
    assert not policy.dense_at(51.0)
    assert policy.judge(2.0, QUIET) == 2.0                  # a new pass: judged again from this frame
    with pytest.raises(ValueError):
        RatePolicy(hold_s=-1.0)


def _noisy(seed: int, base: np.ndarray) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8)


SCENE = np.tile(np.linspace(40, 200, 320, dtype=np.float32), (180, 1))[..., None].repeat(3, axis=2)


def test_skip_gate_skips_an_unchanged_quiet_picture_and_nothing_else() -> None:
    gate = SkipGate()
    assert not gate.skip(0.0, _noisy(0, SCENE), dense=False)       # nothing to compare with: analysed
    assert gate.skip(2.0, _noisy(1, SCENE), dense=False)           # noise only: skipped
    assert not gate.skip(4.0, _noisy(2, SCENE), dense=True)        # dense frames are always analysed
    assert gate.skip(6.0, _noisy(3, SCENE), dense=False)
    assert not gate.skip(12.5, _noisy(4, SCENE), dense=False)      # 8.5 s since the last analysed one
    thing = SCENE.copy()
    thing[80:100, 150:170] = 30                                    # something appears (a 20 px patch)
    assert not gate.skip(14.5, _noisy(5, thing), dense=False)
    assert not gate.skip(16.5, _noisy(6, SCENE * 0.7), dense=False)  # the light drops by 30 %
    assert gate.skip(18.5, _noisy(7, SCENE * 0.7), dense=False)
    assert gate.skipped == 3


def test_skip_gate_leaves_a_frozen_picture_to_the_pipeline_and_asks_for_dense_frames() -> None:
    gate = SkipGate()
    gate.skip(0.0, _noisy(0, SCENE), dense=False)
    frozen = _noisy(1, SCENE)
    assert gate.skip(2.0, frozen, dense=False) and not gate.still_picture
    assert not gate.skip(4.0, frozen.copy(), dense=False)         # the same pixels again: analysed
    assert gate.still_picture                                      # (the pipeline asks for dense frames)
    assert gate.skip(6.0, _noisy(2, SCENE), dense=False) and not gate.still_picture  # moving again
