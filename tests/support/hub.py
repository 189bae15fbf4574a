"""Start the real hub as a separate process, and make tokens straight in a database.

    with HubProcess(db_url="sqlite:///" + str(tmp_path / "hub.db")) as hub:
        token = make_token(hub.db_url, "edge", node="edge-01")
        httpx.post(hub.url + "/api/v1/alerts", json=..., headers={"Authorization": f"Bearer {token}"})

``HubProcess`` runs ``python -m gridwatch.cli hub --config ... --db ... --port FREE`` on 127.0.0.1,
waits until GET /healthz answers (the database is migrated by then), and on exit stops it (SIGINT,
then kill). Its output goes to ``log_path`` so a failed start can say why.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.net import free_port

REPO = Path(__file__).resolve().parents[2]
SAMPLE_TOWN = REPO / "configs" / "yongshan"


def make_token(
    db_url: str, role: str, node: str | None = None, name: str | None = None, department: str | None = None
) -> str:
    """A new bearer token stored (hashed) in the database at ``db_url``; migrates it first."""
    from central.auth import store_token
    from central.db import Database
    from central.migrations import upgrade

    db = Database(db_url)
    try:
        upgrade(db)
        return store_token(db, role, node, name, datetime.now(UTC), department)
    finally:
        db.dispose()


class HubProcess:
    def __init__(
        self,
        db_url: str,
        config: Path = SAMPLE_TOWN,
        media_dir: Path | None = None,
        workers: int = 1,
        start_timeout_s: float = 60.0,
        extra_env: dict[str, str] | None = None,
        repo: Path = REPO,
        extra_args: tuple[str, ...] = (),
    ) -> None:
        """``repo``: the checkout whose code runs (another one, e.g. a ``git worktree`` of an older
        commit, for an A/B in one command); ``extra_args``: more ``gridwatch hub`` options."""
        self.db_url, self.config, self.workers, self.repo = db_url, config, workers, repo
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._tmp = tempfile.mkdtemp(prefix="gridwatch-hub-")
        self.media_dir = media_dir or Path(self._tmp) / "media"
        self.log_path = Path(self._tmp) / "hub.log"
        self.start_timeout_s = start_timeout_s
        self.extra_env = extra_env or {}
        self.extra_args = extra_args
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> HubProcess:
        cmd = [
            sys.executable,
            "-m",
            "gridwatch.cli",
            "hub",
            "--config",
            str(self.config),
            "--db",
            self.db_url,
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--media-dir",
            str(self.media_dir),
            "--workers",
            str(self.workers),
            *self.extra_args,
        ]
        env = {**os.environ, "PYTHONPATH": str(self.repo), **self.extra_env}
        self._log = open(self.log_path, "wb")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(cmd, cwd=self.repo, env=env, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"hub exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"hub did not become healthy in {self.start_timeout_s} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-5000:]
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        if self.proc is not None:
            self._log.close()
        self.proc = None

    def __enter__(self) -> HubProcess:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()
