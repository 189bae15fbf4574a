"""Event steps to wire alerts: onsets held for their clip, order kept, clips that decode, status."""

from __future__ import annotations

import base64
import io
from datetime import UTC, datetime, timedelta

import av
import numpy as np

from edge.alerts import ClipJobs, StepQueue, to_alert, with_clip
from edge.clips import FrameRing, encode_mp4
from edge.events import Event
from edge.frames import Frame
from edge.heartbeat import RateMeter, camera_status, clean_scores
from gridwatch.wire import Alert, CameraStatus, EventKind, Phase

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)


def event(kind: EventKind, phase: Phase, t: float, eid: str = "e" * 32) -> Event:
    start = t if phase is Phase.ONSET else t - 2.0
    return Event(kind=kind, phase=phase, event_id=eid, t=t, start_s=start,
                 score=0.8, bbox=(0.1, 0.2, 0.5, 0.9), region="road", snapshot_jpeg=None, details={"a": 1})


def frame(t: float, value: int = 0) -> Frame:
    img = np.full((180, 320, 3), value, np.uint8)
    img[:, : 160] = 255 - value
    return Frame(image=img, t=t, wall=NOW + timedelta(seconds=t))


def test_onsets_want_a_clip_and_steps_keep_their_order() -> None:
    q = StepQueue(clip_pre_s=2.0, clip_post_s=3.0)
    q.add(event(EventKind.LANDSLIDE, Phase.ONSET, 10.0), NOW, now_mono=0.0)
    q.add(event(EventKind.LANDSLIDE, Phase.UPDATE, 11.0), NOW, now_mono=1.0)
    q.add(event(EventKind.CAMERA_OFFLINE, Phase.ONSET, 12.0), NOW, now_mono=1.0)
    steps = q.take()
    assert [(s.event.phase, s.want_clip) for s in steps] == [(Phase.ONSET, True), (Phase.UPDATE, False),
                                                            (Phase.ONSET, False)]  # offline: no clip
    assert len(q) == 0
    q.add(event(EventKind.FLOODING, Phase.ONSET, 13.0), NOW, now_mono=2.0)
    q.put_back(steps[1:])  # could not be stored: they go before the newer step
    assert [s.event.t for s in q.take()] == [11.0, 12.0, 13.0]


def test_clip_is_due_when_recorded_or_when_frames_stop() -> None:
    jobs = ClipJobs(clip_pre_s=2.0, clip_post_s=3.0)
    alert = to_alert("edge-01", "cam-001", event(EventKind.LANDSLIDE, Phase.ONSET, 10.0), 0, NOW, None)
    jobs.add(alert, 10.0, send_by=6.0)
    assert jobs.due(latest_t=12.0, now_mono=2.0) == []          # 3 s after onset not yet recorded
    ((job, window),) = jobs.due(latest_t=13.0, now_mono=3.0)
    assert window == (8.0, 13.0) and job.alert is alert and len(jobs) == 0
    jobs.add(alert, 10.0, send_by=6.0)
    assert jobs.due(latest_t=10.0, now_mono=5.0) == []
    assert len(jobs.due(latest_t=10.0, now_mono=6.5)) == 1    # post + margin of wall time passed
    jobs.add(alert, 10.0, send_by=6.0)
    assert len(jobs.due(latest_t=None, now_mono=0.0, force=True)) == 1  # on stop


def test_ring_is_bounded_and_clip_decodes() -> None:
    ring = FrameRing(seconds=4.0, fps=2.0)
    for i in range(40):
        ring.add(frame(i * 0.5, value=i * 5))
    assert len(ring.window(0.0, 100.0)) == ring.capacity == 10
    clip = encode_mp4(ring.window(15.0, 19.5), fps=2.0)
    assert clip is not None and clip[4:8] == b"ftyp"
    with av.open(io.BytesIO(clip)) as container:
        pictures = [f.to_ndarray(format="bgr24") for f in container.decode(video=0)]
    assert len(pictures) == 10 and pictures[0].shape == (180, 320, 3)
    assert encode_mp4([], fps=2.0) is None


def test_alert_carries_the_step_with_a_stable_id_and_valid_media() -> None:
    ring = FrameRing(seconds=4.0, fps=2.0)
    for i in range(6):
        ring.add(frame(i * 0.5))
    clip = encode_mp4(ring.window(0, 10), fps=2.0)
    ev = event(EventKind.LANDSLIDE, Phase.UPDATE, 30.0)
    a = to_alert("edge-01", "cam-001", ev, 7, NOW, clip)
    bare = to_alert("edge-01", "cam-001", ev, 7, NOW, None)
    assert bare.clip_mp4 is None and with_clip(bare, clip) == a and with_clip(bare, None) is None
    assert a.id == to_alert("edge-01", "cam-001", ev, 7, NOW, clip).id
    assert a.id != to_alert("edge-01", "cam-001", ev, 8, NOW, clip).id
    assert a.seq == 7 and a.started_at == NOW - timedelta(seconds=2.0) and a.video_time_s == 30.0
    again = Alert.model_validate_json(a.model_dump_json())      # what the hub will validate
    assert base64.b64decode(again.clip_mp4 or "")[4:8] == b"ftyp"


def test_camera_status_and_scores() -> None:
    assert camera_status(None, NOW, 20, []) is CameraStatus.OFFLINE
    assert camera_status(NOW - timedelta(seconds=30), NOW, 20, []) is CameraStatus.OFFLINE
    assert camera_status(NOW, NOW, 20, [EventKind.CAMERA_BLURRED]) is CameraStatus.DEGRADED
    assert camera_status(NOW, NOW, 20, []) is CameraStatus.ONLINE
    assert clean_scores({"a": 1, "b": float("nan"), "c": True, "d": "x", "e": 0.123456}) == {"a": 1.0,
                                                                                           "e": 0.1235}
    meter = RateMeter(window_s=10)
    assert meter.rate(0, 0.0) == 0.0
    assert meter.rate(20, 10.0) == 2.0
