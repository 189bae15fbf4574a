"""The edge worker's analysis processes: cameras spread over processes, each restarted if it dies or hangs.

Decoding and analysis run in ``count`` processes started with multiprocessing's ``spawn`` (a fresh
interpreter each: no threads or locks inherited), each running a
:class:`~edge.camera_group.CameraGroup` for its share of the cameras (``edge.group_process``). So
one ``gridwatch edge`` uses every core whatever the GIL does, and one camera's crash in native code
(a decoder, ONNX Runtime) takes down only its process's cameras, for a moment.

This object, in the main process:
- answers the processes' outbox calls (one thread per process): every alert step is stored in the
  node's durable outbox before the process goes on; onsets held for their clip are remembered per
  process, and released without their clip when that process dies;
- asks each process for its cameras' health every second (the node's heartbeat uses the answers),
  and kills (SIGKILL) and restarts a process that has died, answers nothing, or makes no analysis turn
  for ``hung_after_s``; its cameras resume in the new process (their scene is learned again);
- hands a new registry revision to the processes, new cameras to the process with the fewest;
- with an ONVIF watch (``use_onvif``; it runs here, in the main process): hands the processes the
  stream URLs it found (their readers open them, as in the threads mode) and sends a camera home
  when a process stores that camera's ``camera_moved`` onset.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import multiprocessing as mp
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import TYPE_CHECKING, Any

from edge.backoff import Backoff
from edge.camera_group import PipelineFactory
from edge.group_process import group_main
from edge.heartbeat import camera_status
from edge.outbox import Outbox, OutboxFull
from gridwatch.config.schema import Town
from gridwatch.wire import Alert, CameraHealth, EventKind, Phase, stable_id

if TYPE_CHECKING:
    from edge.onvif_watch import OnvifWatch

log = logging.getLogger("gridwatch.edge.worker")

#: Seconds between health questions to each process (and between looks at whether it lives).
POLL_S = 1.0
#: Seconds a process has to answer a health question before the question counts as unanswered.
ANSWER_S = 2.0
#: Seconds a process has to stop when asked, before it is killed.
STOP_S = 30.0


@dataclass
class _Slot:
    """One analysis process and what the parent keeps about it."""

    index: int
    select: frozenset[str]
    proc: BaseProcess | None = None
    cmd: Connection | None = None
    rpc_thread: threading.Thread | None = None
    held: set[str] = field(default_factory=set)   # onsets it stored held, not completed yet
    answered_at: float = 0.0
    turns: int = -1
    turns_at: float = 0.0
    started_at: float = 0.0
    restart_at: float = 0.0
    restarts: int = 0
    backoff: Backoff = field(default_factory=lambda: Backoff(base=0.5, cap=30.0))
    lock: threading.Lock = field(default_factory=threading.Lock)


class AnalysisProcesses:
    """``count`` analysis processes for the cameras of ``node_id``; start(), stop(), health()."""

    def __init__(self, town: Town, node_id: str, outbox: Outbox, count: int, hung_after_s: float,
                 factory: PipelineFactory | None = None, verbose: bool = False) -> None:
        self.town, self.node_id = town, node_id
        self.outbox = outbox
        self.hung_after_s = hung_after_s
        self._factory = factory
        self._verbose = verbose
        self._ctx = mp.get_context("spawn")
        cams = [c.id for c in town.cameras_of(node_id)]
        count = max(1, min(count, len(cams) or 1))
        self.slots = [_Slot(i, frozenset(cams[i::count])) for i in range(count)]
        self._health: dict[str, CameraHealth] = {}
        self._tags = itertools.count(1)
        self._stop = threading.Event()
        self._supervisor: threading.Thread | None = None
        self._held_lock = threading.Lock()
        #: ONVIF cameras' watch (set by the worker) and the stream URLs it found, as last handed over.
        self.onvif: OnvifWatch | None = None
        self.stream_urls: dict[str, str] = {}
        self._urls_lock = threading.Lock()  # one hand-over of URLs at a time, the newest last
        self._urls_stale = threading.Event()

    def use_onvif(self, onvif: OnvifWatch) -> None:
        """Read ONVIF cameras from the stream URLs their profiles give, and send moved ones home.
        Call before ``start``. The watch only flags new URLs (its thread must not wait on a process);
        the supervisor hands them over within a second."""
        self.onvif = onvif
        onvif.set_cameras(self.town.cameras_of(self.node_id))
        onvif.on_streams = lambda _camera_id: self._urls_stale.set()
        self.stream_urls = self._found_urls(self.town)

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        self._stop.clear()
        for slot in self.slots:
            self._launch(slot)
        self._supervisor = threading.Thread(target=self._supervise, name="analysis-supervisor", daemon=True)
        self._supervisor.start()

    def stop(self) -> None:
        """Each process stops its group (held steps go to the outbox); one that does not is killed."""
        self._stop.set()
        if self._supervisor is not None:
            self._supervisor.join(30)
            self._supervisor = None
        for slot in self.slots:
            with slot.lock:
                if slot.cmd is not None and slot.proc is not None and slot.proc.is_alive():
                    try:
                        self._ask(slot, "stop", timeout=STOP_S)
                    except (OSError, EOFError, TimeoutError):
                        log.warning("analysis process %d did not stop in time; killed", slot.index)
        for slot in self.slots:
            self._end(slot, kill_after=5.0)

    def pids(self) -> list[int | None]:
        """The processes' ids, by index (None while one is being restarted)."""
        return [s.proc.pid if s.proc is not None and s.proc.is_alive() else None for s in self.slots]

    def counters(self) -> list[dict[str, object]]:
        """Every running process's cameras' counters (``CameraGroup.counters``)."""
        out: list[dict[str, object]] = []
        for slot in self.slots:
            with slot.lock:
                if slot.cmd is not None and slot.proc is not None and slot.proc.is_alive():
                    with contextlib.suppress(OSError, EOFError, TimeoutError):
                        out += self._ask(slot, "counters")[1]
        return out

    def restarts(self) -> int:
        return sum(s.restarts for s in self.slots)

    # -- configuration --------------------------------------------------------------------------

    def request_config(self, town: Town) -> None:
        """Run ``town``: cameras that stay keep their process, new ones go where there are fewest."""
        ids = [c.id for c in town.cameras_of(self.node_id)]
        keep = set(ids)
        shares = [set(s.select) & keep for s in self.slots]
        placed = set().union(*shares) if shares else set()
        for cid in ids:
            if cid not in placed:
                min(shares, key=len).add(cid)
        self.town = town
        with self._urls_lock:
            if self.onvif is not None:
                self.onvif.set_cameras(town.cameras_of(self.node_id))
                self.stream_urls = self._found_urls(town)
            for slot, share in zip(self.slots, shares, strict=True):
                slot.select = frozenset(share)
                with slot.lock:
                    if slot.cmd is not None and slot.proc is not None and slot.proc.is_alive():
                        # one that does not answer is restarted by the supervisor, with this configuration
                        with contextlib.suppress(OSError, EOFError, TimeoutError):
                            self._ask(slot, "config", town, slot.select, self.stream_urls)
        with self._held_lock:
            self._health = {k: v for k, v in self._health.items() if k in keep}

    def _found_urls(self, town: Town) -> dict[str, str]:
        """The stream URL ONVIF found for each of ``town``'s cameras here that has one."""
        assert self.onvif is not None
        found = {c.id: self.onvif.stream_url(c) for c in town.cameras_of(self.node_id)}
        return {cid: url for cid, url in found.items() if url}

    def _hand_over_urls(self) -> None:
        """New ONVIF stream URLs to the running processes (a process started later gets them too)."""
        self._urls_stale.clear()
        with self._urls_lock:
            urls = self._found_urls(self.town)
            if urls == self.stream_urls:
                return
            self.stream_urls = urls
            for slot in self.slots:
                with slot.lock:
                    if slot.cmd is not None and slot.proc is not None and slot.proc.is_alive():
                        with contextlib.suppress(OSError, EOFError, TimeoutError):
                            self._ask(slot, "streams", urls)

    # -- health -------------------------------------------------------------------------------

    def health(self, now_wall: datetime) -> list[CameraHealth]:
        """Each camera's last known health; a camera whose process is down is judged by its last
        frame (offline once that is ``offline_after_s`` old)."""
        with self._held_lock:
            known = dict(self._health)
        out = []
        after = self.town.detection.offline_after_s
        for cam in self.town.cameras_of(self.node_id):
            h = known.get(cam.id)
            if h is None:
                h = CameraHealth(camera_id=cam.id, status=camera_status(None, now_wall, after, []),
                                 fps_in=0.0, fps_analysed=0.0, decode_errors=0)
            else:
                h = h.model_copy(update={"status": camera_status(h.last_frame_at, now_wall, after, h.faults)})
            out.append(h)
        return out

    # -- inside ---------------------------------------------------------------------------------

    def _launch(self, slot: _Slot) -> None:
        rpc_parent, rpc_child = self._ctx.Pipe()
        cmd_parent, cmd_child = self._ctx.Pipe()
        threads = 1  # one analysis thread per process: the processes are the parallelism
        proc = self._ctx.Process(target=group_main, name=f"gridwatch-analysis-{slot.index}",
                                 args=(rpc_child, cmd_child, self.town, self.node_id, slot.select,
                                       self._factory, threads, self._verbose, self.stream_urls),
                                 daemon=True)
        proc.start()
        rpc_child.close()
        cmd_child.close()
        now = time.monotonic()
        slot.proc, slot.cmd = proc, cmd_parent
        slot.answered_at = slot.turns_at = slot.started_at = now
        slot.turns = -1
        slot.rpc_thread = threading.Thread(target=self._serve, args=(slot, rpc_parent),
                                           name=f"analysis-rpc-{slot.index}", daemon=True)
        slot.rpc_thread.start()
        log.info("analysis process %d: pid %d, %d cameras (%s)", slot.index, proc.pid, len(slot.select),
                 ", ".join(sorted(slot.select)))

    def _end(self, slot: _Slot, kill_after: float = 0.0) -> None:
        """The process gone (killed if need be), its pipes closed, its held onsets released."""
        proc, slot.proc = slot.proc, None
        if proc is not None:
            if kill_after > 0:
                proc.join(kill_after)
            if proc.is_alive():
                proc.kill()
            proc.join(10)
        with slot.lock:  # no command is being asked of it meanwhile
            if slot.cmd is not None:
                slot.cmd.close()
                slot.cmd = None
        if slot.rpc_thread is not None:
            slot.rpc_thread.join(10)
            slot.rpc_thread = None
        with self._held_lock:
            held, slot.held = sorted(slot.held), set()
        for msg_id in held:  # as the next start would: the onset goes out without its clip
            # on a full disk it stays held there; the next start of the worker releases it
            with contextlib.suppress(OutboxFull):
                self.outbox.complete(msg_id, None)

    def _serve(self, slot: _Slot, conn: Connection) -> None:
        """Answer one process's outbox calls until it goes away."""
        try:
            while True:
                try:
                    request = conn.recv()
                except (EOFError, OSError):
                    return
                conn.send(self._answer(slot, request))
        except (OSError, BrokenPipeError):
            return
        finally:
            conn.close()

    def _answer(self, slot: _Slot, request: tuple[Any, ...]) -> tuple[str, Any]:
        what = request[0]
        try:
            if what == "enqueue":
                _, cam, alert, held = request
                node = self.node_id

                def build(seq: int, a: Alert = alert) -> Alert:
                    return a.model_copy(update={"seq": seq, "id": stable_id(node, cam, a.event_id,
                                                                            a.phase.value, seq)})

                stored = self.outbox.enqueue_alert(cam, build, held=held)
                if held:
                    with self._held_lock:
                        slot.held.add(stored.id)
                if alert.kind == EventKind.CAMERA_MOVED and alert.phase == Phase.ONSET and \
                        self.onvif is not None:
                    self.onvif.camera_moved(cam)  # queued: the ONVIF thread sends it home
                return ("ok", stored)
            if what == "complete":
                _, msg_id, alert = request
                self.outbox.complete(msg_id, alert)
                with self._held_lock:
                    slot.held.discard(msg_id)
                return ("ok", None)
            return ("invalid", f"unknown call {what!r}")
        except OutboxFull as exc:
            return ("full", str(exc))
        except ValueError as exc:
            return ("invalid", str(exc))

    def _ask(self, slot: _Slot, what: str, *args: Any, timeout: float = ANSWER_S) -> tuple[Any, ...]:
        """Send a command and wait for its answer (older, late answers are skipped). Hold slot.lock."""
        assert slot.cmd is not None
        tag = next(self._tags)
        slot.cmd.send((tag, what, *args))
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not slot.cmd.poll(left):
                raise TimeoutError(f"analysis process {slot.index} did not answer {what!r}")
            answer = slot.cmd.recv()
            if answer[0] == tag:
                return answer  # type: ignore[no-any-return]

    def _supervise(self) -> None:
        while not self._stop.wait(POLL_S):
            if self._urls_stale.is_set():
                self._hand_over_urls()
            for slot in self.slots:
                if self._stop.is_set():
                    return
                self._check(slot)

    def _check(self, slot: _Slot) -> None:
        now = time.monotonic()
        if slot.proc is None:
            if now >= slot.restart_at:
                self._launch(slot)
            return
        why = None
        if not slot.proc.is_alive():
            why = f"died (exit code {slot.proc.exitcode})"
        else:
            with slot.lock:
                try:
                    _, cams, turns = self._ask(slot, "health")
                except (OSError, EOFError, TimeoutError):
                    cams = None
            if cams is not None:
                slot.answered_at = now
                if turns != slot.turns:
                    slot.turns, slot.turns_at = turns, now
                with self._held_lock:
                    self._health.update({h.camera_id: h for h in cams})
                if now - slot.started_at > self.hung_after_s:
                    slot.backoff.reset()
            if now - slot.answered_at > self.hung_after_s:
                why = f"answered nothing for {now - slot.answered_at:.0f} s"
            elif now - slot.turns_at > self.hung_after_s:
                why = f"made no analysis turn for {now - slot.turns_at:.0f} s"
        if why is None:
            return
        pid = slot.proc.pid
        self._end(slot)
        slot.restarts += 1
        delay = slot.backoff.next() if slot.backoff.failures else 0.0
        if not slot.backoff.failures:
            slot.backoff.failures = 1
        slot.restart_at = now + delay
        log.error("analysis process %d (pid %s) %s: killed, its %d cameras restart in a new process "
                  "in %.1f s (restart %d)", slot.index, pid, why, len(slot.select), delay, slot.restarts)
        if delay == 0.0:
            self._launch(slot)
