"""SQLite writers take turns on a file lock next to the database, across threads and processes; alert
writers take turns across hub processes (:class:`central.db.IntakeTurn`); the hub copies the WAL into
the database file from a thread of its own."""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from central.app import create_app
from central.db import INTAKE_TURN_KEY, Database, IntakeTurn
from central.settings import HubConfig
from tests.support.postgres import PostgresServer


def _try_lock(path: Path) -> bool:
    """Whether an exclusive lock on ``path`` is free right now (taken and let go at once)."""
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        return True
    except BlockingIOError:
        return False
    finally:
        os.close(fd)


def test_a_write_transaction_holds_the_writer_lock_until_it_ends(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    lock = tmp_path / "hub.db-writer.lock"
    try:
        with db.write() as s:
            s.execute(text("CREATE TABLE t (x INTEGER)"))
            assert not _try_lock(lock)  # another process (or thread) would wait here
        assert _try_lock(lock)
        with pytest.raises(RuntimeError), db.write() as s:
            s.execute(text("INSERT INTO t VALUES (1)"))
            raise RuntimeError("rolled back")
        assert _try_lock(lock)  # let go on failure too
        with db.read() as s:
            assert s.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    finally:
        db.dispose()


def test_writers_of_two_handles_take_turns(tmp_path: Path) -> None:
    """Two engines on one file (as two hub processes have): the second writer waits for the first
    to commit, then writes; neither fails with "database is locked"."""
    url = f"sqlite:///{tmp_path / 'hub.db'}"
    first, second = Database(url), Database(url)
    order: list[str] = []
    inside, release = threading.Event(), threading.Event()
    try:
        with first.write() as s:
            s.execute(text("CREATE TABLE t (x INTEGER)"))

        def hold() -> None:
            with first.write() as s:
                s.execute(text("INSERT INTO t VALUES (1)"))
                inside.set()
                release.wait(30)
                order.append("first commits")

        def follow() -> None:
            with second.write() as s:
                order.append("second writes")
                s.execute(text("INSERT INTO t VALUES (2)"))

        holder = threading.Thread(target=hold)
        holder.start()
        assert inside.wait(30)
        follower = threading.Thread(target=follow)
        follower.start()
        follower.join(0.5)
        assert follower.is_alive() and order == []  # still waiting for its turn
        release.set()
        holder.join(30)
        follower.join(30)
        assert order == ["first commits", "second writes"]
        with second.read() as s:
            assert s.execute(text("SELECT x FROM t ORDER BY x")).scalars().all() == [1, 2]
    finally:
        first.dispose()
        second.dispose()


def test_a_writer_may_take_its_own_turn_again(tmp_path: Path) -> None:
    """The alert writer holds its turn while it takes a batch from its queue and stores it; the
    write transaction inside takes the same turn again without waiting for itself, and the lock is
    let go only when the outer turn ends."""
    db = Database(f"sqlite:///{tmp_path / 'hub.db'}")
    lock = tmp_path / "hub.db-writer.lock"
    seen: list[bool] = []

    def nested() -> None:
        with db.writer_turn():
            seen.append(_try_lock(lock))
            with db.write() as s:  # (a lock that did not know its holder would wait here forever)
                s.execute(text("CREATE TABLE t (x INTEGER)"))
            seen.append(_try_lock(lock))  # still this writer's turn

    try:
        writer = threading.Thread(target=nested, daemon=True)
        writer.start()
        writer.join(30)
        assert not writer.is_alive(), "the writer waited for its own turn"
        assert seen == [False, False]
        assert _try_lock(lock)
    finally:
        db.dispose()


@pytest.mark.postgres
def test_the_intake_turn_survives_a_lost_connection(postgres_server: PostgresServer) -> None:
    """On PostgreSQL the turn is an advisory lock on a connection of the writer's own. If that
    connection is lost (a database restart, an idle timeout), the batch is stored without the turn,
    and the next batch takes it again on a new connection; the lock is never left behind."""
    db = Database(postgres_server.create_database())

    def turn_held() -> int:
        with db.read() as s:
            return s.execute(text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :k AND granted"
            ), {"k": INTAKE_TURN_KEY}).scalar_one()

    turn = IntakeTurn(db)
    try:
        with turn.hold():
            assert turn_held() == 1
        assert turn_held() == 0
        with db.read() as s:  # the writer's connection is cut, as a restart would
            s.execute(text(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ))
        with turn.hold():  # no turn this time, and no error
            pass
        with turn.hold():
            assert turn_held() == 1
        assert turn_held() == 0
    finally:
        turn.close()
        db.dispose()


def test_a_committed_sqlite_write_is_on_disk_before_the_answer(tmp_path: Path) -> None:
    """``synchronous=FULL``: each commit fsyncs the WAL, so an alert answered as stored survives a
    power loss too (with NORMAL, WAL commits are synced only at checkpoints)."""
    db = Database(f"sqlite:///{tmp_path / 't.db'}")
    try:
        with db.write() as s:
            assert s.execute(text("PRAGMA journal_mode")).scalar_one() == "wal"
            assert s.execute(text("PRAGMA synchronous")).scalar_one() == 2  # FULL
        with db.read() as s:  # every connection of the pool, not only the writers'
            assert s.execute(text("PRAGMA synchronous")).scalar_one() == 2
    finally:
        db.dispose()


def test_no_lock_file_for_sqlite_in_memory() -> None:
    assert Database("sqlite://").writers is None


def _fill(db: Database, megabytes: int) -> None:
    with db.write() as s:
        s.execute(text("CREATE TABLE blobs (b BLOB)"))
        for _ in range(megabytes * 256):
            s.execute(text("INSERT INTO blobs VALUES (randomblob(4000))"))


def test_a_checkpoint_copies_the_wal_into_the_database_file(tmp_path: Path) -> None:
    assert Database("sqlite://").checkpoint() is None  # no WAL in memory
    path = tmp_path / "t.db"
    db = Database(f"sqlite:///{path}")
    try:
        _fill(db, 2)
        # SQLite's own checkpoint waits for far more than this (the hub's thread does it instead)
        assert path.stat().st_size < 100_000
        in_wal, copied = db.checkpoint() or (0, 0)
        assert in_wal == copied > 500
        assert path.stat().st_size > 2_000_000
    finally:
        db.dispose()


def test_the_hub_checkpoints_its_sqlite_file_by_itself(town, tmp_path: Path) -> None:
    path = tmp_path / "hub.db"
    app = create_app(town, HubConfig(db_url=f"sqlite:///{path}", media_dir=tmp_path / "media",
                                     watch_interval_s=0))  # the checkpointer runs even so
    with TestClient(app):
        _fill(app.state.hub.db, 2)
        deadline = time.monotonic() + 10
        while path.stat().st_size < 2_000_000 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert path.stat().st_size > 2_000_000
