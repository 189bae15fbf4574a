"""Wake feed streams as soon as an event commits, through PostgreSQL LISTEN/NOTIFY.

Every transaction that appends to the feed also runs ``pg_notify`` (delivered at commit, by every
hub process to every hub process). One listener thread per app holds a dedicated connection and wakes
the process's feed tail (:mod:`central.feed_tail`), which reads the new events once for every
stream. Polling stays as the fallback: a lost connection (database restart) costs at
most one poll interval while the listener reconnects. SQLite has no such channel and only polls.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable

from sqlalchemy.engine import make_url

from central.feed import NOTIFY_CHANNEL as CHANNEL
from gridwatch.logs import redact

log = logging.getLogger(__name__)


class FeedNotifier:
    """The listener thread: calls ``on_notify`` (the process's :class:`central.feed_tail.FeedTail`
    pokes its reader) for each notification, and once on every (re)connect."""

    def __init__(self, db_url: str, on_notify: Callable[[], None], wait_s: float = 1.0) -> None:
        self.conninfo = make_url(db_url).set(drivername="postgresql").render_as_string(hide_password=False)
        self._on_notify = on_notify
        #: Longest single wait for a notification (then the listener looks whether it should stop).
        self.wait_s = wait_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.listening = threading.Event()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="feed-listener", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._nudge()
        if self._thread is not None:
            self._thread.join(timeout=10)
            self._thread = None

    def _nudge(self) -> None:
        """A NOTIFY of our own, so a listener waiting for one sees the stop at once."""
        if not self.listening.is_set():
            return
        import psycopg

        with contextlib.suppress(Exception), psycopg.connect(
            self.conninfo, autocommit=True, connect_timeout=5
        ) as conn:
            conn.execute(f"NOTIFY {CHANNEL}")

    def _run(self) -> None:
        import psycopg

        backoff = 0.5
        while not self._stop.is_set():
            try:
                with psycopg.connect(self.conninfo, autocommit=True, connect_timeout=5) as conn:
                    conn.execute(f"LISTEN {CHANNEL}")
                    self.listening.set()
                    backoff = 0.5
                    self._on_notify()  # anything committed while we were not listening
                    while not self._stop.is_set():
                        # stop_after=1: back at the first notification (without it the generator
                        # kept waiting for more until the timeout, and woke the streams only then:
                        # up to a second after the commit, later than polling)
                        got = False
                        for _ in conn.notifies(timeout=self.wait_s, stop_after=1):
                            got = True
                        if got:
                            self._on_notify()
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
