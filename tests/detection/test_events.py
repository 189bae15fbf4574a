"""The event state machine on pure inputs: persistence, gaps, updates, clearing, hysteresis."""

from __future__ import annotations

import pytest

from edge.events import EventTracker, Hysteresis
from gridwatch.wire import EventKind, Phase, stable_id


def feed(tr: EventTracker, steps: list[tuple[float, bool]]) -> list[tuple[float, Phase]]:
    out = []
    for t, active in steps:
        ev = tr.observe(t, active, 0.8, (0.1, 0.2, 0.3, 0.4), "road", {"x": 1})
        if ev:
            out.append((t, ev.phase))
    return out


def test_onset_only_after_persistence() -> None:
    tr = EventTracker("cam", EventKind.ROAD_BLOCKAGE, persist_s=5, clear_s=10, update_every_s=60)
    got = feed(tr, [(float(t), True) for t in range(0, 8)])
    assert got == [(5.0, Phase.ONSET)]
    assert tr.standing


def test_short_condition_raises_nothing() -> None:
    tr = EventTracker("cam", EventKind.ROAD_BLOCKAGE, persist_s=5, clear_s=10, update_every_s=60)
    steps = [(float(t), 2 <= t < 6) for t in range(0, 20)]  # 4 s: a car stopping briefly
    assert feed(tr, steps) == []
    assert not tr.standing


def test_gap_shorter_than_gap_s_does_not_restart_persistence() -> None:
    tr = EventTracker("cam", EventKind.ROAD_BLOCKAGE, persist_s=5, clear_s=10, update_every_s=60, gap_s=2)
    steps = [(0.0, True), (1.0, True), (2.0, False), (3.0, True), (4.0, True), (5.0, True)]
    assert feed(tr, steps) == [(5.0, Phase.ONSET)]


def test_gap_longer_than_gap_s_restarts_persistence() -> None:
    tr = EventTracker("cam", EventKind.ROAD_BLOCKAGE, persist_s=5, clear_s=10, update_every_s=60, gap_s=1)
    steps = [(0.0, True), (1.0, True), (2.0, False), (3.0, False), (4.0, True), (5.0, True), (9.0, True)]
    assert feed(tr, steps) == [(9.0, Phase.ONSET)]


def test_updates_throttled_and_clear_after_clear_s() -> None:
    tr = EventTracker("cam", EventKind.FLOODING, persist_s=2, clear_s=10, update_every_s=30)
    steps = [(float(t), t < 80) for t in range(0, 100)]
    got = feed(tr, steps)
    phases = [p for _, p in got]
    assert phases[0] == Phase.ONSET and phases[-1] == Phase.CLEAR
    updates = [t for t, p in got if p == Phase.UPDATE]
    assert updates == [32.0, 62.0]
    assert got[-1][0] == 90.0  # normal from 80 s, clear_s 10


def test_brief_normal_does_not_clear() -> None:
    tr = EventTracker("cam", EventKind.CAMERA_BLURRED, persist_s=1, clear_s=10, update_every_s=600)
    steps = [(float(t), not (20 <= t < 25)) for t in range(0, 40)]
    assert [p for _, p in feed(tr, steps)] == [Phase.ONSET]


def test_event_id_is_stable_and_shared() -> None:
    tr = EventTracker("cam-7", EventKind.LANDSLIDE, persist_s=0, clear_s=1, update_every_s=1)
    on = tr.observe(3.0, True)
    up = tr.observe(4.5, True)
    clear = tr.observe(6.0, False) or tr.observe(7.0, False)
    assert on and up and clear
    assert on.event_id == up.event_id == clear.event_id == stable_id("cam-7", "landslide", "3.000")
    assert clear.start_s == 3.0 and clear.t == 7.0 and clear.phase == Phase.CLEAR


def test_raise_now_and_clear_now() -> None:
    tr = EventTracker("cam", EventKind.CAMERA_OFFLINE, 0, 0, 60)
    assert tr.clear_now(1.0) is None
    ev = tr.raise_now(5.0, 1.0)
    assert ev is not None and ev.phase == Phase.ONSET
    assert tr.raise_now(6.0, 1.0) is None  # one fault, one event
    cl = tr.clear_now(9.0)
    assert cl is not None and cl.phase == Phase.CLEAR and cl.event_id == ev.event_id


def test_hysteresis_high_is_bad() -> None:
    h = Hysteresis(on_at=0.6, off_at=0.4)
    assert [h.update(v) for v in (0.5, 0.61, 0.5, 0.45, 0.41, 0.39, 0.5, 0.6)] == \
        [False, True, True, True, True, False, False, True]


def test_hysteresis_low_is_bad() -> None:
    h = Hysteresis(on_at=20, off_at=30, high_is_bad=False)
    assert [h.update(v) for v in (25, 19, 25, 29, 31, 25)] == [False, True, True, True, False, False]


def test_hysteresis_rejects_inverted_thresholds() -> None:
    with pytest.raises(ValueError):
        Hysteresis(on_at=0.4, off_at=0.6)
