"""A group of cameras analysed together: readers, pipelines and analysis threads, steps to a sink.

The edge worker (``edge.worker``) runs one group in its own process (``analysis_processes`` 0: the
threads mode) or one group per analysis process (``edge.analysis_procs``). Either way a group:
- has a :class:`~edge.sources.StreamReader` per camera (decode, sample, scale; reconnects on its own),
- runs analysis threads, cameras spread over them: fresh frames go to ``CameraPipeline.process``
  (which also says until when it wants dense frames: the adaptive rate, ``edge.rate``, applied by
  the reader); a camera without a fresh frame gets ``CameraPipeline.tick`` at the analysis rate
  (that is how ``camera_offline`` is raised and, by the next frame, cleared),
- turns event steps into wire alerts (``edge.alerts``) stored through its :class:`AlertSink`: the
  worker's durable outbox itself, or, in an analysis process, a proxy that stores them in the
  parent's outbox (``edge.group_process``), so a process that dies loses no stored step.
Cameras are swapped (a new registry revision) only between analysis turns.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from av.codec.hwaccel import HWAccel

from edge.alerts import ClipJobs, PendingStep, StepQueue, to_alert, with_clip
from edge.clips import FrameRing, encode_mp4
from edge.config_sync import plan_changes
from edge.events import Event
from edge.frames import Frame
from edge.heartbeat import RateMeter, camera_status, clean_scores
from edge.main_stream import CONNECT_SLACK_S, MainStreamClips
from edge.outbox import OutboxFull
from edge.sources import StreamReader
from gridwatch.config.schema import Camera, DetectionSettings, Town
from gridwatch.wire import Alert, CameraHealth, EventKind, Phase

if TYPE_CHECKING:
    from edge.onvif_watch import OnvifWatch

log = logging.getLogger("gridwatch.edge.worker")


class Pipeline(Protocol):
    def process(self, frame: Frame) -> list[Event]: ...
    def tick(self, t: float, wall: datetime) -> list[Event]: ...
    @property
    def faults(self) -> list[EventKind]: ...
    @property
    def scores(self) -> dict[str, float]: ...


PipelineFactory = Callable[[Camera], Pipeline]


class AlertSink(Protocol):
    """Where a group stores alerts: ``edge.outbox.Outbox`` or a proxy of the parent's outbox."""

    def enqueue_alert(self, camera_id: str, build: Callable[[int], Alert], held: bool = False) -> Alert: ...
    def complete(self, msg_id: str, alert: Alert | None = None) -> None: ...


@dataclass
class CameraUnit:
    """Everything a group keeps for one camera."""

    camera: Camera
    reader: StreamReader
    pipeline: Pipeline
    ring: FrameRing
    queue: StepQueue
    clips: ClipJobs
    main: MainStreamClips | None = None  # snapshots and clips from the main stream (it has a sub-stream)
    analysed: int = 0
    pipeline_errors: int = 0
    last_tick: float = 0.0     # monotonic time of the last process/tick
    last_t: float = -1.0       # camera time last given to the pipeline
    fps_in: RateMeter = field(default_factory=RateMeter)
    fps_analysed: RateMeter = field(default_factory=RateMeter)


class CameraGroup:
    """The cameras of ``node_id`` in ``town`` whose ids ``select`` keeps, analysed by ``threads``
    threads, their steps stored through ``sink``."""

    def __init__(self, town: Town, node_id: str, sink: AlertSink, factory: PipelineFactory,
                 threads: int, select: frozenset[str] | None = None, hwaccel: HWAccel | None = None,
                 stream_urls: dict[str, str] | None = None) -> None:
        """``stream_urls``: ONVIF-found stream URLs by camera id, as the parent of an analysis process
        hands them over (``set_stream_urls``); a group in the worker's process asks its OnvifWatch."""
        self.town, self.node_id = town, node_id
        self.detection = town.detection
        self.sink = sink
        self._factory = factory
        self._hwaccel = hwaccel
        self.select = select
        #: ONVIF cameras' stream URLs and home moves (edge.onvif_watch), set by the worker; None: none.
        self.onvif: OnvifWatch | None = None
        self._new_readers: set[str] = set()  # cameras whose ONVIF stream URL changed: reader swapped
        self._stream_urls: dict[str, str] = dict(stream_urls or {})
        self.units = [self._make_unit(cam) for cam in self._cameras(town)]
        self._by_id = {u.camera.id: u for u in self.units}
        self.threads = max(1, min(len(self.units), threads))
        #: Analysis turns done so far (all threads): a supervisor sees a hung group by it standing still.
        self.turns = 0
        self._pending: tuple[Town, frozenset[str] | None] | None = None
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Cameras are swapped only while no analysis thread is inside a turn: a turn counts itself in
        # ``_busy``; the swap waits for it to drop to 0 and holds new turns back meanwhile.
        self._gate = threading.Condition()
        self._busy = 0
        self._swapping = False
        self._stopped = False

    def use_onvif(self, onvif: OnvifWatch) -> None:
        """Read ONVIF cameras from the stream URLs their profiles give, and send moved ones home."""
        self.onvif = onvif
        onvif.set_cameras([u.camera for u in self.units])
        onvif.on_streams = self._new_readers.add
        for unit in self.units:
            if onvif.stream_url(unit.camera):
                self._new_readers.add(unit.camera.id)

    def set_stream_urls(self, urls: dict[str, str]) -> None:
        """ONVIF-found stream URLs by camera id, from the parent of an analysis process (the ONVIF
        watch runs there): a camera whose URL changed reads from the new one from the next turn on,
        keeping its pipeline (as ``use_onvif``'s swaps do)."""
        old, self._stream_urls = self._stream_urls, dict(urls)
        self._new_readers.update(cid for cid in old.keys() | urls.keys() if old.get(cid) != urls.get(cid))

    def _reader(self, cam: Camera) -> StreamReader:
        """The camera's reader, on the URL its ONVIF profiles gave, else the configured sub or main."""
        found = self.onvif.stream_url(cam) if self.onvif is not None else self._stream_urls.get(cam.id)
        url = found or cam.streams.sub or cam.streams.main
        return StreamReader(cam.id, url, self.detection.analysis_fps, self.detection.analysis_width,
                            self.town.edge.reconnect_max_s, hwaccel=self._hwaccel,
                            adaptive=self.detection.adaptive_rate)

    def _swap_readers(self) -> None:
        """Cameras whose ONVIF profiles gave a new stream URL read from it now; pipelines are kept."""
        while self._new_readers:
            unit = self._by_id.get(self._new_readers.pop())
            if unit is not None:
                unit.reader.request_stop()
                unit.reader.stop()
                unit.reader = self._reader(unit.camera)
                unit.reader.start()

    def _cameras(self, town: Town) -> list[Camera]:
        return [c for c in town.cameras_of(self.node_id) if self.select is None or c.id in self.select]

    def _make_unit(self, cam: Camera) -> CameraUnit:
        town, fps = self.town, self.detection.analysis_fps
        clip_s = town.edge.clip_pre_s + town.edge.clip_post_s
        main = None
        if cam.streams.sub and cam.streams.main_for_events != "never":
            main = MainStreamClips(cam.id, cam.streams.main, town.edge.clip_pre_s, town.edge.clip_post_s,
                                   ring=cam.streams.main_for_events == "ring")
        return CameraUnit(camera=cam,
                          reader=self._reader(cam),
                          pipeline=self._factory(cam), ring=FrameRing(clip_s, fps),
                          queue=StepQueue(town.edge.clip_pre_s, town.edge.clip_post_s),
                          clips=ClipJobs(town.edge.clip_pre_s, town.edge.clip_post_s), main=main)

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        for unit in self.units:
            unit.reader.start()
            if unit.main is not None:
                unit.main.start()
        self._stop.clear()
        self._stopped = False
        k = self.threads
        self._threads = [threading.Thread(target=self._analysis_loop, args=(i, k),
                                          name=f"analysis-{i}", daemon=True) for i in range(k)]
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        """Readers first (no new frames), then analysis, then held steps go to the sink."""
        if self._stopped:
            return
        self._stopped = True
        for unit in self.units:
            unit.reader.request_stop()
        for unit in self.units:
            unit.reader.stop()
        self._stop.set()
        for thread in self._threads:
            thread.join(30)
        self._threads = []
        now = time.monotonic()
        for unit in self.units:
            self._flush(unit, now, force=True)
            if unit.main is not None:
                unit.main.stop()
        for unit in self.units:
            st = unit.reader.stats
            log.info("camera %s: %d frames received, %d decoded, %d analysed, %d dropped before "
                     "analysis, %d decode errors, %d reconnects, %d analysis errors", unit.camera.id,
                     st.packets_in, st.frames_in, unit.analysed, unit.reader.slot.dropped, st.decode_errors,
                     st.reconnects, unit.pipeline_errors)

    # -- configuration --------------------------------------------------------------------------

    def request_config(self, town: Town, select: frozenset[str] | None = None) -> None:
        """Run ``town`` (this group's cameras: ``select``) from the analysis loop's next turn."""
        self._pending = (town, select)

    def _apply_pending(self) -> tuple[list[str], list[str], list[str]] | None:
        pending, self._pending = self._pending, None
        if pending is None:
            return None
        new_town, select = pending

        def keyed(cams: list[Camera], town: Town) -> dict[str, tuple[Camera, DetectionSettings]]:
            return {c.id: (c, town.detection_for(c)) for c in cams}

        old = keyed([u.camera for u in self.units], self.town)
        self.select = select
        new_cams = self._cameras(new_town)
        added, removed, changed = plan_changes(old, keyed(new_cams, new_town))
        self.town, self.detection = new_town, new_town.detection
        now = time.monotonic()
        for cid in removed + changed:  # their readers stop, their held steps go out
            unit = self._by_id[cid]
            unit.reader.request_stop()
            unit.reader.stop()
            self._flush(unit, now, force=True)
            if unit.main is not None:
                unit.main.stop()
        fresh = {c.id: self._make_unit(c) for c in new_cams if c.id in added or c.id in changed}
        units = [fresh.get(c.id) or self._by_id[c.id] for c in new_cams]
        for unit in fresh.values():
            unit.reader.start()
            if unit.main is not None:
                unit.main.start()
        self.units, self._by_id = units, {u.camera.id: u for u in units}
        if self.onvif is not None:
            self.onvif.set_cameras(new_cams)
        return added, removed, changed

    # -- analysis -----------------------------------------------------------------------------

    def _analysis_loop(self, index: int, threads: int) -> None:
        """Thread ``index`` of ``threads``: every ``threads``-th camera, from the current set."""
        while not self._stop.wait(min(0.05, 0.25 / self.detection.analysis_fps)):
            period = 1.0 / self.detection.analysis_fps
            if self._pending is not None or self._new_readers:
                self._swap_when_idle()
            with self._gate:
                while self._swapping:
                    self._gate.wait()
                self._busy += 1
                units = self.units[index::threads]
            try:
                now = time.monotonic()
                for unit in units:
                    try:
                        self._step(unit, now, period)
                    except Exception:  # one camera's failure must not stop the others
                        unit.pipeline_errors += 1
                        if unit.pipeline_errors <= 5 or unit.pipeline_errors % 100 == 0:
                            log.exception("camera %s: analysis failed (%d times)", unit.camera.id,
                                          unit.pipeline_errors)
            finally:
                with self._gate:
                    self._busy -= 1
                    self.turns += 1
                    self._gate.notify_all()

    def _swap_when_idle(self) -> None:
        """Apply a pending configuration once no other analysis thread is inside a turn."""
        with self._gate:
            if self._swapping or (self._pending is None and not self._new_readers):
                return
            self._swapping = True
            while self._busy:
                self._gate.wait()
        try:
            self._swap_readers()
            if self._pending is not None:
                self.on_swapped(self._apply_pending())
        finally:
            with self._gate:
                self._swapping = False
                self._gate.notify_all()

    def on_swapped(self, changes: tuple[list[str], list[str], list[str]] | None) -> None:
        """Called after a configuration was applied (the worker reports it); nothing by default."""

    def _step(self, unit: CameraUnit, now: float, period: float) -> None:
        frame = unit.reader.slot.take()
        events: list[Event] = []
        if frame is not None:
            if frame.t <= unit.last_t:
                # A tick (wall-derived time) ran ahead of a late frame's stream time: keep the
                # pipeline's time monotonic, as its contract needs.
                frame = dataclasses.replace(frame, t=unit.last_t + 1e-3)
            unit.last_t = frame.t
            unit.ring.add(frame)
            unit.last_tick = now
            unit.analysed += 1
            wall = frame.wall
            events = unit.pipeline.process(frame)
            dense_until = getattr(unit.pipeline, "dense_until", None)  # adaptive rate (edge.rate)
            if dense_until is not None:
                unit.reader.want_dense_until(dense_until)
        elif now - unit.last_tick >= period:
            unit.last_tick = now
            wall = datetime.now(UTC)
            unit.last_t = max(unit.last_t, unit.reader.now_t())
            events = unit.pipeline.tick(unit.last_t, wall)
        for ev in events:
            log.info("camera %s: %s %s (score %.2f, t %.1f s)", unit.camera.id, ev.kind.value,
                     ev.phase.value, ev.score, ev.t)
            unit.queue.add(ev, wall, now)
            if unit.main is not None and unit.queue.wants_clip(ev):
                unit.main.request(ev.event_id)
            if ev.kind is EventKind.CAMERA_MOVED and ev.phase is Phase.ONSET and self.onvif is not None:
                self.onvif.camera_moved(unit.camera.id)  # queued: the ONVIF thread sends it home
        if len(unit.queue) or len(unit.clips):
            self._flush(unit, now)

    def _flush(self, unit: CameraUnit, now: float, force: bool = False) -> None:
        """Store new steps (onsets held for their clip), then complete the onsets whose clip is due."""
        cam = unit.camera.id
        steps = unit.queue.take()
        for i, step in enumerate(steps):

            def build(seq: int, s: PendingStep = step) -> Alert:
                return to_alert(self.node_id, cam, s.event, seq, s.wall, None)

            try:
                alert = self.sink.enqueue_alert(cam, build, held=step.want_clip)
            except OutboxFull:  # logged by the outbox; keep this and the later steps, in order
                unit.queue.put_back(steps[i:])
                break
            except ValueError as exc:  # pydantic's ValidationError: the step does not fit the wire
                unit.pipeline_errors += 1
                log.error("camera %s: event step %s %s %s cannot be sent (%s); details: %r", cam,
                          step.event.kind.value, step.event.phase.value, step.event.event_id, exc,
                          step.event.details)
                continue
            if step.want_clip:
                unit.clips.add(alert, step.event.t, step.send_by)
        jobs = unit.clips.due(unit.ring.latest_t, now, force)
        if unit.main is not None and not force:
            # Main-stream clips are recorded by their own thread: wait for it (up to send_by).
            jobs, later = _split(jobs, lambda j: unit.main is not None and j.alert.event_id in unit.main.busy
                                 and now < j.send_by + CONNECT_SLACK_S)
            unit.clips.put_back(later)
        for j, (job, window) in enumerate(jobs):
            completed = None
            try:
                completed = self._completed(unit, job.alert, window)
            except Exception:
                log.exception("camera %s: clip for %s failed; the alert goes without a clip", cam,
                              job.alert.id)
            try:
                self.sink.complete(job.alert.id, completed)
            except OutboxFull:  # stays held on disk; retried here, or released by the next start
                unit.clips.put_back([job for job, _ in jobs[j:]])
                break

    def _completed(self, unit: CameraUnit, alert: Alert, window: tuple[float, float]) -> Alert | None:
        """The held onset with its clip (and, from the main stream, its full-size snapshot)."""
        if unit.main is not None:
            taken = unit.main.take(alert.event_id)
            if taken is not None and taken.clip is not None:
                out = with_clip(alert, taken.clip)
                if out is not None:
                    return taken.with_snapshot(out, unit.camera.rois, alert)
        return with_clip(alert, encode_mp4(unit.ring.window(*window), self.detection.analysis_fps))

    # -- health -------------------------------------------------------------------------------

    def health(self, now_wall: datetime, now: float) -> list[CameraHealth]:
        """Each camera's health now, for the node's heartbeat."""
        cams = []
        for unit in self.units:
            st = unit.reader.stats
            faults = [k for k in unit.pipeline.faults if k.is_camera_fault]
            cams.append(CameraHealth(
                camera_id=unit.camera.id,
                status=camera_status(st.last_frame_wall, now_wall, self.detection.offline_after_s, faults),
                fps_in=round(unit.fps_in.rate(st.packets_in, now), 2),
                fps_analysed=round(unit.fps_analysed.rate(unit.analysed, now), 2),
                decode_errors=st.decode_errors, reconnects=st.reconnects, last_frame_at=st.last_frame_wall,
                faults=faults, scores=clean_scores(dict(unit.pipeline.scores)),
                road_proposal=getattr(unit.pipeline, "road_proposal", None),
                onvif=self.onvif.health(unit.camera.id) if self.onvif is not None else None))
        return cams

    def counters(self) -> list[dict[str, object]]:
        """Each camera's counters (for benchmarks and logs): frames decoded and analysed, and so on."""
        return [{"camera_id": u.camera.id, "analysed": u.analysed, "frames_in": u.reader.stats.frames_in,
                 "packets_in": u.reader.stats.packets_in, "latest_t": u.ring.latest_t,
                 "dropped": u.reader.slot.dropped, "quiet": u.reader.stats.quiet,
                 "keyframes_only": u.reader.stats.keyframes_only, "hw_decoding": u.reader.stats.hw_decoding,
                 "pipeline_errors": u.pipeline_errors} for u in self.units]

    def reader_of(self, camera_id: str) -> StreamReader | None:
        unit = self._by_id.get(camera_id)
        return unit.reader if unit else None


def _split(jobs: list, wait: Callable[[Any], bool]) -> tuple[list, list]:  # type: ignore[type-arg]
    """(jobs to complete now, clip jobs to put back) by ``wait`` on each job."""
    now_jobs, later = [], []
    for job, window in jobs:
        (later.append(job) if wait(job) else now_jobs.append((job, window)))
    return now_jobs, later
