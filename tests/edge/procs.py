"""Helpers for edge integration tests: the real hub's database, edge processes, waiting."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.frames import Frame
from edge.sources import StreamReader

REPO = Path(__file__).resolve().parents[2]


def wait_for(cond: Callable[[], Any], timeout: float, what: str, log: Callable[[], str] | None = None) -> Any:
    """Poll until ``cond()`` is truthy; fail with ``what`` (and a log tail) after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}" + (f"\n--- log ---\n{log()}" if log else ""))
        time.sleep(0.2)


def collect(reader: StreamReader, n: int, timeout: float = 30.0) -> list[Frame]:
    """The next ``n`` analysis frames a running reader hands over (fails after ``timeout`` s)."""
    frames: list[Frame] = []

    def enough() -> bool:
        f = reader.slot.take()
        if f is not None:
            frames.append(f)
        return len(frames) >= n

    wait_for(enough, timeout, f"{n} frames from {reader.url}")
    return frames


def query(db_file: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Read the hub's or an outbox's SQLite file (read-only; WAL lets writers go on)."""
    if not db_file.exists():
        return []
    con = sqlite3.connect(f"file:{db_file}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(sql, args).fetchall()
    except sqlite3.OperationalError:
        return []  # not created/migrated yet
    finally:
        con.close()


class EdgeProcess:
    """``gridwatch edge`` (or the scripted test worker) as a child process, its stderr in a file."""

    def __init__(self, args: list[str], log_path: Path, module: str = "gridwatch.cli") -> None:
        self.cmd = [sys.executable, "-m", module, *args]
        self.log_path = log_path
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> EdgeProcess:
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed in wait()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(self.cmd, cwd=REPO, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        return self

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-6000:] if self.log_path.exists() else ""

    def terminate(self, timeout: float = 30) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        return self._wait(timeout)

    def kill(self) -> int:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        return self._wait(10)

    def _wait(self, timeout: float) -> int:
        assert self.proc is not None
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            code = self.proc.wait(timeout=10)
        self._log.close()
        return code
