"""From pipeline event steps to wire alerts, holding each onset until its clip is recorded.

Clip policy (the choice documented for the hub): an onset is sent *with* its clip, so it is held
until ``clip_post_s`` of frames after it have been analysed (or, if frames stop coming, until that
much wall time plus a margin has passed, then sent with whatever clip there is). That delays an
onset by ``clip_post_s`` (5 s by default) and saves the hub from stitching a follow-up. A camera's
later steps queue behind a held onset, so per-camera order (and ``seq``) stays the order of events.
``camera_offline`` carries no clip (there are no frames to show) and is never held. Updates and
clears carry their snapshot but no clip.
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


class StepQueue:
    """One camera's event steps waiting to be turned into alerts, in order."""

    def __init__(self, clip_pre_s: float, clip_post_s: float) -> None:
        self.pre_s, self.post_s = clip_pre_s, clip_post_s
        self._steps: deque[PendingStep] = deque()

    def __len__(self) -> int:
        return len(self._steps)

    def put_back(self, steps: list[PendingStep]) -> None:
        """Return steps taken by ``ready`` that could not be stored (full disk), in their order."""
        self._steps.extendleft(reversed(steps))

    def add(self, ev: Event, wall: datetime, now_mono: float) -> None:
        want = (ev.phase is Phase.ONSET and ev.kind is not EventKind.CAMERA_OFFLINE
                and self.pre_s + self.post_s > 0)
        self._steps.append(PendingStep(ev, wall, now_mono + self.post_s + HOLD_MARGIN_S, want))

    def ready(self, latest_t: float | None, now_mono: float,
              force: bool = False) -> list[tuple[PendingStep, tuple[float, float] | None]]:
        """Steps that may go now, each with its clip window (t0, t1) or None; stops at a held onset."""
        out: list[tuple[PendingStep, tuple[float, float] | None]] = []
        while self._steps:
            step = self._steps[0]
            if step.want_clip:
                t = step.event.t
                recorded = latest_t is not None and latest_t >= t + self.post_s
                if not (recorded or force or now_mono >= step.send_by):
                    break
                out.append((step, (t - self.pre_s, t + self.post_s)))
            else:
                out.append((step, None))
            self._steps.popleft()
        return out
