"""The edge worker: all of a node's cameras, from streams to alerts in the outbox, on every core.

Parts, each with start()/stop():
- the cameras' analysis: a :class:`~edge.camera_group.CameraGroup` (readers, pipelines, analysis
  threads; event steps become wire alerts in the outbox) in this process (``analysis_processes`` 0:
  threads over the cores), or one per analysis process (:class:`~edge.analysis_procs.AnalysisProcesses`:
  cameras spread over processes, each restarted if it dies or hangs; their alerts come back here
  to this process's durable outbox),
- :class:`~edge.heartbeat.Heartbeater` (node and camera health into the outbox),
- :class:`~edge.delivery.Delivery` (outbox to hub),
- optionally :class:`~edge.live.LiveServer` (WebRTC answers for live view; it needs the cameras'
  readers in this process, so live view runs the threads mode).
The pipeline is built by a factory (default: the real :class:`edge.pipeline.CameraPipeline` with
models loaded once per process), so tests that need no detection can pass their own (with analysis
processes it must be picklable: a module-level callable).
"""

from __future__ import annotations

import logging
import os
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from edge.analysis_procs import AnalysisProcesses
from edge.camera_group import CameraGroup, CameraUnit, Pipeline, PipelineFactory
from edge.config_sync import ConfigStore, ConfigSync, HubConfigClient, NodeConfig
from edge.delivery import Delivery
from edge.heartbeat import Heartbeater
from edge.hwdecode import HardwareDecodeError, open_hw_decoder
from edge.onvif_watch import OnvifWatch
from edge.outbox import Outbox
from edge.secrets import Secrets, SecretsError
from edge.sources import StreamReader
from edge.sysinfo import NodeProbe
from gridwatch.config import ConfigError, load_town
from gridwatch.config.schema import Camera, Town
from gridwatch.logs import redact
from gridwatch.wire import Heartbeat, stable_id

log = logging.getLogger("gridwatch.edge.worker")

__all__ = ["CameraUnit", "EdgeWorker", "Pipeline", "PipelineFactory", "real_pipeline_factory", "run_worker"]


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


def box_cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def analysis_process_count(configured: int | None, cameras: int, cores: int, live: bool) -> int:
    """How many analysis processes: as configured; by default one per core when the box has more than
    two cores and more than two cameras (on 1-2 cores a process's interpreter and models cost more
    than the GIL does), else 0 (threads). Live view needs the readers here: 0."""
    if live:
        return 0
    if configured is not None:
        return min(configured, max(1, cameras)) if configured else 0
    return min(cores, cameras) if cores > 2 and cameras > 2 else 0


class EdgeWorker:
    def __init__(self, town: Town, node_id: str, hub_url: str, token_source: Callable[[], str | None],
                 data_dir: Path, live_port: int | None = None, live_host: str = "127.0.0.1",
                 pipeline_factory: PipelineFactory | None = None, analysis_threads: int | None = None,
                 verbose: bool = False, onvif: OnvifWatch | None = None) -> None:
        """``onvif``: ONVIF cameras' profiles, clocks and home moves (edge.onvif_watch); None: none."""
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
        cores = box_cores()
        count = analysis_process_count(town.edge.analysis_processes, len(cameras), cores,
                                       live_port is not None)
        self.group: CameraGroup | None = None
        self.procs: AnalysisProcesses | None = None
        if count:
            hwaccel = None  # each process opens its own
            self.procs = AnalysisProcesses(town, node_id, self.outbox, count, town.edge.analysis_hung_after_s,
                                           pipeline_factory, verbose)
        else:
            # Analysis threads, cameras spread over them: the heavy parts of analysis (OpenCV, ONNX
            # Runtime, large numpy operations) release the GIL, as PyAV's demuxing, decoding and
            # scaling in the reader threads do.
            group_box: dict[str, CameraGroup] = {}
            factory = pipeline_factory or real_pipeline_factory(
                lambda: group_box["g"].town if "g" in group_box else town)
            self.group = CameraGroup(town, node_id, self.outbox, factory, analysis_threads or cores,
                                     hwaccel=hwaccel)
            group_box["g"] = self.group
            self.group.on_swapped = self._swapped  # type: ignore[method-assign]
        #: The camera-registry revision running (None: the town folder) and the sync that fetches it.
        self.config_version: int | None = None
        self.config: ConfigSync | None = None
        self._pending_revision: int | None = None
        self.probe = NodeProbe(data_dir)
        self.heartbeater = Heartbeater(self.outbox, self.heartbeat, town.edge.heartbeat_every_s)
        self.live = None
        self.live_url: str | None = None
        if live_port is not None:
            from edge.live import LiveServer

            self.live = LiveServer(self._live_reader, host=live_host, port=live_port)
        self._heartbeats = 0
        self.onvif = onvif
        if onvif is not None:
            if self.group is not None:
                self.group.use_onvif(onvif)
            else:
                assert self.procs is not None
                self.procs.use_onvif(onvif)  # the watch runs here; the processes get its stream URLs

    @property
    def units(self) -> list[CameraUnit]:
        """The cameras analysed in this process (threads mode; none with analysis processes)."""
        return self.group.units if self.group is not None else []

    @property
    def analysis_threads(self) -> int:
        return self.group.threads if self.group is not None else 0

    def counters(self) -> list[dict[str, object]]:
        """Each camera's counters, from this process or the analysis processes."""
        if self.procs is not None:
            return self.procs.counters()
        assert self.group is not None
        return self.group.counters()

    # -- configuration from the hub (edge.config_sync) -----------------------------------------

    def request_config(self, cfg: NodeConfig) -> None:
        """Run ``cfg``: from the analysis loop's next turn (threads), or handed to the processes."""
        if self.procs is not None:
            self.town, self.detection = cfg.town, cfg.town.detection
            self.procs.request_config(cfg.town)  # and the ONVIF watch's cameras
            self._now_running(cfg.revision, "handed to the analysis processes")
            return
        assert self.group is not None
        self._pending_revision = cfg.revision
        self.group.request_config(cfg.town)

    def _swapped(self, changes: tuple[list[str], list[str], list[str]] | None) -> None:
        if changes is None or self.group is None:
            return
        added, removed, changed = changes
        self.town, self.detection = self.group.town, self.group.detection
        kept = len(self.group.units) - len(added) - len(changed)
        self._now_running(self._pending_revision, f"{len(added)} cameras added, {len(removed)} removed, "
                                                  f"{len(changed)} changed, {kept} kept as they were")

    def _now_running(self, revision: int | None, what: str) -> None:
        self.config_version = revision
        if self.config is not None and revision is not None:
            self.config.now_running(revision)
        log.info("edge %s: runs registry revision %s: %s", self.node_id, revision, what)

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        hw = self.hw_decode
        mode = (f"{len(self.procs.slots)} analysis processes" if self.procs is not None
                else f"{self.analysis_threads} analysis threads")
        log.info("edge %s: %d cameras, analysis %.2g fps at %d px, %s, decoding on %s, hub %s, data %s",
                 self.node_id, len(self.town.cameras_of(self.node_id)), self.detection.analysis_fps,
                 self.detection.analysis_width, mode,
                 f"{hw.device_type} {hw.device or 'default'}" if hw else "the CPU",
                 redact(self.delivery.hub_url), self.data_dir)
        if self.live is not None:
            self.live.start()
            self.live_url = self.live.url
            log.info("edge %s: live view answers WebRTC offers at %s/offer", self.node_id, self.live_url)
        self.delivery.start()
        if self.procs is not None:
            self.procs.start()
        else:
            assert self.group is not None
            self.group.start()
        self.heartbeater.start()

    def stop(self) -> None:
        """Analysis first (held steps go to the outbox), then the rest."""
        if self.procs is not None:
            self.procs.stop()
        if self.group is not None:
            self.group.stop()
        self.heartbeater.stop()
        if self.live is not None:
            self.live.stop()
        self.delivery.stop()
        stats = self.outbox.stats()
        log.info("edge %s: stopped; outbox holds %d messages (%d bytes), %d delivered, %d dropped by the "
                 "disk policy, %d dead letters", self.node_id, stats.depth, stats.bytes, stats.delivered,
                 stats.dropped, stats.dead)
        self.outbox.close()

    # -- health -------------------------------------------------------------------------------

    def heartbeat(self) -> Heartbeat:
        now_wall, now = datetime.now(UTC), time.monotonic()
        if self.procs is not None:
            cams = self.procs.health(now_wall)
            if self.onvif is not None:
                onvif = self.onvif
                cams = [c.model_copy(update={"onvif": onvif.health(c.camera_id)}) for c in cams]
        else:
            assert self.group is not None
            cams = self.group.health(now_wall, now)
        self._heartbeats += 1
        return Heartbeat(id=stable_id(self.node_id, "heartbeat", now_wall.isoformat(), self._heartbeats),
                         node_id=self.node_id, sent_at=now_wall,
                         node=self.probe.health(self.outbox.stats()), cameras=cams, live_url=self.live_url,
                         live_key=self.live.key if self.live_url and self.live is not None else None,
                         config_version=self.config_version,
                         config_error=self.config.error if self.config is not None else None)

    def _live_reader(self, camera_id: str) -> StreamReader | None:
        return self.group.reader_of(camera_id) if self.group is not None else None


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
                            live_host=town.edge.live_host,
                            verbose=logging.getLogger().isEnabledFor(logging.DEBUG), onvif=onvif)
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
