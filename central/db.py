"""The database handle: one engine per process, short sessions, SQLite or PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE`` so
two writers queue for the lock instead of failing halfway ("database is locked" on upgrade). Before
that, writers of one SQLite file queue on a file lock next to it (:class:`WriterQueue`), across threads
and hub processes alike. On
PostgreSQL the same code runs under READ COMMITTED; correctness under several hub processes comes from
unique constraints and conditional updates, never from check-then-insert.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError
from sqlalchemy.orm import Session, sessionmaker

log = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: SQLite's own WAL checkpoint threshold, in pages (its default is 1,000). The hub copies the WAL
#: into the database from a thread of its own every second (:meth:`Database.checkpoint`), because a
#: checkpoint run by a committing writer held that request (and every writer queued behind it) for
#: the copy and its fsync (the measurements: BENCHMARKS.md, "Measured reasons in the code"). This
#: threshold is then only the backstop (the CLI, a checkpointer that falls behind).
SQLITE_AUTOCHECKPOINT_PAGES = 10_000
#: Advisory lock key taken by every transaction that appends to the feed (keeps ids in commit order).
FEED_LOCK_KEY = 0x6772_6964  # "grid"
#: ``Session.info`` key: this transaction has already sent its NOTIFY (see :meth:`Database.write`).
NOTIFIED = "gridwatch_feed_notified"
_LOCK = text("SELECT pg_advisory_xact_lock(:k)")
_LOCK_AND_NOTIFY = text("SELECT pg_advisory_xact_lock(:k), pg_notify(:c, '')")
#: Advisory lock key an alert writer holds while it takes a batch from its queue and stores it
#: (:class:`IntakeTurn`); nothing else takes it.
INTAKE_TURN_KEY = 0x6777_6174  # "gwat"
#: Advisory lock key held while migrating, so several processes starting at once migrate once.
MIGRATE_LOCK_KEY = 0x6D69_6772  # "migr"


class WriterQueue:
    """An exclusive ``flock`` on ``<database>-writer.lock``, taken before ``BEGIN IMMEDIATE``.

    SQLite's busy handler polls a held lock with growing sleeps (up to 100 ms each), so under a burst a
    waiting writer slept on long after the lock was free (long stragglers; BENCHMARKS.md, "Measured
    reasons in the code"). The kernel wakes a writer waiting here as soon as the lock is let go. Each
    hold opens the file anew: ``flock`` excludes per open file, so threads of one process queue too.
    Never taken twice by one thread (a write transaction does not nest another).
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._mine = threading.local()  # whether this thread holds the lock now

    @contextmanager
    def hold(self) -> Iterator[None]:
        if getattr(self._mine, "held", False):  # a turn inside this thread's own turn
            yield
            return
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            self._mine.held = True
            try:
                yield
            finally:
                self._mine.held = False
        finally:
            os.close(fd)  # lets the lock go


class IntakeTurn:
    """The alert writers' turn across hub processes: a writer takes its batch from its queue only
    once it has the turn, so what came in while another process wrote goes into ONE transaction.

    Writers of a database take turns anyway (SQLite's write lock, the feed lock on PostgreSQL). A
    writer that took its batch first and then waited stored only what it had when it started
    waiting; the rest waited for a second turn, and every transaction has its fixed cost (two
    processes on one SQLite file, 500 alerts/s: batches of 3 alerts on average, the writer's CPU per
    alert twice one process's). On a SQLite file the turn is :class:`WriterQueue`'s lock; on
    PostgreSQL a session-level advisory lock on a connection of the writer's own. It only orders
    the writers: correctness never rests on it, so if that connection fails the writer goes on
    without a turn and opens a new one next time. Owned by one writer thread; ``close()`` at its end.
    """

    def __init__(self, db: Database) -> None:
        self._db = db
        self._conn: Connection | None = None

    @contextmanager
    def hold(self) -> Iterator[None]:
        if self._db.writers is not None:
            with self._db.writers.hold():
                yield
            return
        if not self._db.is_postgres:
            yield
            return
        held = self._lock()
        try:
            yield
        finally:
            if held:
                self._unlock()

    def _lock(self) -> bool:
        try:
            if self._conn is None:
                self._conn = self._db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            self._conn.exec_driver_sql(f"SELECT pg_advisory_lock({INTAKE_TURN_KEY})")
            return True
        except DBAPIError as exc:
            log.warning("no intake turn this time (%s); storing the batch without it", exc.__class__.__name__)
            self.close()
            return False

    def _unlock(self) -> None:
        try:
            assert self._conn is not None
            self._conn.exec_driver_sql(f"SELECT pg_advisory_unlock({INTAKE_TURN_KEY})")
        except DBAPIError:
            self.close()  # a closed session lets its locks go

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(DBAPIError):
                conn.close()


class Database:
    """Engine plus session factory; ``write()`` and ``read()`` give one transaction each."""

    def __init__(self, url: str) -> None:
        self.url = url
        parsed = make_url(url)
        self.is_sqlite = parsed.get_backend_name() == "sqlite"
        self.is_postgres = parsed.get_backend_name() == "postgresql"
        if not (self.is_sqlite or self.is_postgres):
            raise ValueError(f"unsupported database {parsed.get_backend_name()!r} (use sqlite or postgresql)")
        kwargs: dict[str, Any] = {"future": True}
        #: Where writers of this SQLite file queue (None: PostgreSQL, or SQLite in memory).
        self.writers: WriterQueue | None = None
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
                self.writers = WriterQueue(Path(f"{database}-writer.lock"))
            kwargs["connect_args"] = {"check_same_thread": False, "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
            if not database or database == ":memory:":
                from sqlalchemy.pool import StaticPool

                kwargs["poolclass"] = StaticPool
        else:
            kwargs["pool_pre_ping"] = True
            kwargs["pool_size"] = 10
            kwargs["max_overflow"] = 20
        self.engine: Engine = create_engine(url, **kwargs)
        if self.is_sqlite:
            _sqlite_tuning(self.engine)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        self._write_sessions = sessionmaker(
            self.engine.execution_options(sqlite_begin="IMMEDIATE"), expire_on_commit=False
        )

    @contextmanager
    def write(self, notify: str | None = None) -> Iterator[Session]:
        """A transaction that will write: committed on success, rolled back on any error.

        On PostgreSQL every write transaction first takes one advisory lock, held to commit: writes
        then commit in the order their feed events got their ids, so a reader polling ``id > last``
        never skips an event that commits late, and no two writers can deadlock on row locks.
        ``notify``: a channel to NOTIFY at commit, sent with the lock in the same statement (one
        round trip less for a transaction sure to announce something; ``session.info[NOTIFIED]``
        then says it was sent).
        """
        with self.writer_turn(), self._write_sessions() as session, session.begin():
            if self.is_postgres:
                if notify is None:
                    session.execute(_LOCK, {"k": FEED_LOCK_KEY})
                else:
                    session.execute(_LOCK_AND_NOTIFY, {"k": FEED_LOCK_KEY, "c": notify})
                    session.info[NOTIFIED] = True
            yield session

    def on_commit(self, fn: Callable[[Session], None]) -> None:
        """Call ``fn(session)`` after each write transaction commits (its ``info`` says what it did)."""
        event.listen(self._write_sessions, "after_commit", fn)

    def writer_turn(self) -> AbstractContextManager[None]:
        """This SQLite file's turn to write (see :class:`WriterQueue`); nothing to wait for else."""
        return self.writers.hold() if self.writers is not None else nullcontext()

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only look; the transaction ends with the block (objects stay readable)."""
        with self._sessions() as session:
            yield session

    def commit_watch(self) -> CommitWatch | None:
        """Something that tells whether anyone (another hub process too) committed to this SQLite
        file since it last looked; None for PostgreSQL (it has NOTIFY) and SQLite in memory."""
        return CommitWatch(self.engine) if self.writers is not None else None

    def checkpoint(self) -> tuple[int, int] | None:
        """Copy what the SQLite WAL holds into the database file, beside readers and writers (a
        PASSIVE checkpoint takes neither's lock; the fsync happens on the calling thread). Returns
        (pages in the WAL, pages copied so far); None where there is no WAL (PostgreSQL, memory)."""
        if self.writers is None:
            return None
        raw = self.engine.raw_connection()  # outside any transaction: no BEGIN is sent on it
        try:
            cur = raw.cursor()
            _busy, in_wal, copied = cur.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            cur.close()
        finally:
            raw.close()
        return int(in_wal), int(copied)

    def dispose(self) -> None:
        self.engine.dispose()


def database_problem(url: str) -> str | None:
    """Why a hub could not use the database at ``url`` now, in one line; None when it can.

    Opens it and runs one write transaction (which on SQLite takes the write lock, so a file that
    cannot be created or written fails here too). Called once at the program's edge, so an
    unreachable server or an unwritable path is a line for a person, not a traceback from start-up.
    """
    try:
        db = Database(url)
    except (ArgumentError, ValueError, OSError) as exc:
        return _one_line(exc)
    try:
        with db.write() as session:
            session.execute(text("SELECT 1"))
    except DBAPIError as exc:
        return _one_line(exc.orig if exc.orig is not None else exc)
    except OSError as exc:  # the SQLite writer lock file cannot be made
        return _one_line(exc)
    finally:
        db.dispose()
    return None


def _one_line(exc: BaseException) -> str:
    text_ = str(exc).strip() or type(exc).__name__
    return text_.splitlines()[0]


class CommitWatch:
    """SQLite's ``PRAGMA data_version`` on a connection of its own, which never writes: the value
    changes exactly when some other connection, of any process, committed. Costs a few microseconds
    a look, so a thread can look every few tens of milliseconds. Owned by one thread; ``close()``."""

    def __init__(self, engine: Engine) -> None:
        self._raw = engine.raw_connection()  # outside any transaction: each look sees the latest
        self._seen = self._version()

    def _version(self) -> int:
        cur = self._raw.cursor()
        try:
            return int(cur.execute("PRAGMA data_version").fetchone()[0])
        finally:
            cur.close()

    def changed(self) -> bool:
        now = self._version()
        changed, self._seen = now != self._seen, now
        return changed

    def close(self) -> None:
        self._raw.close()


def _sqlite_tuning(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own is broken)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=FULL")
        cur.execute(f"PRAGMA wal_autocheckpoint={SQLITE_AUTOCHECKPOINT_PAGES}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
