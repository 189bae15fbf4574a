"""Pipelines for worker tests that need no detection: one that counts frames and raises one onset at
its third frame, or none, or crashes on every frame; one that raises camera_moved at once
(module-level factories, so analysis processes, started with ``spawn``, can import them)."""

from __future__ import annotations

import uuid
from datetime import datetime

from edge.events import Event
from edge.frames import Frame
from gridwatch.config.schema import Camera
from gridwatch.wire import EventKind, Phase


class OnsetPipeline:
    """Counts frames; raises a flooding onset (an event id of its own) at frame ``at`` (None: never);
    ``broken``: raises RuntimeError on every frame instead, as a crashing detector does."""

    def __init__(self, camera_id: str, at: int | None = 3, broken: bool = False) -> None:
        self.camera_id, self.at, self.broken = camera_id, at, broken
        self.frames = 0
        self.width = 0
        self.event_id = uuid.uuid4().hex

    def process(self, frame: Frame) -> list[Event]:
        if self.broken:
            raise RuntimeError("detector crashed")
        self.frames += 1
        self.width = frame.width
        if self.frames == self.at:
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
        return {"frames": float(self.frames), "width": float(self.width)}


def onset_pipeline(camera: Camera) -> OnsetPipeline:
    return OnsetPipeline(camera.id)


def late_onset_pipeline(camera: Camera) -> OnsetPipeline:
    """The onset at the tenth frame (5 s into a 2 fps analysis: a clip's seconds before it exist)."""
    return OnsetPipeline(camera.id, at=10)


class MovedPipeline(OnsetPipeline):
    """Raises one camera_moved onset at its first frame or tick (a camera that needs no stream)."""

    def __init__(self, camera_id: str) -> None:
        super().__init__(camera_id, at=1)
        self.raised = False

    def _moved(self, t: float) -> list[Event]:
        if self.raised:
            return []
        self.raised = True
        return [Event(kind=EventKind.CAMERA_MOVED, phase=Phase.ONSET, event_id=self.event_id, t=t, start_s=t,
                      score=0.9, bbox=None, region=None, snapshot_jpeg=None, details={})]

    def process(self, frame: Frame) -> list[Event]:
        self.frames += 1
        return self._moved(frame.t)

    def tick(self, t: float, wall: datetime) -> list[Event]:
        return self._moved(t)


def moved_pipeline(camera: Camera) -> MovedPipeline:
    return MovedPipeline(camera.id)
