"""Keeps each ONVIF camera's profiles, clock and PTZ home moves, on a thread of its own.

The SOAP exchanges (edge.onvif) are slow (seconds for a far camera, up to ``onvif.timeout_s``) and
must never hold up analysis: :class:`OnvifWatch` runs them on its own thread with an asyncio loop,
all cameras at once. The worker asks it, without waiting, for a camera's stream URL
(:meth:`OnvifWatch.stream_url`), its state for the heartbeat (:meth:`OnvifWatch.health`), and to send
a camera that raised ``camera_moved`` home (:meth:`OnvifWatch.camera_moved`, only where the camera's
``onvif.ptz_home_on_moved`` is on). When a camera's profiles give new stream URIs, ``on_streams`` is
called with its id (the worker then swaps that camera's reader, keeping its pipeline; with analysis
processes, ``edge.analysis_procs`` hands the new URL to the camera's process, which does the same).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from edge import onvif
from edge.secrets import Secrets, env_name
from gridwatch.config.schema import Camera, CameraOnvif
from gridwatch.wire import OnvifHealth, PtzMove

log = logging.getLogger("gridwatch.edge.onvif")

#: Seconds before a failed exchange is tried again (at most; a shorter check_every_s wins).
RETRY_S = 30.0
#: Home moves kept per camera for the heartbeat (the wire's limit).
MOVES_KEPT = 20


@dataclass
class _State:
    camera: Camera
    reading: onvif.DeviceReading | None = None
    error: str | None = None
    checked_at: datetime | None = None
    clock_offset_s: float | None = None
    due: float = 0.0  # monotonic time of the next check
    moves: deque[PtzMove] = field(default_factory=lambda: deque(maxlen=MOVES_KEPT))
    moves_total: int = 0

    @property
    def cfg(self) -> CameraOnvif:
        assert self.camera.onvif is not None
        return self.camera.onvif


class OnvifWatch:
    """ONVIF state of a node's cameras; ``start()``/``stop()``. Cameras without ``onvif`` are ignored."""

    def __init__(self, secrets: Secrets, on_streams: Callable[[str], None] | None = None,
                 poll_s: float = 0.2) -> None:
        self.secrets, self.on_streams, self.poll_s = secrets, on_streams, poll_s
        self._states: dict[str, _State] = {}
        self._lock = threading.Lock()
        self._homes: deque[str] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what the worker calls (any thread, never waits on the network) -------------------------

    def set_cameras(self, cameras: list[Camera]) -> None:
        """The cameras the node runs now; one whose ``onvif`` section is unchanged keeps its state."""
        with self._lock:
            old, self._states = self._states, {}
            for cam in cameras:
                if cam.onvif is None or not cam.enabled:
                    continue
                was = old.get(cam.id)
                if was is not None and was.camera.onvif == cam.onvif:
                    was.camera = cam
                    self._states[cam.id] = was
                else:
                    self._states[cam.id] = _State(camera=cam)

    def stream_url(self, camera: Camera) -> str | None:
        """The URL the camera's reader should open from its ONVIF profiles (sub preferred, account
        filled in), or None: use the configured streams."""
        with self._lock:
            st = self._states.get(camera.id)
            if st is None or st.reading is None or not st.cfg.use_streams:
                return None
            uri, cfg = st.reading.sub_uri or st.reading.main_uri, st.cfg
        return onvif.with_credentials(uri, cfg.user, self._password(cfg))

    def health(self, camera_id: str) -> OnvifHealth | None:
        with self._lock:
            st = self._states.get(camera_id)
            if st is None:
                return None
            r, cfg = st.reading, st.cfg
            offset = st.clock_offset_s
            return OnvifHealth(
                ok=st.error is None and st.checked_at is not None, error=st.error, checked_at=st.checked_at,
                clock_offset_s=offset,
                clock_wrong=offset is not None and abs(offset) > cfg.max_clock_offset_s,
                main_uri=onvif.without_credentials(r.main_uri) if r else None,
                sub_uri=onvif.without_credentials(r.sub_uri) if r else None,
                snapshot_uri=onvif.without_credentials(r.snapshot_uri) if r else None,
                ptz_home_on_moved=cfg.ptz_home_on_moved, ptz_moves=list(st.moves),
                ptz_moves_total=st.moves_total)

    def camera_moved(self, camera_id: str) -> bool:
        """The camera raised camera_moved: queue its home move if its config asks for one."""
        with self._lock:
            st = self._states.get(camera_id)
            enabled = st is not None and st.cfg.ptz_home_on_moved
        if not enabled:
            if st is not None:
                log.info("camera %s: camera_moved; onvif.ptz_home_on_moved is off, so it is not moved",
                         camera_id)
            return False
        self._homes.append(camera_id)
        return True

    # -- life -----------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=lambda: asyncio.run(self._main()), name="onvif",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
            self._thread = None

    # -- the thread -----------------------------------------------------------------------------

    async def _main(self) -> None:
        running: dict[str, asyncio.Task[None]] = {}
        homes: set[asyncio.Task[None]] = set()
        try:
            while not self._stop.is_set():
                now = time.monotonic()
                with self._lock:
                    due = [cid for cid, st in self._states.items() if st.due <= now]
                for cid in due:
                    if cid not in running or running[cid].done():
                        running[cid] = asyncio.create_task(self._check(cid))
                while self._homes:
                    task = asyncio.create_task(self._home(self._homes.popleft()))
                    homes.add(task)
                    task.add_done_callback(homes.discard)
                await asyncio.sleep(self.poll_s)
        finally:
            pending = [t for t in (*running.values(), *homes) if not t.done()]
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, return_exceptions=True)

    def _password(self, cfg: CameraOnvif) -> str | None:
        return self.secrets.get(cfg.password_ref) if cfg.password_ref else None

    def _missing_secret(self, cfg: CameraOnvif) -> str | None:
        if cfg.password_ref and self._password(cfg) is None:
            where = f"the secrets file {self.secrets.source} or " if self.secrets.source else ""
            return (f"ONVIF secret {cfg.password_ref!r} is not set (put it in {where}"
                    f"${env_name(cfg.password_ref)} on this edge box)")
        return None

    async def _check(self, camera_id: str) -> None:
        """Read the profiles (first time, or after a failure), else the clock alone."""
        with self._lock:
            st = self._states.get(camera_id)
            if st is None:
                return
            cfg, reading = st.cfg, st.reading
            st.due = time.monotonic() + cfg.check_every_s  # no second check while this one runs
        new_streams = False
        try:
            missing = self._missing_secret(cfg)
            if missing:
                raise onvif.OnvifFailure(missing)
            if reading is None or st.error is not None:
                got = await onvif.read_device(cfg, self._password(cfg))
                new_streams = reading is None or (got.main_uri, got.sub_uri) != (reading.main_uri,
                                                                                 reading.sub_uri)
                reading, offset = got, got.clock_offset_s
                log.info("camera %s: ONVIF profiles read: main %s, sub %s, snapshot %s; clock offset %s s",
                         camera_id, onvif.without_credentials(got.main_uri),
                         onvif.without_credentials(got.sub_uri), onvif.without_credentials(got.snapshot_uri),
                         offset)
            else:
                offset = await onvif.read_clock(cfg, self._password(cfg))
            error = None
        except onvif.OnvifFailure as exc:
            error, offset = str(exc), None
            log.warning("camera %s: %s", camera_id, error)
        with self._lock:
            if self._states.get(camera_id) is not st:  # its config changed meanwhile: drop the result
                return
            st.reading, st.error, st.checked_at = reading, error, datetime.now(UTC)
            if offset is not None:
                st.clock_offset_s = offset
                if abs(offset) > cfg.max_clock_offset_s:
                    log.warning("camera %s: device clock is %+.0f s off the edge's (more than %g s): set "
                                "the camera's time (NTP)", camera_id, offset, cfg.max_clock_offset_s)
            if error is not None:
                st.due = time.monotonic() + min(RETRY_S, cfg.check_every_s)
        if new_streams and cfg.use_streams and self.on_streams is not None:
            self.on_streams(camera_id)

    async def _home(self, camera_id: str) -> None:
        """GotoHomePosition on the camera's main profile; the move is logged and kept either way."""
        with self._lock:
            st = self._states.get(camera_id)
            if st is None:
                return
            cfg, reading = st.cfg, st.reading
        error = None
        try:
            missing = self._missing_secret(cfg)
            if missing:
                raise onvif.OnvifFailure(missing)
            password = self._password(cfg)
            if reading is None:
                reading = await onvif.read_device(cfg, password)
            await onvif.goto_home(cfg, password, reading.main_profile)
            log.warning("camera %s: camera_moved: sent to its home preset (ONVIF GotoHomePosition, "
                        "profile %s)", camera_id, reading.main_profile)
        except onvif.OnvifFailure as exc:
            error = str(exc)[:300]
            log.error("camera %s: camera_moved: home preset move failed: %s", camera_id, error)
        with self._lock:
            st.moves.append(PtzMove(at=datetime.now(UTC), ok=error is None, error=error))
            st.moves_total += 1
