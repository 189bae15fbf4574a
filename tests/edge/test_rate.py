"""The adaptive analysis rate as pure logic: what a frame showed -> until when frames stay dense."""

from __future__ import annotations

import math

import pytest

from edge.rate import Activity, RatePolicy

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
