"""Decoding decisions: key frames only when they suffice, one scale, monotonic camera time."""

from __future__ import annotations

import itertools

import numpy as np

from edge.backoff import Backoff
from edge.decode import FrameClock, KeyframeGate, Sampler, analysis_size, scale_bgr


def test_keyframe_gate_learns_the_key_interval_and_notices_changes() -> None:
    gate = KeyframeGate(analysis_fps=1.0)
    assert not gate.suffices                         # unknown: decode everything
    for i in range(30):                              # 25 fps, a key frame every second
        gate.observe(i / 25, key_frame=i % 25 == 0)
    assert gate.suffices
    gate.new_pass()                                  # reconnect: what was learned is kept
    assert gate.suffices
    gate.observe(100.0, True)
    gate.observe(102.0, True)                        # the camera now sends a key frame every 2 s
    assert not gate.suffices
    assert KeyframeGate(analysis_fps=0.5).suffices is False
    half = KeyframeGate(analysis_fps=0.5)
    half.observe(0.0, True)
    half.observe(2.0, True)
    assert half.suffices


def test_analysis_size_keeps_aspect_and_never_upscales() -> None:
    assert analysis_size(1920, 1080, 320) == (320, 180)
    assert analysis_size(768, 576, 320) == (320, 240)
    assert analysis_size(200, 150, 320) == (200, 150)
    assert analysis_size(1921, 1081, 321)[0] == 321  # the analysis width is exact


def test_scale_bgr_shrinks_once() -> None:
    img = np.zeros((1080, 1920, 3), np.uint8)
    out = scale_bgr(img, (320, 180))
    assert out.shape == (180, 320, 3)
    assert scale_bgr(out, (320, 180)) is out


def test_sampler_picks_the_analysis_rate_from_a_faster_stream() -> None:
    s = Sampler(2.0)
    due = [i / 25 for i in range(250) if s.due(i / 25)]  # 10 s at 25 fps
    assert 19 <= len(due) <= 21
    assert all(b - a >= 0.475 - 1e-9 for a, b in itertools.pairwise(due))
    keys = Sampler(1.0)
    assert all(keys.due(i * 1.0 - 1e-6 * (i % 2)) for i in range(10))  # key frames 1 s apart


def test_sampler_rearms_after_time_jumps_back() -> None:
    s = Sampler(1.0)
    assert s.due(100.0)
    assert s.due(0.0)  # a restarted stream with fresh pts is analysed at once, not after 100 s


def test_looping_file_time_keeps_increasing() -> None:
    clock = FrameClock(live=False, created_mono=0.0)
    ts = []
    for loop in range(3):
        clock.new_pass()
        ts += [clock.t(i / 10, 1000.0 + loop * 4 + i / 10) for i in range(40)]
    assert all(b > a for a, b in itertools.pairwise(ts))
    assert ts[-1] >= 11.5  # three passes of 4 s


def test_live_time_follows_the_wall_clock_when_pts_jumps() -> None:
    clock = FrameClock(live=True, created_mono=0.0)
    a = clock.t(5.0, 1.0)
    b = clock.t(5.5, 1.5)
    c = clock.t(99999.0, 2.0)  # a wild pts jump
    d = clock.t(None, 2.5)     # no pts at all
    assert a < b < c < d
    assert c - b < 5.0


def test_live_outage_shows_as_a_gap_in_camera_time() -> None:
    clock = FrameClock(live=True, created_mono=0.0)
    clock.t(0.0, 10.0)
    before = clock.t(1.0, 11.0)
    assert 29.0 <= clock.now(40.0) - before <= 30.0 + 1e-6
    clock.new_pass()                  # reconnected: pts starts again from 0
    after = clock.t(0.0, 40.0)
    assert after - before >= 29.0


def test_backoff_is_capped_and_jittered() -> None:
    b = Backoff(base=0.5, cap=4.0)
    delays = [b.next() for _ in range(12)]
    assert max(delays) <= 4.0
    assert delays[0] <= 0.5
    assert len({round(d, 6) for d in delays[6:]}) > 1  # jittered, not all the same
    b.reset()
    assert b.next() <= 0.5
