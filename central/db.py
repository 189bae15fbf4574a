"""The database handle: one engine per process, short sessions, SQLite or PostgreSQL.

SQLite runs in WAL mode with a busy timeout, and write transactions start with ``BEGIN IMMEDIATE`` so
two writers queue for the lock instead of failing halfway ("database is locked" on upgrade). On
PostgreSQL the same code runs under READ COMMITTED; correctness under several hub processes comes from
unique constraints and conditional updates, never from check-then-insert.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
#: Advisory lock key taken by every transaction that appends to the feed (keeps ids in commit order).
FEED_LOCK_KEY = 0x6772_6964  # "grid"
#: Advisory lock key held while migrating, so several processes starting at once migrate once.
MIGRATE_LOCK_KEY = 0x6D69_6772  # "migr"


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
        if self.is_sqlite:
            database = parsed.database or ""
            if database and database != ":memory:":
                Path(database).parent.mkdir(parents=True, exist_ok=True)
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
    def write(self) -> Iterator[Session]:
        """A transaction that will write: committed on success, rolled back on any error.

        On PostgreSQL every write transaction first takes one advisory lock, held to commit: writes
        then commit in the order their feed events got their ids, so a reader polling ``id > last``
        never skips an event that commits late, and no two writers can deadlock on row locks.
        """
        with self._write_sessions() as session, session.begin():
            if self.is_postgres:
                session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": FEED_LOCK_KEY})
            yield session

    @contextmanager
    def read(self) -> Iterator[Session]:
        """A read-only look; the transaction ends with the block (objects stay readable)."""
        with self._sessions() as session:
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def _sqlite_tuning(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (pysqlite's own is broken)
        cur = dbapi_conn.cursor()
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "")
        conn.exec_driver_sql(f"BEGIN {mode}".strip())
