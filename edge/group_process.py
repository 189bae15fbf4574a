"""Inside an analysis process: one :class:`~edge.camera_group.CameraGroup`, alerts to the parent.

The parent (``edge.analysis_procs``) starts this with multiprocessing's ``spawn`` and two pipes:
- ``rpc``: this process asks, the parent answers. Every alert step is stored in the parent's durable
  outbox before the group goes on (:class:`OutboxProxy`: the same calls, the same ``OutboxFull``), so
  a process killed at any moment loses no stored step; an onset held for its clip is released by the
  parent without its clip when this process dies.
- ``cmd``: the parent asks, this process answers: ``health`` (the cameras' health and the count of
  analysis turns, by which the parent sees a hung process), ``counters`` (``CameraGroup.counters``),
  ``config`` (a new registry revision, this process's share of the cameras and the stream URLs
  ONVIF found), ``streams`` (those URLs alone, when the parent's ONVIF watch finds new ones: a
  camera's reader moves to its URL, its pipeline stays), ``stop``.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from multiprocessing.connection import Connection
from typing import Any

from edge.camera_group import CameraGroup, PipelineFactory
from edge.hwdecode import open_hw_decoder
from edge.outbox import OutboxFull
from gridwatch.config.schema import Town
from gridwatch.logs import setup_logging
from gridwatch.wire import Alert

log = logging.getLogger("gridwatch.edge.worker")


class OutboxProxy:
    """The parent's outbox, seen from an analysis process (thread-safe: one call at a time)."""

    def __init__(self, rpc: Connection) -> None:
        self._rpc = rpc
        self._lock = threading.Lock()

    def _call(self, *request: Any) -> Any:
        with self._lock:
            self._rpc.send(request)
            answer = self._rpc.recv()
        if answer[0] == "full":
            raise OutboxFull(answer[1])
        if answer[0] == "invalid":
            raise ValueError(answer[1])
        return answer[1]

    def enqueue_alert(self, camera_id: str, build: Callable[[int], Alert], held: bool = False) -> Alert:
        """Built here with seq 0 (validated as the wire will), numbered and stored by the parent."""
        stored: Alert = self._call("enqueue", camera_id, build(0), held)
        return stored

    def complete(self, msg_id: str, alert: Alert | None = None) -> None:
        self._call("complete", msg_id, alert)


def group_main(rpc: Connection, cmd: Connection, town: Town, node_id: str, select: frozenset[str],
               factory: PipelineFactory | None, threads: int, verbose: bool,
               stream_urls: dict[str, str] | None = None) -> None:
    """The analysis process: run the group until the parent says stop (or goes away).
    ``stream_urls``: the stream URLs ONVIF found by camera id (the watch runs in the parent)."""
    setup_logging(verbose)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent stops us (Ctrl-C reaches the group)
    node = town.node(node_id)
    hwaccel = open_hw_decoder(node.hw_decode) if node is not None and node.hw_decode else None
    holder: dict[str, CameraGroup] = {}
    if factory is None:
        from edge.worker import real_pipeline_factory

        factory = real_pipeline_factory(lambda: holder["group"].town if "group" in holder else town)
    group = CameraGroup(town, node_id, OutboxProxy(rpc), factory, threads, select, hwaccel, stream_urls)
    holder["group"] = group
    group.start()
    try:
        while True:
            try:
                request = cmd.recv()
            except (EOFError, OSError):
                return  # the parent is gone
            tag, what = request[0], request[1]
            if what == "health":
                cmd.send((tag, group.health(datetime.now(UTC), time.monotonic()), group.turns))
            elif what == "counters":
                cmd.send((tag, group.counters()))
            elif what == "config":
                group.set_stream_urls(request[4])
                group.request_config(request[2], request[3])
                cmd.send((tag, None))
            elif what == "streams":
                group.set_stream_urls(request[2])
                cmd.send((tag, None))
            elif what == "stop":
                group.stop()
                cmd.send((tag, None))
                return
    finally:
        group.stop()
