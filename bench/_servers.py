"""The yardstick beside the hub: bench/trivial_app.py under uvicorn, started as the hub is, so that
the hub's figures can be given as a ratio measured in the same run."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx

from bench._common import ROOT
from tests.support.net import free_port


class TrivialServer:
    """bench/trivial_app.py under uvicorn, with the hub's server settings and worker count."""

    def __init__(self, workers: int) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.workers = workers
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> TrivialServer:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", "bench.trivial_app:create_app", "--host",
             "127.0.0.1", "--port", str(self.port), "--workers", str(self.workers)],
            cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError("trivial app did not start")

    def __exit__(self, *exc: object) -> None:
        if self.proc is not None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
