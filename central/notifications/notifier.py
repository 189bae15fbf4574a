"""The notifier: one thread per hub process; the one holding the lease routes new feed events into
the queue and delivers what is due, every other one waits to take over.

However many hub processes (``--workers N``, several machines on one PostgreSQL) run one, a single
one sends at a time (:class:`central.notifications.queue.Lease`). It wakes when this process commits a
feed event (:meth:`poke`), when the next message falls due, and every ``poll_s`` otherwise (events
committed by other processes, the lease).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import httpx
from prometheus_client import CollectorRegistry, Counter

from central.db import Database
from central.notifications import queue
from central.notifications.channels import ReadyChannel
from central.notifications.rules import Delivery, Event, OrderFacts, route
from central.notifications.sender import attempt
from gridwatch.config import Town
from gridwatch.logs import redact

log = logging.getLogger(__name__)


class Notifier:
    """``start()`` at the hub's start-up, ``stop()`` at shutdown (hands the lease back)."""

    def __init__(
        self,
        db: Database,
        town: Town,
        channels: dict[str, ReadyChannel],
        clock: Callable[[], datetime],
        *,
        poll_s: float = 1.0,
        registry: CollectorRegistry | None = None,
        holder: str | None = None,
    ) -> None:
        self.db, self.town, self.channels, self.clock, self.poll_s = db, town, channels, clock, poll_s
        self.settings = town.notifications
        self.holder = holder or f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.lease = queue.Lease(db, self.holder, self.settings.lease_s)
        self.attempts = Counter(
            "gridwatch_notification_attempts",
            "Delivery attempts made by this hub process, by channel and outcome (ok, error).",
            ["channel", "outcome"],
            registry=registry if registry is not None else CollectorRegistry(),
        )
        self._group_wait = {name: ch.config.group_wait_s for name, ch in channels.items()}
        self._client: httpx.Client | None = None
        self._stop = threading.Event()
        self._poke = threading.Event()
        self._thread: threading.Thread | None = None

    # --- life cycle ---

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="notifier", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join(timeout=60)
            self._thread = None
        try:
            self.lease.release(self.clock())
        except Exception as exc:  # the database is gone: the lease lapses on its own
            log.warning("notifier: could not hand the lease back (%s)", type(exc).__name__)
        if self._client is not None:
            self._client.close()
            self._client = None

    def _http(self) -> httpx.Client:
        if self._client is None:  # proxies from the environment are not used (as on the edge)
            self._client = httpx.Client(trust_env=False, follow_redirects=False)
        return self._client

    def poke(self) -> None:
        """A feed event was committed in this process: look now."""
        self._poke.set()

    def _run(self) -> None:
        while not self._stop.is_set():
            self._poke.clear()
            wait = self.poll_s
            try:
                wait = self.run_once()
            except Exception as exc:  # the database away for a moment: try again shortly
                log.warning(
                    "notifier: %s; again in %.1f s",
                    redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__,
                    self.poll_s,
                )
            self._poke.wait(wait)

    # --- one pass ---

    def run_once(self) -> float:
        """Take or renew the lease; if held, route every new event and send what is due. Returns the
        seconds until there is something to do again (at most ``poll_s``)."""
        now = self.clock()
        if not self.lease.hold(now):
            return self.poll_s
        while not self._stop.is_set():
            n = queue.enqueue(
                self.db,
                self.holder,
                self.clock(),
                self._route,
                town_name=self.town.town.name,
                group_wait_s=self._group_wait,
                max_age_s=self.settings.max_event_age_s,
            )
            if not n or n < queue.BATCH:
                break
        self._send_due()
        nxt = queue.next_due(self.db, list(self.channels))
        if nxt is None:
            return self.poll_s
        return max(0.01, min(self.poll_s, (nxt - self.clock()).total_seconds()))

    def _route(self, event: Event, lookup: Callable[[int], OrderFacts | None]) -> list[Delivery]:
        return [d for d in route(event, self.town, self.settings, lookup) if d.channel in self.channels]

    def _send_due(self) -> None:
        by_channel: dict[str, list[int]] = {}
        for msg_id, channel in queue.due(self.db, self.clock(), list(self.channels)):
            by_channel.setdefault(channel, []).append(msg_id)
        if not by_channel:
            return
        client = self._http()  # made here, once: the channels' threads share it
        if len(by_channel) == 1:
            [(name, ids)] = by_channel.items()
            self._send_channel(client, name, ids)
            return
        with ThreadPoolExecutor(max_workers=min(8, len(by_channel)), thread_name_prefix="notify") as pool:
            for f in [pool.submit(self._send_channel, client, name, ids) for name, ids in by_channel.items()]:
                f.result()

    def _send_channel(self, client: httpx.Client, name: str, ids: list[int]) -> None:
        """One channel's due messages in order; the first failure ends the channel's turn (a receiver
        that is down is not hammered with the whole queue; each message keeps its own backoff)."""
        ch = self.channels.get(name)
        if ch is None:  # a channel turned off since: its messages wait until it is back
            return
        retry = self.settings.retry
        for msg_id in ids:
            if self._stop.is_set():
                return
            claimed = queue.claim(self.db, self.holder, msg_id, self.clock(), retry, ch.config.timeout_s)
            if claimed is None:
                continue
            error = attempt(client, ch, claimed, int(self.clock().timestamp() * 1000))
            self.attempts.labels(channel=name, outcome="ok" if error is None else "error").inc()
            state = queue.record(self.db, claimed, self.clock(), error, retry)
            if error is not None:
                level = logging.ERROR if state == "failed" else logging.INFO
                log.log(
                    level,
                    "notifier: %s to %s on %s, attempt %d: %s%s",
                    claimed.delivery_id,
                    claimed.payload.get("recipient", {}).get("id"),
                    name,
                    claimed.attempts,
                    error,
                    "; given up" if state == "failed" else "",
                )
                return
