"""Decoding decisions: key frames only when they suffice, one scale, monotonic camera time."""

from __future__ import annotations

import itertools
from collections.abc import Callable

import numpy as np
import pytest

from edge.backoff import Backoff
from edge.decode import DecodePlan, FrameClock, KeyframeGate, Sampler, analysis_size, scale_bgr
from edge.rate import Activity, RatePolicy


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


def test_sampler_keeps_the_exact_rate_on_a_grid() -> None:
    # 25 fps at 1 frame/s: the 5 % slack takes the frame at 0.96 s, but the next slot is still 2.0 s,
    # so the rate stays 1 frame/s instead of every 24th frame (1.04 per second).
    s = Sampler(1.0)
    due = [i / 25 for i in range(25 * 100) if s.due(i / 25)]
    assert len(due) == 101  # the slots at 0, 1, ..., 100 s (the last one's frame at 99.96 s)
    assert all(0.95 <= b - a <= 1.05 for a, b in itertools.pairwise(due))


def test_sampler_moves_its_grid_onto_a_key_frame_just_before_a_slot() -> None:
    # 10 fps; slots start at 0.0; key frames every 2 s from 0.8 s (as after a stall restarted the
    # grid off a key frame). The key frame at 0.8 s stands in for the slot at 1.0 s, and from then on
    # every key frame is a slot.
    s = Sampler(1.0)
    keys = {round(0.8 + 2 * k, 1) for k in range(10)}
    frames = [(round(i / 10, 1), round(i / 10, 1) in keys) for i in range(10 * 20)]
    due = [(t, key) for t, key in frames if s.due(t, key)]
    assert {t for t, key in due if key} == keys
    gaps = [b - a for (a, _), (b, _) in itertools.pairwise(due)]
    assert min(gaps) >= 0.75            # the move shortened one gap by at most a quarter period
    assert max(gaps) <= 1.0 + 1e-9
    assert len(due) == 21               # 0.0, then one per second from 0.8 s to 19.8 s


def test_sampler_takes_no_key_frame_long_before_its_slot_and_no_burst_after_a_stall() -> None:
    s = Sampler(1.0)
    assert s.due(0.0)
    assert not s.due(0.5, key_frame=True)  # half a period early: the slot at 1.0 s waits
    assert s.due(1.0)
    assert s.skip_deadline() == 2.0 + 0.05
    assert s.due(7.3)                    # after a stall: taken at once ...
    assert not s.due(7.5) and not s.due(8.2)  # ... and the grid restarts there: no catch-up burst
    assert s.due(8.3)
    assert Sampler(1.0).skip_deadline() is None


def simulate(plan: DecodePlan, fps: int, gop: int, seconds: float, watched: bool = False,
             burst: bool = True) -> tuple[int, list[float]]:
    """A decoder honouring ``skip_frame`` as FFmpeg does for a stream without B-frames, fed as the
    reader feeds it (held packets decoded, in order, before the next one): frames decoded, and camera
    times of the frames analysis took."""
    decoded, taken, held = 0, [], []
    for i in range(round(seconds * fps)):
        t, key = i / fps, i % gop == 0
        plan.packet(key)
        if burst and plan.hold(key, t, len(held), watched):
            held.append((t, key))
            continue
        for tp, kp in (*held, (t, key)):
            if plan.skip_mode == "NONKEY" and not kp:
                continue
            decoded += 1
            if plan.frame(tp, kp, watched, pts_s=tp):
                taken.append(tp)
        held.clear()
    return decoded, taken


def test_decode_plan_holds_packets_for_one_burst_and_that_changes_no_decision() -> None:
    plan = DecodePlan(analysis_fps=1.0)
    assert not plan.hold(False, 0.0, 0)                    # nothing known yet: decode at once
    holds = []
    hold = plan.hold
    plan.hold = lambda *a, **k: holds.append(hold(*a, **k)) or holds[-1]  # type: ignore[method-assign]
    with_burst = simulate(plan, fps=25, gop=50, seconds=30)
    plan.hold = hold  # type: ignore[method-assign]
    assert sum(holds) >= 14 * 22                           # most packets of each later GOP waited
    without = simulate(DecodePlan(analysis_fps=1.0), fps=25, gop=50, seconds=30, burst=False)
    assert with_burst == without                           # the same frames decoded and taken
    nxt = plan.sampler.next_slot
    assert nxt is not None and plan.gate.interval is not None
    plan.rest_of_gop = False
    assert plan.hold(False, nxt - 0.5, 0)                  # before the next slot's window: may wait
    assert not plan.hold(False, nxt - 0.01, 0)             # in the window: decode now
    assert not plan.hold(True, nxt - 0.5, 0)               # a key frame: decode now
    assert not plan.hold(False, nxt - 0.5, 0, watched=True)  # a viewer wants every frame now
    assert not plan.hold(False, None, 0)                   # no timestamp: decode now
    assert not plan.hold(False, nxt - 0.5, DecodePlan.MAX_HELD)  # bounded


def test_decode_plan_skips_the_rest_of_a_2s_gop_and_keeps_every_slot() -> None:
    plan = DecodePlan(analysis_fps=1.0)
    decoded, taken = simulate(plan, fps=25, gop=50, seconds=60)
    assert len(taken) == 60                                     # 1 frame/s, exactly
    assert all(0.95 <= b - a <= 1.05 for a, b in itertools.pairwise(taken))
    # Every key frame is taken, except the first GOP's last (its 1.96 s frame serves that slot).
    assert {t for t in taken if round(t * 25) % 50 == 0} == {2.0 * k for k in range(30)} - {2.0}
    # The first GOP is decoded whole (its key interval is not known yet); every later one only up
    # to the frame at 0.96 s: the key frame and 24 more.
    assert decoded == 50 + 29 * 25
    assert not plan.keyframes_only


def test_decode_plan_key_frames_only_when_they_suffice_and_everything_while_watched() -> None:
    plan = DecodePlan(analysis_fps=1.0)
    decoded, taken = simulate(plan, fps=25, gop=25, seconds=20)
    assert plan.keyframes_only
    assert len(taken) == 20 and decoded == 25 + 19          # first GOP whole, then key frames
    watched = DecodePlan(analysis_fps=1.0)
    decoded, taken = simulate(watched, fps=25, gop=50, seconds=20, watched=True)
    assert decoded == 500 and len(taken) == 21               # the viewer gets every frame
    assert watched.skip_mode == "DEFAULT"


def test_decode_plan_on_a_gop_that_is_not_a_multiple_of_the_period() -> None:
    # A key frame every 1.5 s at 1 frame/s: slots fall between key frames; nothing due is skipped.
    plan = DecodePlan(analysis_fps=1.0)
    decoded, taken = simulate(plan, fps=25, gop=round(1.5 * 25), seconds=30)
    assert len(taken) == 30
    # A key frame just after a slot (within its 5 % slack) serves it: gaps of up to 1.05 s + a frame.
    assert all(0.95 <= b - a <= 1.05 + 1 / 25 for a, b in itertools.pairwise(taken))
    assert decoded < 0.6 * 25 * 30


def test_decode_plan_after_a_reconnect_decodes_everything_until_it_knows_again() -> None:
    plan = DecodePlan(analysis_fps=1.0)
    simulate(plan, fps=25, gop=50, seconds=10)
    plan.new_pass()
    assert plan.skip_mode == "DEFAULT"
    decoded, taken = simulate(plan, fps=25, gop=50, seconds=10)
    assert len(taken) == 10
    assert decoded == 5 * 25  # the key interval was kept: the GOP skip starts with the first GOP


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


# -- the adaptive rate: key frames while quiet, parked packets decoded when dense frames are asked --


def simulate_adaptive(plan: DecodePlan, fps: int, gop: int, seconds: float,
                      wants: Callable[[float], float], reorder_at: float | None = None,
                      late: int = 0) -> tuple[list[float], list[float]]:
    """Packets of a stream without B-frames through the reader's loop (park, hold, drop, decode) with
    an analysis that answers ``wants(t)`` (its new dense_until) for each frame taken, ``late``
    packets later (it runs in another thread). Checks that no P frame is decoded whose predecessor
    was not (its reference would be missing). Returns the stream times decoded and taken."""
    decoded: list[float] = []
    taken: list[float] = []
    held: list[tuple[float, bool]] = []
    answers: list[tuple[int, float]] = []  # (packet index it arrives at, dense_until)
    prev_decoded = True
    for i in range(round(seconds * fps)):
        while answers and answers[0][0] <= i:
            plan.dense_until = answers.pop(0)[1]
        t, key = i / fps, i % gop == 0
        plan.packet(key)
        if plan.park(key, t, len(held)) or plan.hold(key, t, len(held)):
            held.append((t, key))
            continue
        if held and plan.drop_parked(key, t):
            held.clear()
            prev_decoded = False
        for tp, kp in (*held, (t, key)):
            if plan.skip_mode == "NONKEY" and not kp:
                prev_decoded = False
                continue
            assert kp or prev_decoded, f"P frame at {tp} decoded without its reference"
            prev_decoded = True
            decoded.append(tp)
            gives = 0 if reorder_at is not None and tp >= reorder_at and not kp else 1
            plan.decoded(kp, gives)
            if gives and plan.frame(tp, kp, pts_s=tp):
                taken.append(tp)
                answers.append((i + 1 + late, wants(tp)))
        held.clear()
    return decoded, taken


def busy_between(t0: float, t1: float) -> Callable[[float], float]:
    """The analysis: a RatePolicy shown something at frames in [t0, t1], nothing otherwise."""
    policy = RatePolicy(hold_s=10.0)
    return lambda t: policy.judge(t, Activity(near_road=t0 <= t <= t1))


def test_quiet_scene_decodes_key_frames_only_and_busy_one_every_slot() -> None:
    quiet = DecodePlan(analysis_fps=1.0, adaptive=True)
    decoded, taken = simulate_adaptive(quiet, fps=25, gop=50, seconds=60, wants=busy_between(-1, -1))
    # The first GOP is decoded whole (its key interval is unknown), then only key frames.
    assert decoded[50:] == [2.0 * k for k in range(1, 30)]
    assert taken[3:] == [2.0 * k for k in range(2, 30)]     # (the first GOP: 0, 0.96, 1.96 s)
    busy = DecodePlan(analysis_fps=1.0, adaptive=True)
    decoded_b, taken_b = simulate_adaptive(busy, fps=25, gop=50, seconds=60, wants=busy_between(0, 60))
    fixed = DecodePlan(analysis_fps=1.0)
    assert (len(decoded_b), taken_b) == simulate(fixed, fps=25, gop=50, seconds=60)  # the fixed rate
    assert len(taken_b) == 60


@pytest.mark.parametrize("late", [0, 10, 40])
def test_a_call_for_dense_frames_decodes_the_parked_packets_and_serves_the_next_slot(late: int) -> None:
    # Quiet; the key frame at 20 s shows something until 26 s; quiet again 10 s after (36 s). The
    # analysis answers ``late`` packets after each frame: its call for dense frames then comes
    # mid-GOP, and what was parked since the key frame is decoded first, in order (the helper checks
    # that every P frame had its reference).
    plan = DecodePlan(analysis_fps=1.0, adaptive=True)
    decoded, taken = simulate_adaptive(plan, fps=25, gop=50, seconds=50, wants=busy_between(20, 26),
                                       late=late)
    after = [round(t) for t in taken if t >= 14.0]
    assert after[:3] == [14, 16, 18]                          # quiet: key frames
    assert after[3:20] == list(range(20, 37))                 # dense from 20 s: every slot, 1 frame/s
    assert after[20:] == [38, 40, 42, 44, 46, 48]             # quiet again
    assert [t for t in decoded if 18.0 <= t < 20.0] == [18.0]  # before: key frames only
    assert {20.48, 20.96} <= set(decoded)                      # the parked packets, decoded


def test_never_quiet_while_watched_with_a_long_gop_or_a_reordering_decoder() -> None:
    plan = DecodePlan(analysis_fps=1.0, adaptive=True)
    simulate_adaptive(plan, fps=25, gop=50, seconds=10, wants=lambda t: 0.0)
    assert plan.quiet_at(10.0)
    assert not plan.quiet_at(10.0, watched=True)            # a live viewer wants every frame
    plan.dense_until = 12.0
    assert not plan.quiet_at(11.9) and plan.quiet_at(12.0)
    assert not DecodePlan(analysis_fps=1.0).quiet_at(10.0)  # not adaptive: the fixed rate
    long_gop = DecodePlan(analysis_fps=1.0, adaptive=True)
    _, taken = simulate_adaptive(long_gop, fps=25, gop=125, seconds=30, wants=lambda t: 0.0)
    assert len(taken) == 30                                 # key frames 5 s apart: always dense
    bframes = DecodePlan(analysis_fps=1.0, adaptive=True)
    # (B-frames show in the first GOP, which is decoded whole)
    decoded, _ = simulate_adaptive(bframes, fps=25, gop=50, seconds=30, wants=lambda t: 0.0, reorder_at=1.0)
    assert bframes.reorders and not bframes.quiet_at(30.0)
    assert len(decoded) == 25 * 30                          # nothing parked: the decoder gets it all
