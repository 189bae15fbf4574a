"""A real PostgreSQL server for tests, started from Debian's binaries in a temporary folder.

We run as root, and PostgreSQL refuses to run as root, so initdb and pg_ctl run as the ``postgres``
OS user (``runuser -u postgres --``). Trust authentication on 127.0.0.1 only; one server per test
session, its data in /dev/shm when there is one (fsync off: this is a test server); each test that
wants isolation makes its own database (``create_database``, ``drop_database`` after), optionally
from a migrated template, which is much faster than migrating again.

Use from a conftest::

    from tests.support.postgres import postgres_server  # noqa: F401  (the session fixture)

    def test_x(postgres_server):
        url = postgres_server.create_database()   # postgresql+psycopg://postgres@127.0.0.1:PORT/db_N
"""

from __future__ import annotations

import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.needs import missing
from tests.support.net import free_port

PG_BIN_DIRS = [
    Path("/usr/lib/postgresql/15/bin"),
    *sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True),
]


def find_pg_bin() -> Path | None:
    env = os.environ.get("GRIDWATCH_PG_BIN")
    for d in ([Path(env)] if env else []) + PG_BIN_DIRS:
        if (d / "initdb").exists() and (d / "pg_ctl").exists():
            return d
    found = shutil.which("pg_ctl")
    return Path(found).parent if found and shutil.which("initdb") else None


class PostgresServer:
    """initdb + pg_ctl start on a free port; ``stop()`` shuts it down and removes the folder."""

    def __init__(self, bin_dir: Path) -> None:
        self.bin_dir = bin_dir
        # In RAM when possible: a test session makes and drops many small databases, and on a busy
        # disk deleting their files takes longer than the tests themselves.
        shm = Path("/dev/shm")
        base = str(shm) if shm.is_dir() and os.access(shm, os.W_OK) else None
        self.root = Path(tempfile.mkdtemp(prefix="gridwatch-pg-", dir=base))
        self.data = self.root / "data"
        self.sock = self.root / "sock"
        self.port = free_port()
        self._names = itertools.count(1)
        self._as_root = os.geteuid() == 0

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = ["runuser", "-u", "postgres", "--", *args] if self._as_root else list(args)
        return subprocess.run(cmd, check=True, capture_output=True, text=True, timeout=120)

    def start(self) -> None:
        self.sock.mkdir(parents=True)
        if self._as_root:
            shutil.chown(self.root, "postgres")
            shutil.chown(self.sock, "postgres")
        os.chmod(self.root, 0o755)
        self._run(
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-locale",
            "--no-sync",
        )
        opts = (
            f"-p {self.port} -k {self.sock} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            str(self.bin_dir / "pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        """Immediate shutdown; if pg_ctl does not manage in 20 s, kill the postmaster."""
        try:
            self._run(
                str(self.bin_dir / "pg_ctl"),
                "-D",
                str(self.data),
                "-m",
                "immediate",
                "-w",
                "-t",
                "20",
                "stop",
            )
        except (subprocess.CalledProcessError, subprocess.TimeoutExpired):
            pid_file = self.data / "postmaster.pid"
            with contextlib.suppress(OSError, ValueError, IndexError):
                os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGKILL)
        shutil.rmtree(self.root, ignore_errors=True)

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def execute(self, sql: str) -> None:
        """Run one statement outside a transaction (CREATE DATABASE needs that)."""
        import psycopg

        with psycopg.connect(
            f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres", autocommit=True
        ) as conn:
            conn.execute(sql)  # type: ignore[arg-type]

    def drop_database(self, url: str) -> None:
        """Drop a database made by :meth:`create_database` (closing any connections still open)."""
        name = url.rsplit("/", 1)[1].split("?")[0]
        self.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')

    def create_database(self, template: str | None = None) -> str:
        """A new empty database (or a copy of ``template``); returns its SQLAlchemy URL."""
        name = f"db_{os.getpid()}_{next(self._names)}"
        self.execute(f'CREATE DATABASE "{name}"' + (f' TEMPLATE "{template}"' if template else ""))
        return self.url(name)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """One real PostgreSQL for the session. Skips only if PostgreSQL is absent outside CI."""
    bin_dir = find_pg_bin()
    if bin_dir is None:
        missing("PostgreSQL (initdb, pg_ctl)", "install the Debian package postgresql")
    server = PostgresServer(bin_dir)
    try:
        server.start()
    except subprocess.CalledProcessError as exc:
        server.stop()
        pytest.fail(f"could not start PostgreSQL: {exc.stderr or exc.stdout}")
    try:
        yield server
    finally:
        server.stop()
