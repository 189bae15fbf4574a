"""Group commit for alert intake: one writer thread stores whatever alerts are queued in ONE transaction.

A burst of alerts costs one transaction (one lock, one commit, one file-system sync) per batch, not
per alert. Requests check their alert first (a bad one never joins a batch), hand it over and wait
for its receipt, which is set only after the batch committed: an answer still means "stored
durably". Batches form by themselves: while one commits, the next alerts queue; a lone alert is
written at once. If a batch's transaction fails, its alerts are stored again one by one, so one bad
alert cannot fail the others and each request gets its own answer; only an unreachable database
fails them all alike (each caller is told to retry). Before it is queued, each alert's snapshot is
decoded (:func:`central.intake.check_media`) on one more thread, in arrival order: Pillow decodes
without the GIL, so this runs beside both the requests' event loop and the writer instead of holding
either up; a picture that does not decode is answered 422 and never queued. A third thread writes
and syncs each batch's files while the batch's transaction runs (the commit waits for them), so the
writer's own thread makes no file system call. With several hub
processes the writers take turns (:class:`central.db.IntakeTurn`), and each takes its batch from the
queue only once its turn has come, so alerts that arrive while another process writes join it.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor

from sqlalchemy.exc import OperationalError

from central.context import Hub
from central.db import IntakeTurn
from central.intake import Checked, IntakeError, check_media, store_batch, store_one
from gridwatch.wire import AlertReceipt

log = logging.getLogger(__name__)

#: Most alerts in one transaction (bounded so one batch never holds the database for long, and a
#: multi-row INSERT stays under SQLite's limit of bound parameters).
MAX_BATCH = 200

_Job = tuple[Checked, "Future[AlertReceipt]"]


class AlertWriter:
    """The hub's single alert writer per process; ``start()`` in the app's start-up, ``stop()`` at
    shutdown (it stores everything already queued, then returns)."""

    def __init__(self, hub: Hub, max_batch: int = MAX_BATCH) -> None:
        self._hub = hub
        self._max = max_batch
        self._queue: deque[_Job] = deque()
        self._cond = threading.Condition()
        self._open = False  # the writer takes alerts into its queue
        self._accepting = False  # submit() takes alerts (closed first when stopping)
        self._users = 0
        self._thread: threading.Thread | None = None
        self._media: ThreadPoolExecutor | None = None
        self._disk: ThreadPoolExecutor | None = None  # writes and syncs each batch's files

    def start(self) -> None:
        """Start the writer thread; an app whose lifespan is entered again while running (a test
        harness on the same app) shares it: each start() is matched by one stop()."""
        with self._cond:
            self._users += 1
            if self._thread is not None:
                return
            self._open = self._accepting = True
            self._media = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-media")
            self._disk = ThreadPoolExecutor(max_workers=1, thread_name_prefix="alert-disk")
            self._thread = threading.Thread(target=self._run, name="alert-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """The last user's stop: refuse new alerts, store the queued ones, wait for the threads."""
        with self._cond:
            self._users = max(0, self._users - 1)
            if self._users > 0:
                return
            self._accepting = False
            media, self._media = self._media, None
        if media is not None:
            media.shutdown(wait=True)  # every alert already taken is checked and queued
        with self._cond:
            self._open = False
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join()
        with self._cond:
            if self._thread is thread:
                self._thread = None
            disk, self._disk = self._disk, None
        if disk is not None:
            disk.shutdown(wait=True)  # idle: the writer waited for each batch's files

    def submit(self, item: Checked) -> Future[AlertReceipt]:
        """Take a checked alert; the future gets its receipt after commit, or the error."""
        fut: Future[AlertReceipt] = Future()
        with self._cond:
            media = self._media if self._accepting else None
            if media is None:
                raise IntakeError(503, "alert intake is not running (hub starting or stopping); retry")
            media.submit(self._admit, item, fut)  # under the lock: stop() cannot shut it down meanwhile
        return fut

    def _admit(self, item: Checked, fut: Future[AlertReceipt]) -> None:
        """On the media thread: queue the alert for the writer if its snapshot decodes."""
        try:
            check_media(item)
        except IntakeError as exc:
            fut.set_exception(exc)
            return
        with self._cond:
            self._queue.append((item, fut))
            self._cond.notify()

    @property
    def queued(self) -> int:
        return len(self._queue)

    def _run(self) -> None:
        turn = IntakeTurn(self._hub.db)
        try:
            self._loop(turn)
        finally:
            turn.close()

    def _loop(self, turn: IntakeTurn) -> None:
        while True:
            with self._cond:
                while not self._queue and self._open:
                    self._cond.wait()
                if not self._queue:
                    return  # stopped and drained
            with turn.hold():  # the batch is taken once it is this writer's turn (see IntakeTurn)
                with self._cond:
                    jobs = [self._queue.popleft() for _ in range(min(self._max, len(self._queue)))]
                # A caller that gave up (cancelled its future) gets nothing stored: it had no answer.
                jobs = [(item, fut) for item, fut in jobs if fut.set_running_or_notify_cancel()]
                try:
                    self.write(jobs)
                except BaseException as exc:  # never leave a caller waiting on a dead writer
                    for _, fut in jobs:
                        if not fut.done():
                            fut.set_exception(exc)
                    raise

    def write(self, jobs: list[_Job]) -> None:
        """Store one batch and settle every future (raises only what is not an Exception)."""
        if not jobs:
            return
        if len(jobs) > 1:
            try:
                receipts = store_batch(self._hub, [item for item, _ in jobs], self._disk)
            except OperationalError as exc:  # database away: the one-by-one retry would fail alike
                for _, fut in jobs:
                    fut.set_exception(exc)
                return
            except Exception as exc:  # any failure: each alert on its own
                log.info("batch of %d alerts failed (%s); storing them one by one", len(jobs), exc)
            else:
                for (_, fut), receipt in zip(jobs, receipts, strict=True):
                    fut.set_result(receipt)
                return
        for item, fut in jobs:
            try:
                fut.set_result(store_one(self._hub, item, self._disk))
            except Exception as exc:  # the caller answers it (4xx/5xx)
                fut.set_exception(exc)
