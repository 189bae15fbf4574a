"""A pipeline for worker tests that need no detection: one onset at its third frame (a module-level
factory, so analysis processes, started with ``spawn``, can import it)."""

from __future__ import annotations

import uuid
from datetime import datetime

from edge.events import Event
from edge.frames import Frame
from gridwatch.config.schema import Camera
from gridwatch.wire import EventKind, Phase


class OnsetPipeline:
    """Counts frames; raises a flooding onset (an event id of its own) at the third."""

    def __init__(self, camera_id: str) -> None:
        self.camera_id = camera_id
        self.frames = 0
        self.event_id = uuid.uuid4().hex

    def process(self, frame: Frame) -> list[Event]:
        self.frames += 1
        if self.frames == 3:
            return [Event(kind=EventKind.FLOODING, phase=Phase.ONSET, event_id=self.event_id, t=frame.t,
                          start_s=frame.t, score=0.7, bbox=None, region="road", snapshot_jpeg=None,
                          details={})]
        return []

    def tick(self, t: float, wall: datetime) -> list[Event]:
        return []

    @property
    def faults(self) -> list[EventKind]:
        return []

    @property
    def scores(self) -> dict[str, float]:
        return {"frames": float(self.frames)}


def onset_pipeline(camera: Camera) -> OnsetPipeline:
    return OnsetPipeline(camera.id)
