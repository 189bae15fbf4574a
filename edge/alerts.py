"""From pipeline event steps to wire alerts; onsets wait (stored, held) for their clip.

Clip policy (the choice documented for the hub): an onset is sent *with* its clip. It is stored in
the outbox the moment it is detected, but *held* there until ``clip_post_s`` of frames after it have
been analysed (or, if frames stop coming, until that much wall time plus a margin has passed), then
completed with the clip and released. That delays an onset by ``clip_post_s`` (5 s by default) and
saves the hub from stitching a follow-up. The held row blocks its camera's lane, so later steps
(stored behind it) keep per-camera order and ``seq``; a worker killed meanwhile loses nothing (the
next start releases the onset without its clip). ``camera_offline`` carries no clip (there are no
frames to show) and is never held. Updates and clears carry their snapshot but no clip.
"""

from __future__ import annotations

import base64
from collections import deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from edge.events import Event
from gridwatch.wire import MAX_CLIP_BYTES, MAX_SNAPSHOT_BYTES, Alert, EventKind, Phase, stable_id

#: Extra wall seconds an onset waits for post-onset frames before it goes out without them.
HOLD_MARGIN_S = 3.0


@dataclass(slots=True)
class PendingStep:
    event: Event
    wall: datetime            # wall-clock time of this step
    send_by: float            # monotonic time after which it goes out whatever the clip
    want_clip: bool


def to_alert(node_id: str, camera_id: str, ev: Event, seq: int, wall: datetime,
             clip: bytes | None) -> Alert:
    """The wire alert for one step; ``id`` is stable for (node, camera, event, phase, seq)."""
    age = max(0.0, ev.t - ev.start_s)
    snapshot = ev.snapshot_jpeg if ev.snapshot_jpeg and len(ev.snapshot_jpeg) <= MAX_SNAPSHOT_BYTES else None
    clip = clip if clip and len(clip) <= MAX_CLIP_BYTES else None
    return Alert(
        id=stable_id(node_id, camera_id, ev.event_id, ev.phase.value, seq),
        event_id=ev.event_id,
        node_id=node_id,
        camera_id=camera_id,
        kind=ev.kind,
        phase=ev.phase,
        seq=seq,
        raised_at=wall,
        started_at=wall - timedelta(seconds=age),
        video_time_s=max(0.0, ev.t),
        score=min(1.0, max(0.0, float(ev.score))),
        bbox=ev.bbox,
        region=ev.region,
        snapshot_jpeg=base64.b64encode(snapshot).decode() if snapshot else None,
        clip_mp4=base64.b64encode(clip).decode() if clip else None,
        details=dict(ev.details),
    )


def with_clip(alert: Alert, clip: bytes | None) -> Alert | None:
    """The alert with its clip attached, validated as the hub will; None when there is no clip."""
    if not clip or len(clip) > MAX_CLIP_BYTES:
        return None
    return Alert.model_validate({**alert.model_dump(), "clip_mp4": base64.b64encode(clip).decode()})


class StepQueue:
    """One camera's event steps not yet stored (normally for an instant; longer on a full disk)."""

    def __init__(self, clip_pre_s: float, clip_post_s: float) -> None:
        self.pre_s, self.post_s = clip_pre_s, clip_post_s
        self._steps: deque[PendingStep] = deque()

    def __len__(self) -> int:
        return len(self._steps)

    def wants_clip(self, ev: Event) -> bool:
        """Whether ``ev`` is held for a clip: an onset with frames to show."""
        return (ev.phase is Phase.ONSET and ev.kind is not EventKind.CAMERA_OFFLINE
                and self.pre_s + self.post_s > 0)

    def add(self, ev: Event, wall: datetime, now_mono: float) -> None:
        self._steps.append(PendingStep(ev, wall, now_mono + self.post_s + HOLD_MARGIN_S, self.wants_clip(ev)))

    def take(self) -> list[PendingStep]:
        """All waiting steps, in order (give back what could not be stored with ``put_back``)."""
        out = list(self._steps)
        self._steps.clear()
        return out

    def put_back(self, steps: list[PendingStep]) -> None:
        """Return steps that could not be stored (full disk), ahead of newer ones, in their order."""
        self._steps.extendleft(reversed(steps))


@dataclass(slots=True)
class ClipJob:
    alert: Alert              # as stored (held), without clip
    t: float                  # camera time of the onset
    send_by: float            # monotonic time after which it goes out with what clip there is


class ClipJobs:
    """One camera's held onsets, each waiting until the frames after it are recorded."""

    def __init__(self, clip_pre_s: float, clip_post_s: float) -> None:
        self.pre_s, self.post_s = clip_pre_s, clip_post_s
        self._jobs: list[ClipJob] = []

    def __len__(self) -> int:
        return len(self._jobs)

    def add(self, alert: Alert, t: float, send_by: float) -> None:
        self._jobs.append(ClipJob(alert, t, send_by))

    def due(self, latest_t: float | None, now_mono: float,
            force: bool = False) -> list[tuple[ClipJob, tuple[float, float]]]:
        """Jobs whose clip can be made now, each with its window (t0, t1) of camera time."""
        out, keep = [], []
        for job in self._jobs:
            recorded = latest_t is not None and latest_t >= job.t + self.post_s
            if recorded or force or now_mono >= job.send_by:
                out.append((job, (job.t - self.pre_s, job.t + self.post_s)))
            else:
                keep.append(job)
        self._jobs = keep
        return out

    def put_back(self, jobs: list[ClipJob]) -> None:
        self._jobs = jobs + self._jobs
