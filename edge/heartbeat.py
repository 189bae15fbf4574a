"""Heartbeats: what each camera and the node are doing, put into the outbox every few seconds.

The figures come from the worker (``snapshot``); this module decides a camera's status and runs the
periodic timer. Status: ``offline`` when no frame came for ``offline_after_s`` (or never),
``degraded`` when a camera fault stands, else ``online``.
"""

from __future__ import annotations

import logging
import math
import threading
from collections import deque
from collections.abc import Callable
from datetime import datetime, timedelta

from edge.outbox import Outbox
from gridwatch.wire import CameraStatus, EventKind, Heartbeat

log = logging.getLogger("gridwatch.edge.heartbeat")


def camera_status(last_frame_at: datetime | None, now: datetime, offline_after_s: float,
                  faults: list[EventKind]) -> CameraStatus:
    if last_frame_at is None or now - last_frame_at > timedelta(seconds=offline_after_s):
        return CameraStatus.OFFLINE
    if EventKind.CAMERA_OFFLINE in faults:
        return CameraStatus.OFFLINE
    return CameraStatus.DEGRADED if faults else CameraStatus.ONLINE


def clean_scores(scores: dict[str, object]) -> dict[str, float]:
    """Only finite numbers go on the wire (a NaN would make the heartbeat invalid JSON)."""
    out: dict[str, float] = {}
    for key, value in scores.items():
        if isinstance(value, bool) or not isinstance(value, int | float):
            continue
        if math.isfinite(float(value)):
            out[str(key)[:64]] = round(float(value), 4)
    return out


class Heartbeater:
    """Every ``every_s`` seconds: ``snapshot()`` -> Heartbeat -> outbox. ``start()``/``stop()``."""

    def __init__(self, outbox: Outbox, snapshot: Callable[[], Heartbeat], every_s: float) -> None:
        self.outbox = outbox
        self.snapshot = snapshot
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.sent = 0

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="heartbeat", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def beat(self) -> None:
        self.outbox.enqueue_heartbeat(self.snapshot())
        self.sent += 1

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.beat()
            except Exception:  # a heartbeat that cannot be built must not end the heartbeats
                log.exception("heartbeat: could not build or store a heartbeat")


class RateMeter:
    """Events per second over a sliding window, from a counter sampled at each heartbeat."""

    def __init__(self, window_s: float = 10.0) -> None:
        self.window_s = window_s
        self._marks: deque[tuple[float, int]] = deque()

    def rate(self, count: int, now: float) -> float:
        self._marks.append((now, count))
        while len(self._marks) > 2 and now - self._marks[1][0] >= self.window_s:
            self._marks.popleft()
        t0, n0 = self._marks[0]
        return max(0.0, (count - n0) / (now - t0)) if now - t0 > 0.5 else 0.0
