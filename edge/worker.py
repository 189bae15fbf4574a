"""The edge worker: one process for all of a node's cameras, from streams to alerts in the outbox.

Parts, each with its own thread and start()/stop():
- a :class:`~edge.sources.StreamReader` per camera (decode, sample, scale; reconnects on its own),
- analysis loops here, one per core, cameras spread over them: fresh frames go to
  ``CameraPipeline.process`` (which also says until when it wants dense frames: the adaptive rate,
  ``edge.rate``, applied by the reader); a camera without a fresh
  frame gets ``CameraPipeline.tick`` at the analysis rate (that is how ``camera_offline`` is raised
  and, by the next frame, cleared); event steps become wire alerts (``edge.alerts``) in the outbox,
- :class:`~edge.heartbeat.Heartbeater` (node and camera health into the outbox),
- :class:`~edge.delivery.Delivery` (outbox to hub),
- optionally :class:`~edge.live.LiveServer` (WebRTC answers for live view).
The pipeline is built by a factory (default: the real :class:`edge.pipeline.CameraPipeline` with
models loaded once per process), so tests that need no detection can pass their own.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from edge.alerts import ClipJobs, PendingStep, StepQueue, to_alert, with_clip
from edge.clips import FrameRing, encode_mp4
from edge.config_sync import ConfigStore, ConfigSync, HubConfigClient, NodeConfig, plan_changes
from edge.delivery import Delivery
from edge.events import Event
from edge.frames import Frame
from edge.heartbeat import Heartbeater, RateMeter, camera_status, clean_scores
from edge.hwdecode import HardwareDecodeError, open_hw_decoder
from edge.onvif_watch import OnvifWatch
from edge.outbox import Outbox, OutboxFull
from edge.secrets import Secrets, SecretsError
from edge.sources import StreamReader
from edge.sysinfo import NodeProbe
from gridwatch.config import ConfigError, load_town
from gridwatch.config.schema import Camera, DetectionSettings, Town
from gridwatch.logs import redact
from gridwatch.wire import Alert, CameraHealth, EventKind, Heartbeat, Phase, stable_id

log = logging.getLogger("gridwatch.edge.worker")


class Pipeline(Protocol):
    def process(self, frame: Frame) -> list[Event]: ...
    def tick(self, t: float, wall: datetime) -> list[Event]: ...
    @property
    def faults(self) -> list[EventKind]: ...
    @property
    def scores(self) -> dict[str, float]: ...


PipelineFactory = Callable[[Camera], Pipeline]


def real_pipeline_factory(town: Town | Callable[[], Town]) -> PipelineFactory:
    """CameraPipeline for each camera, sharing one set of models loaded now (``town``: or a callable
    giving the town the worker runs now, whose settings may change with the hub's registry)."""
    from edge.pipeline import CameraPipeline, load_models

    try:
        models = load_models()
    except Exception as exc:  # a box without models still watches camera health
        log.warning("no detection models (%s): camera health only, no obstruction detection", exc)
        models = None

    def make(camera: Camera) -> Pipeline:
        current = town() if callable(town) else town
        return CameraPipeline(camera.id, list(camera.rois), current.detection_for(camera), models)

    return make


@dataclass
class CameraUnit:
    """Everything the worker keeps for one camera."""

    camera: Camera
    reader: StreamReader
    pipeline: Pipeline
    ring: FrameRing
    queue: StepQueue
    clips: ClipJobs
    analysed: int = 0
    pipeline_errors: int = 0
    last_tick: float = 0.0     # monotonic time of the last process/tick
    last_t: float = -1.0       # camera time last given to the pipeline
    fps_in: RateMeter = field(default_factory=RateMeter)
    fps_analysed: RateMeter = field(default_factory=RateMeter)


class EdgeWorker:
    def __init__(self, town: Town, node_id: str, hub_url: str, token_source: Callable[[], str | None],
                 data_dir: Path, live_port: int | None = None, live_host: str = "127.0.0.1",
                 pipeline_factory: PipelineFactory | None = None, analysis_threads: int | None = None,
                 onvif: OnvifWatch | None = None) -> None:
        node = town.node(node_id)
        # Opened before the outbox and threads: a box that cannot use its configured decoder says so.
        self.hw_decode = node.hw_decode if node is not None else None
        hwaccel = open_hw_decoder(self.hw_decode) if self.hw_decode else None
        cameras = town.cameras_of(node_id)
        self.town, self.node_id = town, node_id
        self.data_dir = data_dir
        self.settings, self.detection = town.edge, town.detection
        data_dir.mkdir(parents=True, exist_ok=True)
        self.outbox = Outbox(data_dir / "outbox.sqlite3", town.edge.outbox_max_bytes)
        self.delivery = Delivery(self.outbox, hub_url, token_source, backoff_cap_s=town.edge.reconnect_max_s)
        self._factory = pipeline_factory or real_pipeline_factory(lambda: self.town)
        self._hwaccel = hwaccel
        #: ONVIF cameras' profiles, clocks and home moves (edge.onvif_watch); None: none on this box.
        self.onvif = onvif
        self._new_readers: set[str] = set()  # cameras whose ONVIF stream URL changed: reader swapped
        if onvif is not None:
            onvif.set_cameras(cameras)
            onvif.on_streams = self._new_readers.add
        self.units = [self._make_unit(cam) for cam in cameras]
        self._by_id = {u.camera.id: u for u in self.units}
        #: The camera-registry revision running (None: the town folder) and the sync that fetches it.
        self.config_version: int | None = None
        self.config: ConfigSync | None = None
        self._pending: NodeConfig | None = None
        self.probe = NodeProbe(data_dir)
        self.heartbeater = Heartbeater(self.outbox, self.heartbeat, town.edge.heartbeat_every_s)
        self.live = None
        self.live_url: str | None = None
        if live_port is not None:
            from edge.live import LiveServer

            self.live = LiveServer(self._live_reader, host=live_host, port=live_port)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        # Cameras are swapped (a new registry revision) only while no analysis thread is inside a
        # turn: a turn counts itself in ``_busy``; the swap waits for it to drop to 0 and holds new
        # turns back meanwhile.
        self._gate = threading.Condition()
        self._busy = 0
        self._swapping = False
        # Analysis threads, cameras spread over them: the heavy parts of analysis (OpenCV, ONNX Runtime,
        # large numpy operations) release the GIL, as PyAV's demuxing, decoding and scaling in the
        # reader threads do, so one process uses every core of the box.
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        self.analysis_threads = max(1, min(len(self.units), analysis_threads or cores))
        self._heartbeats = 0

    def _make_unit(self, cam: Camera) -> CameraUnit:
        town, fps = self.town, self.detection.analysis_fps
        clip_s = town.edge.clip_pre_s + town.edge.clip_post_s
        return CameraUnit(camera=cam,
                          reader=self._reader(cam),
                          pipeline=self._factory(cam), ring=FrameRing(clip_s, fps),
                          queue=StepQueue(town.edge.clip_pre_s, town.edge.clip_post_s),
                          clips=ClipJobs(town.edge.clip_pre_s, town.edge.clip_post_s))

    def _reader(self, cam: Camera) -> StreamReader:
        """The camera's reader, on the URL its ONVIF profiles gave, else the configured sub or main."""
        url = (self.onvif.stream_url(cam) if self.onvif is not None else None) or cam.streams.sub or \
            cam.streams.main
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

    # -- configuration from the hub (edge.config_sync) -----------------------------------------

    def request_config(self, cfg: NodeConfig) -> None:
        """Run ``cfg`` from the analysis loop's next turn (cameras are swapped only there)."""
        self._pending = cfg

    def _apply_pending(self) -> None:
        cfg, self._pending = self._pending, None
        if cfg is None:
            self._swap_readers()
            return
        old_town = self.town

        def keyed(town: Town) -> dict[str, tuple[Camera, DetectionSettings]]:
            return {c.id: (c, town.detection_for(c)) for c in town.cameras_of(self.node_id)}

        added, removed, changed = plan_changes(keyed(old_town), keyed(cfg.town))
        self.town, self.detection = cfg.town, cfg.town.detection
        if self.onvif is not None:
            self.onvif.set_cameras(cfg.town.cameras_of(self.node_id))
        now = time.monotonic()
        for cid in removed + changed:  # their readers stop, their held steps go out
            unit = self._by_id[cid]
            unit.reader.request_stop()
            unit.reader.stop()
            self._flush(unit, now, force=True)
        fresh = {cid: self._make_unit(cam) for cid, cam in
                 ((c.id, c) for c in cfg.town.cameras_of(self.node_id)) if cid in added or cid in changed}
        units = [fresh.get(c.id) or self._by_id[c.id] for c in cfg.town.cameras_of(self.node_id)]
        for unit in fresh.values():
            unit.reader.start()
        self.units, self._by_id = units, {u.camera.id: u for u in units}
        self.config_version = cfg.revision
        if self.config is not None:
            self.config.now_running(cfg.revision)
        log.info("edge %s: runs registry revision %d: %d cameras added, %d removed, %d changed, %d kept "
                 "as they were", self.node_id, cfg.revision, len(added), len(removed), len(changed),
                 len(units) - len(added) - len(changed))

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        hw = self.hw_decode
        log.info("edge %s: %d cameras, analysis %.2g fps at %d px, decoding on %s, hub %s, data %s",
                 self.node_id, len(self.units), self.detection.analysis_fps, self.detection.analysis_width,
                 f"{hw.device_type} {hw.device or 'default'}" if hw else "the CPU",
                 redact(self.delivery.hub_url), self.data_dir)
        if self.live is not None:
            self.live.start()
            self.live_url = self.live.url
            log.info("edge %s: live view answers WebRTC offers at %s/offer", self.node_id, self.live_url)
        self.delivery.start()
        for unit in self.units:
            unit.reader.start()
        self._stop.clear()
        k = self.analysis_threads
        self._threads = [threading.Thread(target=self._analysis_loop, args=(i, k),
                                          name=f"analysis-{i}", daemon=True) for i in range(k)]
        for thread in self._threads:
            thread.start()
        self.heartbeater.start()

    def stop(self) -> None:
        """Readers first (no new frames), then analysis (held steps go to the outbox), then the rest."""
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
        self.heartbeater.stop()
        if self.live is not None:
            self.live.stop()
        self.delivery.stop()
        for unit in self.units:
            st = unit.reader.stats
            log.info("camera %s: %d frames received, %d decoded, %d analysed, %d dropped before "
                     "analysis, %d decode errors, %d reconnects, %d analysis errors", unit.camera.id,
                     st.packets_in, st.frames_in, unit.analysed, unit.reader.slot.dropped, st.decode_errors,
                     st.reconnects, unit.pipeline_errors)
        stats = self.outbox.stats()
        log.info("edge %s: stopped; outbox holds %d messages (%d bytes), %d delivered, %d dropped by the "
                 "disk policy, %d dead letters", self.node_id, stats.depth, stats.bytes, stats.delivered,
                 stats.dropped, stats.dead)
        self.outbox.close()

    # -- analysis -----------------------------------------------------------------------------

    def _analysis_loop(self, index: int, threads: int) -> None:
        """Thread ``index`` of ``threads``: every ``threads``-th camera, from the current set."""
        period = 1.0 / self.detection.analysis_fps
        while not self._stop.wait(min(0.05, period / 4)):
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
            self._apply_pending()
        finally:
            with self._gate:
                self._swapping = False
                self._gate.notify_all()

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
                alert = self.outbox.enqueue_alert(cam, build, held=step.want_clip)
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
        for j, (job, window) in enumerate(jobs):
            completed = None
            try:
                completed = with_clip(job.alert, encode_mp4(unit.ring.window(*window),
                                                            self.detection.analysis_fps))
            except Exception:
                log.exception("camera %s: clip for %s failed; the alert goes without a clip", cam,
                              job.alert.id)
            try:
                self.outbox.complete(job.alert.id, completed)
            except OutboxFull:  # stays held on disk; retried here, or released by the next start
                unit.clips.put_back([job for job, _ in jobs[j:]])
                break

    # -- health -------------------------------------------------------------------------------

    def heartbeat(self) -> Heartbeat:
        now_wall, now = datetime.now(UTC), time.monotonic()
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
        self._heartbeats += 1
        return Heartbeat(id=stable_id(self.node_id, "heartbeat", now_wall.isoformat(), self._heartbeats),
                         node_id=self.node_id, sent_at=now_wall,
                         node=self.probe.health(self.outbox.stats()), cameras=cams, live_url=self.live_url,
                         live_key=self.live.key if self.live_url and self.live is not None else None,
                         config_version=self.config_version,
                         config_error=self.config.error if self.config is not None else None)

    def _live_reader(self, camera_id: str) -> StreamReader | None:
        unit = self._by_id.get(camera_id)
        return unit.reader if unit else None


# -- the command ----------------------------------------------------------------------------------


def token_reader(token_file: Path | None) -> Callable[[], str | None]:
    """The node's bearer token, re-read when the file changes (rotating it needs no restart)."""
    if token_file is None:
        value = os.environ.get("GRIDWATCH_TOKEN", "").strip() or None
        return lambda: value
    cache: dict[str, object] = {}

    def read() -> str | None:
        try:
            mtime = token_file.stat().st_mtime_ns
        except OSError:
            return cache.get("token")  # type: ignore[return-value]
        if cache.get("mtime") != mtime:
            cache["mtime"] = mtime
            cache["token"] = token_file.read_text(encoding="utf-8").strip() or None
        return cache.get("token")  # type: ignore[return-value]

    return read


def run_worker(config: Path, node: str, hub: str | None, token_file: Path | None, data_dir: Path | None,
               live_port: int | None, secrets_file: Path | None = None) -> int:
    """``gridwatch edge``: run until SIGTERM/SIGINT, then stop cleanly. Returns the exit code."""
    town = load_town(config)
    try:
        secrets = Secrets.load(secrets_file)
    except SecretsError as exc:
        log.error("edge %s: %s", node, exc)
        return 2
    if town.node(node) is None:
        known = ", ".join(n.id for n in town.nodes[:10]) + (" ..." if len(town.nodes) > 10 else "")
        raise ConfigError(config, "nodes", f"no edge node {node!r} (nodes: {known})")
    if token_file is not None and not token_file.exists():
        log.error("token file %s does not exist", token_file)
        return 2
    tokens = token_reader(token_file)
    if tokens() is None:
        log.warning("no token (--token-file or $GRIDWATCH_TOKEN): the hub will refuse deliveries; "
                    "messages are kept in the outbox until a token is provided")
    if not town.cameras_of(node):
        log.warning("edge %s has no enabled cameras; only heartbeats will be sent", node)
    directory = data_dir or Path(town.edge.data_dir) / node
    hub_url = hub or town.edge.hub_url
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        log.error("edge %s: cannot use data directory %s: %s", node, directory, exc)
        return 2
    sync = ConfigSync(HubConfigClient(hub_url, node, tokens), ConfigStore(directory), town, node, secrets,
                      apply=lambda cfg: worker.request_config(cfg), running=lambda: worker.detection,
                      poll_s=town.edge.config_poll_s)
    start = sync.initial()  # the hub's newest, else the copy on disk, else the town folder
    if start is not None:
        run_town = start.town
    else:
        run_town, refused = resolve_folder_secrets(town, node, secrets)
        sync.error = "; ".join(e for e in (sync.error, refused) if e)[:2000] or None
    onvif = OnvifWatch(secrets)
    try:
        worker = EdgeWorker(run_town, node, hub_url, tokens, directory, live_port=live_port,
                            live_host=town.edge.live_host, onvif=onvif)
    except HardwareDecodeError as exc:
        raise ConfigError(config, f"nodes.{node}.hw_decode", str(exc)) from exc
    except (OSError, sqlite3.Error) as exc:
        log.error("edge %s: cannot use data directory %s: %s", node, directory, exc)
        return 2
    done = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("edge %s: signal %d, stopping", node, signum)
        done.set()

    worker.config, worker.config_version = sync, sync.version
    worker.delivery.on_heartbeat_answer = lambda answer: sync.poke(
        answer.get("config_version") if isinstance(answer, dict) else None)
    old = {s: signal.signal(s, on_signal) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        try:
            worker.start()
        except RuntimeError as exc:  # the live-view port is taken, for one
            log.error("edge %s: %s", node, exc)
            return 2
        sync.start()
        onvif.start()
        while not done.wait(1.0):
            pass
    finally:
        sync.stop()
        onvif.stop()
        worker.stop()
        for s, h in old.items():
            signal.signal(s, h)
    return 0


def resolve_folder_secrets(town: Town, node: str, secrets: Secrets) -> tuple[Town, str | None]:
    """The town folder's cameras of this node with their passwords filled in; a camera whose secret is
    missing stays as it is (its stream will not open) and the reason is returned for the heartbeats."""
    cams, errors = [], []
    for cam in town.cameras:
        if cam.node == node and cam.enabled:
            try:
                cam = secrets.resolve(cam)
            except SecretsError as exc:
                errors.append(str(exc))
                log.error("edge %s: %s", node, exc)
        cams.append(cam)
    return town.model_copy(update={"cameras": cams}), ("; ".join(errors)[:2000] or None)
