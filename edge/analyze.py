"""``gridwatch analyze``: run the live pipeline over one video file and print its events.

The file is decoded with PyAV; only frames at the analysis rate are converted (scaled once to the
analysis width by the decoder's scaler) and handed to exactly the same :class:`CameraPipeline` an edge
worker runs. Without a camera config the pipeline learns the scene from the first seconds of the
video (WARMUP_S), as a newly installed camera would, so nothing is raised in that time.
"""

from __future__ import annotations

import json
import re
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
from edge.obstruction import DecisionTap
from edge.onnx_models import ModelBundle, ModelError, load_models
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


@dataclass(slots=True)
class ReadStats:
    """What was read of a video: analysed frames, the last frame's time and the declared length."""

    frames: int = 0
    last_t: float | None = None
    declared_s: float | None = None

    @property
    def duration_s(self) -> float:
        """Video time covered by the frames read (last frame plus one sampling period is not known)."""
        return 0.0 if self.last_t is None else self.last_t


#: A file whose frames stop this long before its declared length was cut short (a lost tail, a copy
#: that did not finish): two seconds of slack, or 2 % of a long file, for containers whose declared
#: length is rounded or counts the last frame's full duration.
TRUNCATED_SLACK_S = 2.0
TRUNCATED_SLACK_FRAC = 0.02


def _declared_seconds(container: av.container.InputContainer, stream: av.video.stream.VideoStream
                      ) -> float | None:
    """The length the file declares for its video, if it declares one: the longest of its stream's
    duration, its frame count over its frame rate (an AVI's header keeps its count when its tail and
    index are lost, while FFmpeg then estimates the duration from what is left) and the container's."""
    found: list[float] = []
    if stream.duration is not None and stream.time_base is not None and stream.duration > 0:
        found.append(float(stream.duration * stream.time_base))
    rate = stream.average_rate or stream.guessed_rate
    if stream.frames and rate:
        found.append(float(stream.frames / rate))
    if container.duration is not None and container.duration > 0:
        found.append(float(container.duration) / av.time_base)
    return max(found) if found else None


def _reason(exc: BaseException) -> str:
    """FFmpeg's message without its errno number (``[Errno 1094995529] Invalid data ...``)."""
    text = getattr(exc, "strerror", None) or str(exc)
    return re.sub(r"^\[Errno -?\d+\]\s*", "", str(text)).strip() or type(exc).__name__


def frames_of(video: Path, width: int, fps: float, stats: ReadStats | None = None,
              phase_s: float = 0.0) -> Iterator[Frame]:
    """Frames of ``video`` at about ``fps`` per second, scaled to ``width``; t from the file's pts.
    ``phase_s``: take them at k + phase_s seconds (a live camera's analysed frames fall anywhere in
    the second; the evaluation's robustness grid measures that), 0: from the first frame on.

    Raises :class:`VideoError` when the file is not a video, holds no decodable frame, or stops well
    before the length it declares (truncated). ``stats`` (if given) is filled as frames are read.
    """
    stats = stats if stats is not None else ReadStats()
    try:
        container = av.open(str(video))
    except (av.error.FFmpegError, OSError) as exc:
        raise VideoError(f"cannot open video {video}: not a readable video ({_reason(exc)})") from exc
    with container:
        if not container.streams.video:
            raise VideoError(f"{video} has no video stream")
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        stats.declared_s = _declared_seconds(container, stream)
        period = 1.0 / fps
        next_t: float | None = phase_s if phase_s > 0 else None
        height: int | None = None
        t0: float | None = None
        decoded_last: float | None = None
        try:
            for vf in container.decode(stream):
                if vf.pts is None or vf.time_base is None:
                    continue
                t_raw = float(vf.pts * vf.time_base)
                if t0 is None:
                    t0 = min(0.0, t_raw)
                t = t_raw - t0
                decoded_last = t
                if next_t is not None and t + 1e-6 < next_t:
                    continue
                next_t = (t if next_t is None else next_t) + period
                if next_t <= t:
                    next_t = t + period
                if height is None:
                    height = max(2, round(vf.height * width / vf.width / 2) * 2)
                img = vf.reformat(width=width, height=height, format="bgr24").to_ndarray()
                stats.frames += 1
                stats.last_t = t
                yield Frame(image=np.ascontiguousarray(img), t=t, wall=_EPOCH + timedelta(seconds=t))
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode {video} after {stats.frames} frames: {_reason(exc)}") from exc
    if stats.frames == 0:
        raise VideoError(f"{video}: no frame could be decoded")
    declared = stats.declared_s
    if declared is not None and decoded_last is not None:
        slack = max(TRUNCATED_SLACK_S, TRUNCATED_SLACK_FRAC * declared)
        if decoded_last + slack < declared:
            raise VideoError(f"{video} is truncated: its frames stop at {decoded_last:.1f} s of the "
                             f"{declared:.1f} s it declares ({stats.frames} frames analysed)")


@dataclass(slots=True)
class Analysis:
    """Everything one run of ``analyze`` found: events, what was read, and why reading stopped early."""

    records: list[EventRecord]
    read: ReadStats
    error: str | None = None  # the video could not be read to its end (or at all)
    proposes_road: bool = False  # no road ROI was given: the pipeline proposed the road itself
    road_proposal: list[list[float]] | None = None  # that proposal (0..1 [x, y]), None if none made


def analyze_video(video: Path, rois: list[Roi], settings: DetectionSettings, models: ModelBundle | None,
                  camera_id: str = "video", on_frame: Callable[[float], None] | None = None,
                  adaptive: bool = False, phase_s: float = 0.0, tap: DecisionTap | None = None) -> Analysis:
    """Run the pipeline over ``video``; events found before a read error are kept, not lost.
    ``adaptive``: decode as an edge worker with ``adaptive_rate`` does (edge.adaptive_source); without
    it, every frame at ``analysis_fps`` is analysed, whatever ``settings.adaptive_rate`` says.
    ``phase_s``: frames at k + phase_s seconds (see :func:`frames_of`; not with ``adaptive``).
    ``tap``: sees every measured component (models/train_decision.py collects its training data so)."""
    settings = settings.model_copy(update={"adaptive_rate": adaptive})
    pipe = CameraPipeline(camera_id, rois, settings, models, tap)
    records: dict[str, EventRecord] = {}
    last_t: float | None = None
    stats = ReadStats()
    error: str | None = None

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

    try:
        if adaptive:
            source = adaptive_frames(video, settings.analysis_width, settings.analysis_fps,
                                     lambda: pipe.dense_until)
        else:
            source = frames_of(video, settings.analysis_width, settings.analysis_fps, stats, phase_s)
        for frame in source:
            if adaptive:  # (frames_of counts its own)
                stats.frames += 1
                stats.last_t = frame.t
            if last_t is not None and frame.t - last_t >= settings.offline_after_s:
                gap_t = last_t + settings.offline_after_s
                take(pipe.tick(gap_t, _EPOCH + timedelta(seconds=gap_t)))
            take(pipe.process(frame))
            last_t = frame.t
            if on_frame is not None:
                on_frame(frame.t)
    except (VideoError, AdaptiveVideoError) as exc:
        error = str(exc)
    proposes = not any(r.name.lower() == "road" for r in rois)
    return Analysis(sorted(records.values(), key=lambda r: (r.start_s, r.kind)), stats, error,
                    proposes, pipe.road_proposal)


def analyze_file(video: Path, rois: list[Roi], settings: DetectionSettings, models: ModelBundle | None,
                 camera_id: str = "video", on_frame: Callable[[float], None] | None = None,
                 adaptive: bool = False, phase_s: float = 0.0) -> list[EventRecord]:
    """Run the pipeline over ``video``; every event, cleared or not, ordered by start.

    Raises :class:`VideoError` when the video cannot be read to its end.
    """
    result = analyze_video(video, rois, settings, models, camera_id, on_frame, adaptive, phase_s)
    if result.error is not None:
        raise VideoError(result.error)
    return result.records


def summary_line(result: Analysis) -> str:
    """The stderr line every run ends with, so that "nothing found" differs from "nothing read"."""
    read = result.read
    declared = "unknown" if read.declared_s is None else f"{read.declared_s:.1f} s"
    return (f"gridwatch analyze: {read.frames} frames analysed over {read.duration_s:.1f} s of video "
            f"(declared length {declared}), {len(result.records)} events raised")


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
            settings = town.detection_for(found[0])
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
    result = analyze_video(video, roi_list, settings, models, camera_id, adaptive=adaptive)
    if snapshots is not None:
        snapshots.mkdir(parents=True, exist_ok=True)
    for i, rec in enumerate(result.records):
        print(json.dumps(rec.line()), flush=True)
        if snapshots is not None and rec.snapshot:
            (snapshots / f"{i:03d}_{rec.kind}_{rec.start_s:.1f}s.jpg").write_bytes(rec.snapshot)
    if result.proposes_road and result.read.frames:
        print(json.dumps({"road_proposal": result.road_proposal}), flush=True)
    if result.error is not None:
        print(f"gridwatch analyze: {result.error}", file=sys.stderr)
        return 1
    print(summary_line(result), file=sys.stderr)
    return 0
