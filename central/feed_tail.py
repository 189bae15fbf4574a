"""One reader of the feed log per hub process, shared by every live feed stream.

Each following console used to read the event table itself whenever it was woken: with 50 consoles
a new event was read 50 times, and during a burst of alerts every event 50 times (each an ORM row
and its JSON). The tail reads what is new once per wake-up (a NOTIFY on PostgreSQL, this process's
own commits, on a SQLite file another process's commits, else every ``poll_s``) into a bounded
window of ready SSE frames; a stream sends what it has not sent from there, and reads the table
itself only to catch up from further back than the window reaches (a new console, or one resuming
after a long disconnect). Events commit in id order (:class:`central.db.Database`), so everything
after the window's floor is in the window. With no stream following, the tail reads nothing.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import threading
import time

from central.db import CommitWatch, Database
from central.feed import events_after, newest_event_id, sse_frame

log = logging.getLogger(__name__)

#: Events read per look (a longer backlog takes several, back to back).
READ_LIMIT = 500


class FeedTail:
    """The thread that tails the event table, and the window of frames it keeps; ``start()`` in
    the app's start-up, ``stop()`` at shutdown."""

    def __init__(self, db: Database, poll_s: float, keep: int = 5000, watch_s: float = 0.05) -> None:
        self._db, self._poll_s, self._keep, self._watch_s = db, poll_s, keep, watch_s
        self._lock = threading.Lock()
        self._ids: list[int] = []
        self._frames: list[str] = []
        #: Every event with an id above the floor is in the window (None until the first look).
        self._floor: int | None = None
        self._last = 0
        self._poke = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._waiters: set[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = set()

    def start(self) -> None:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="feed-tail", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._poke.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
            self._thread = None

    def poke(self) -> None:
        """Something was committed to the feed (a NOTIFY, or this process's own write): look now.
        Nothing while no stream follows (``register`` wakes an idle tail itself)."""
        if self._waiters:
            self._poke.set()

    def after(self, last_id: int) -> list[tuple[int, str]] | None:
        """The frames of the events after ``last_id`` in the window, in order; None when the window
        does not reach back that far (the stream reads the table itself)."""
        with self._lock:
            if self._floor is None or last_id < self._floor:
                return None
            i = bisect.bisect_right(self._ids, last_id)
            return list(zip(self._ids[i:], self._frames[i:], strict=True))

    def register(self) -> asyncio.Event:
        """An event set whenever the window grows (on the caller's own loop)."""
        event = asyncio.Event()
        with self._lock:
            self._waiters.add((asyncio.get_running_loop(), event))
        self._poke.set()  # an idle tail starts reading
        return event

    def unregister(self, event: asyncio.Event) -> None:
        with self._lock:
            self._waiters = {(lp, ev) for lp, ev in self._waiters if ev is not event}
            last = not self._waiters
        if last:
            self._poke.set()  # the last one gone: the tail goes idle now

    def _run(self) -> None:
        watch = None
        try:
            while not self._stop.is_set():
                self._poke.clear()  # before the look: a commit during it makes another one
                if self._idle():
                    self._poke.wait()  # until a stream registers (or stop)
                    continue
                try:
                    watch = watch or self._db.commit_watch()
                    got = self._look()
                except Exception as exc:  # the database away for a moment: streams keep their place
                    log.warning("feed tail: %s; looking again in %.1f s", type(exc).__name__, self._poll_s)
                    self._stop.wait(self._poll_s)
                    continue
                if got < READ_LIMIT:
                    self._wait(watch)
        finally:
            if watch is not None:
                watch.close()

    def _idle(self) -> bool:
        """With no stream following, read nothing (bursts of alerts would pay for it) and let the
        window go: a stream that comes later starts from the table, the tail from then on."""
        with self._lock:
            if self._waiters:
                return False
            self._floor = None
            self._ids.clear()
            self._frames.clear()
            return True

    def _wait(self, watch: CommitWatch | None) -> None:
        """Until poked or ``poll_s`` has passed; on a SQLite file also until another connection
        (another hub process: no NOTIFY between them) committed, looked for every ``watch_s``."""
        if watch is None:
            self._poke.wait(self._poll_s)
            return
        deadline = time.monotonic() + self._poll_s
        while not self._poke.wait(self._watch_s) and time.monotonic() < deadline:
            if watch.changed():
                return

    def _look(self) -> int:
        if self._floor is None:  # the window starts with what comes after the start-up
            self._last = newest_event_id(self._db)
            with self._lock:
                self._floor = self._last
        batch = events_after(self._db, self._last, READ_LIMIT)
        if not batch:
            return 0
        frames = [sse_frame(ev) for ev in batch]
        with self._lock:
            self._ids += [ev.id for ev in batch]
            self._frames += frames
            drop = len(self._ids) - self._keep
            if drop > 0:
                self._floor = self._ids[drop - 1]
                del self._ids[:drop], self._frames[:drop]
            waiters = list(self._waiters)
        self._last = batch[-1].id
        for loop, event in waiters:
            if not loop.is_closed():
                loop.call_soon_threadsafe(event.set)
        return len(batch)

