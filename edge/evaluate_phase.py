"""Analysing a clip with its analysed frames taken at k + phase seconds (the robustness grid's phases).

``gridwatch analyze`` takes the frames at 0, 1, 2 ... s; a live camera's analysed frames fall anywhere
in the second. To measure that, this picks from the decoded frames the ones at k + phase and runs
them through the same :class:`CameraPipeline` with the same offline handling as ``analyze_file``.
Phase 0 calls ``analyze_file`` itself; ``tests/evalset/test_eval_grid.py`` checks that the loop here
at phase 0 gives exactly what ``analyze_file`` gives, so the two cannot drift apart unnoticed.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import timedelta
from pathlib import Path

import av
import numpy as np

from edge.analyze import _EPOCH, EventRecord, VideoError, analyze_file
from edge.events import Event
from edge.frames import Frame
from edge.models import ModelBundle
from edge.pipeline import CameraPipeline
from gridwatch.config import DetectionSettings, Roi
from gridwatch.wire import Phase


def phased_frames(video: Path, width: int, fps: float, phase_s: float) -> Iterator[Frame]:
    """Frames of ``video`` at about ``fps`` per second from ``phase_s`` on (the rule of ``frames_of``).

    Decodes every frame but converts only the picked ones (as ``frames_of`` does), so a phase costs
    what phase 0 costs.
    """
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
        next_t = phase_s
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
                if t + 1e-6 < next_t:
                    continue
                next_t += period
                if next_t <= t:  # after a gap in the file (camera offline) the grid restarts here
                    next_t = t + period
                if height is None:
                    height = max(2, round(vf.height * width / vf.width / 2) * 2)
                img = vf.reformat(width=width, height=height, format="bgr24").to_ndarray()
                yield Frame(image=np.ascontiguousarray(img), t=t, wall=_EPOCH + timedelta(seconds=t))
        except av.error.FFmpegError as exc:
            raise VideoError(f"cannot decode {video}: {exc}") from exc


def analyze_frames(frames: Iterable[Frame], rois: list[Roi], settings: DetectionSettings,
                   models: ModelBundle | None, camera_id: str = "video") -> list[EventRecord]:
    """``analyze_file``'s loop over given frames: every event, cleared or not, ordered by start."""
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

    for frame in frames:
        if last_t is not None and frame.t - last_t >= settings.offline_after_s:
            gap_t = last_t + settings.offline_after_s
            take(pipe.tick(gap_t, _EPOCH + timedelta(seconds=gap_t)))
        take(pipe.process(frame))
        last_t = frame.t
    return sorted(records.values(), key=lambda r: (r.start_s, r.kind))


def analyze_at_phase(video: Path, rois: list[Roi], settings: DetectionSettings, models: ModelBundle | None,
                     camera_id: str, phase_s: float) -> list[EventRecord]:
    """Phase 0 is exactly ``analyze_file``; other phases shift the analysed frames by ``phase_s``."""
    if phase_s == 0.0:
        return analyze_file(video, rois, settings, models, camera_id)
    frames = phased_frames(video, settings.analysis_width, settings.analysis_fps, phase_s)
    return analyze_frames(frames, rois, settings, models, camera_id)
