"""``gridwatch analyze``: run the live pipeline over one video file and print its events.

The file is decoded with PyAV; only frames at the analysis rate are converted (scaled once to the
analysis width by the decoder's scaler) and handed to exactly the same :class:`CameraPipeline` an edge
worker runs. Without a camera config the pipeline learns the scene from the first seconds of the
video (WARMUP_S), as a newly installed camera would, so nothing is raised in that time.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from edge.adaptive_source import AdaptiveVideoError, adaptive_frames
from edge.events import Event
from edge.frames import Frame
from edge.models import ModelBundle, ModelError, load_models
from edge.pipeline import CameraPipeline
from gridwatch.config import DetectionSettings, Roi, load_town, parse_roi
from gridwatch.wire import Phase

#: Offline analysis uses a fixed wall clock so results do not depend on when they were computed.
_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


class VideoError(RuntimeError):
    """The video cannot be opened or decoded."""


@dataclass(slots=True)
class EventRecord:
    """One event over its life, as ``analyze`` prints it."""

    kind: str
    start_s: float
    end_s: float | None
    score: float
    bbox: list[float] | None
    event_id: str
    snapshot: bytes | None = None
    clear_snapshot: bytes | None = None
    details: dict[str, object] = field(default_factory=dict)

    def line(self) -> dict[str, object]:
        return {"kind": self.kind, "start_s": round(self.start_s, 2),
                "end_s": None if self.end_s is None else round(self.end_s, 2),
                "score": round(self.score, 3), "bbox": self.bbox}


def frames_of(video: Path, width: int, fps: float) -> Iterator[Frame]:
    """Frames of ``video`` at about ``fps`` per second, scaled to ``width``; t from the file's pts."""
    try:
        container = av.open(str(video))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open video {video}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise VideoError(f"{video} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        period = 1.0 / fps
        next_t: float | None = None
        height: int | None = None
        t0: float | None = None
        try:
            for vf in container.decode(stream):
                if vf.pts is None or vf.time_base is None:
                    continue
                t_raw = float(vf.pts * vf.time_base)
                if t0 is None:
                    t0 = min(0.0, t_raw)
                t = t_raw - t0
                if next_t is not None and t + 1e-6 < next_t:
                    continue
                next_t = (t if next_t is None else next_t) + period
                if next_t <= t:
                    next_t = t + period
                if height is None:
                    height = max(2, round(vf.height * width / vf.width / 2) * 2)
                img = vf.reformat(width=width, height=height, format="bgr24").to_ndarray()
                yield Frame(image=np.ascontiguousarray(img), t=t, wall=_EPOCH + timedelta(seconds=t))
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode {video}: {exc}") from exc


def analyze_file(video: Path, rois: list[Roi], settings: DetectionSettings, models: ModelBundle | None,
                 camera_id: str = "video", on_frame: Callable[[float], None] | None = None,
                 adaptive: bool = False) -> list[EventRecord]:
    """Run the pipeline over ``video``; every event, cleared or not, ordered by start. ``adaptive``:
    decode as an edge worker with ``adaptive_rate`` does (edge.adaptive_source); without it, every
    frame at ``analysis_fps`` is analysed, whatever ``settings.adaptive_rate`` says."""
    settings = settings.model_copy(update={"adaptive_rate": adaptive})
    pipe = CameraPipeline(camera_id, rois, settings, models)
    records: dict[str, EventRecord] = {}
    last_t: float | None = None

    def take(events: list[Event]) -> None:
        for ev in events:
            rec = records.get(ev.event_id)
            if rec is None:
                rec = EventRecord(kind=ev.kind.value, start_s=ev.start_s, end_s=None, score=ev.score,
                                  bbox=None if ev.bbox is None else [round(float(v), 4) for v in ev.bbox],
                                  event_id=ev.event_id, snapshot=ev.snapshot_jpeg, details=dict(ev.details))
                records[ev.event_id] = rec
            rec.score = max(rec.score, ev.score)
            if ev.phase == Phase.CLEAR:
                rec.end_s = ev.t
                rec.clear_snapshot = ev.snapshot_jpeg

    if adaptive:
        source = adaptive_frames(video, settings.analysis_width, settings.analysis_fps,
                                 lambda: pipe.dense_until)
    else:
        source = frames_of(video, settings.analysis_width, settings.analysis_fps)
    for frame in source:
        if last_t is not None and frame.t - last_t >= settings.offline_after_s:
            gap_t = last_t + settings.offline_after_s
            take(pipe.tick(gap_t, _EPOCH + timedelta(seconds=gap_t)))
        take(pipe.process(frame))
        last_t = frame.t
        if on_frame is not None:
            on_frame(frame.t)
    return sorted(records.values(), key=lambda r: (r.start_s, r.kind))


def resolve_setup(config: Path | None, camera: str | None, rois: list[str]
                  ) -> tuple[str, list[Roi], DetectionSettings]:
    """Camera id, ROIs and settings from --config/--camera and --roi (which overrides)."""
    settings = DetectionSettings()
    camera_rois: list[Roi] = []
    camera_id = camera or "video"
    if camera is not None and config is None:
        raise ValueError("--camera needs --config")
    if config is not None:
        town = load_town(config)
        settings = town.detection
        if camera is not None:
            found = [c for c in town.cameras if c.id == camera]
            if not found:
                raise ValueError(f"camera {camera!r} is not in {config}")
            camera_rois = list(found[0].rois)
    if rois:
        camera_rois = [parse_roi(text) for text in rois]
    return camera_id, camera_rois, settings


def analyze_cli(video: Path, config: Path | None, camera: str | None, rois: list[str],
                snapshots: Path | None, adaptive: bool = False) -> int:
    """Entry point of ``gridwatch analyze``; returns the exit code."""
    video = Path(video)
    if not video.exists():
        print(f"gridwatch analyze: no such file: {video}", file=sys.stderr)
        return 2
    if not video.is_file():
        print(f"gridwatch analyze: not a file: {video}", file=sys.stderr)
        return 2
    try:
        camera_id, roi_list, settings = resolve_setup(config, camera, rois)
    except ValueError as exc:
        print(f"gridwatch analyze: {exc}", file=sys.stderr)
        return 2
    try:
        models = load_models()
    except ModelError as exc:
        print(f"gridwatch analyze: {exc}", file=sys.stderr)
        return 2
    try:
        records = analyze_file(video, roi_list, settings, models, camera_id, adaptive=adaptive)
    except (VideoError, AdaptiveVideoError) as exc:
        print(f"gridwatch analyze: {exc}", file=sys.stderr)
        return 1
    if snapshots is not None:
        snapshots.mkdir(parents=True, exist_ok=True)
    for i, rec in enumerate(records):
        print(json.dumps(rec.line()), flush=True)
        if snapshots is not None and rec.snapshot:
            (snapshots / f"{i:03d}_{rec.kind}_{rec.start_s:.1f}s.jpg").write_bytes(rec.snapshot)
    return 0
