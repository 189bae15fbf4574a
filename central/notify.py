"""Wake feed streams as soon as an event commits, through PostgreSQL LISTEN/NOTIFY.

Every transaction that appends to the feed also runs ``pg_notify`` (delivered at commit, by every
hub process to every hub process). One listener thread per app holds a dedicated connection and wakes
the waiting streams. Polling stays as the fallback: a lost connection (database restart) costs at
most one poll interval while the listener reconnects. SQLite has no such channel and only polls.
"""

from __future__ import annotations

import asyncio
import logging
import threading

from sqlalchemy.engine import make_url

from central.feed import NOTIFY_CHANNEL as CHANNEL
from gridwatch.logs import redact

log = logging.getLogger(__name__)


class FeedNotifier:
    """Listener thread plus the set of waiting streams (each an asyncio.Event on its own loop)."""

    def __init__(self, db_url: str) -> None:
        self.conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def register(self) -> asyncio.Event:
        event = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), event))
        return event

    def unregister(self, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {(lp, ev) for lp, ev in self._waiters if ev is not event}

    def wake_all(self) -> None:
        with self._lock:
            waiters = list(self._waiters)
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="feed-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _run(self) -> None:
        import psycopg

        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    backoff = 0.5
                    self.wake_all()  # anything committed while we were not listening
                    while not self._stop.is_set():
                        got = False
                        for _ in conn.notifies(timeout=1.0):
                            got = True
                        if got:
                            self.wake_all()
            except Exception as exc:  # database restarting or unreachable: poll meanwhile, retry
                self.listening.clear()
                log.warning(
                    "feed listener: %s; retrying in %.1f s",
                    redact(str(exc)).splitlines()[0] if str(exc) else type(exc).__name__,
                    backoff,
                )
                self._stop.wait(backoff)
                backoff = min(backoff * 2, 10.0)
        self.listening.clear()
