"""``gridwatch demo``: the hub on SQLite and one edge worker on bundled footage, on this machine.

The demo town is the sample Yongshan config with a few of edge-01's cameras pointed at a generated
clip in which material comes down onto a village road and is cleared again; the clip loops, so work
orders keep arriving. Everything runs as real processes talking HTTP on 127.0.0.1, as in production.

Ports: the hub (and console) on ``--port`` (8000), the edge worker's live-view signalling on the
next one (8001); both are checked before anything starts, and a busy one is one line and exit 1.
The data folder (``var/demo``) keeps the database, outbox and media between runs; ``--fresh`` empties
it first (the generated clip is kept). SIGINT (Ctrl-C) and SIGTERM (``kill``) both stop the hub and
the edge worker and wait for them before the demo exits.
"""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType
from typing import Any, cast

import httpx
import yaml

from gridwatch.config import load_town

log = logging.getLogger("gridwatch.demo")

ROOT = Path(__file__).resolve().parent.parent
SAMPLE_TOWN = ROOT / "configs" / "yongshan"
DEMO_NODE = "edge-01"
DEMO_CAMERAS = 3  # cameras of DEMO_NODE that read the clip; the rest of the town stays unwatched


class DemoStopped(Exception):
    """SIGTERM arrived: unwind, stopping the children on the way out (as Ctrl-C does)."""


class DemoFailed(Exception):
    """The demo cannot go on; ``str()`` is the one line to show."""


def run_demo(host: str, port: int, data_dir: Path, duration: float | None, fresh: bool = False) -> int:
    """Run the demo until ``duration`` passes or a signal comes; 0 when stopped, 1 when it failed."""
    try:
        with _sigterm_unwinds():
            return _run(host, port, data_dir, duration, fresh)
    except DemoFailed as exc:
        print(f"gridwatch demo: {exc}", file=sys.stderr, flush=True)
        return 1
    except DemoStopped:
        return 0


def _run(host: str, port: int, data_dir: Path, duration: float | None, fresh: bool) -> int:
    for p, what in ((port, "the hub (--port)"), (port + 1, "the edge worker's live view (--port + 1)")):
        problem = port_problem(host, p)
        if problem:
            raise DemoFailed(f"cannot use {host}:{p} for {what}: {problem}")
    data_dir = data_dir.resolve()
    if fresh:
        clear_demo_data(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    clip = ensure_demo_clip(data_dir)
    town_file = write_demo_town(data_dir, clip, hub_url=f"http://{host}:{port}")
    db = f"sqlite:///{data_dir / 'gridwatch.db'}"
    demo = Demo(town_file, db, host, port, data_dir)
    (data_dir / "dispatcher.token").unlink(missing_ok=True)
    try:
        demo.start()
        print(f"\ngridwatch demo: console at http://{host}:{port}/  (API docs at /docs)\n"
              f"  dispatcher token (paste it to log in): {demo.dispatcher_token}\n"
              f"  also saved in {data_dir / 'dispatcher.token'}; Ctrl-C (or kill {os.getpid()}) stops "
              f"the demo.\n  Data kept in {data_dir} between runs (--fresh starts over).\n", flush=True)
        demo.wait(duration)
    finally:
        demo.stop()
    return 0


@contextmanager
def _sigterm_unwinds() -> Iterator[None]:
    """SIGTERM raises :class:`DemoStopped` in the main thread while the demo runs, so the ``finally``
    that stops the hub and the edge runs, as it does for Ctrl-C; the old handler comes back after."""

    def handler(_sig: int, _frame: FrameType | None) -> None:
        raise DemoStopped

    previous = signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_held() -> Iterator[None]:
    """SIGINT and SIGTERM wait (blocked, not lost) until the block ends."""
    held = {signal.SIGINT, signal.SIGTERM}
    old = signal.pthread_sigmask(signal.SIG_BLOCK, held)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _hold_no_signals() -> None:
    """In a child between fork and exec: block no signal."""
    signal.pthread_sigmask(signal.SIG_SETMASK, set())


def port_problem(host: str, port: int) -> str | None:
    """Why ``host:port`` cannot be listened on now (in use, not allowed), or None when it can."""
    if not 0 < port < 65536:
        return "not a TCP port"
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return "the port is in use (another gridwatch demo or hub? stop it, or pick --port)"
            return exc.strerror or str(exc)
    return None


def clear_demo_data(data_dir: Path) -> None:
    """Forget earlier runs: database, edge outbox and media go; the generated clip stays."""
    for path in data_dir.glob("gridwatch.db*"):
        path.unlink()
    for sub in ("edge", "media"):
        shutil.rmtree(data_dir / sub, ignore_errors=True)


def ensure_demo_clip(data_dir: Path) -> Path:
    """Make the demo's clip once (:mod:`gridwatch.democlip`); later runs reuse it."""
    clip = data_dir / "demo_clip.mp4"
    if not clip.exists() or not clip.with_suffix(".json").exists():
        from gridwatch.democlip import make_demo_clip  # needs the edge's video packages

        log.info("making the demo clip (once) ...")
        try:
            make_demo_clip(clip)
        except Exception as exc:  # a broken codec or a full disk: one line, not a traceback
            clip.unlink(missing_ok=True)
            raise DemoFailed(f"could not make the demo clip: {exc}") from exc
    return clip


def write_demo_town(data_dir: Path, clip: Path, hub_url: str) -> Path:
    """The sample town with a few cameras reading the clip, as one YAML file."""
    town = load_town(SAMPLE_TOWN).model_dump(mode="json")
    labels = json.loads(clip.with_suffix(".json").read_text(encoding="utf-8"))
    rois = [_roi_from_text(text) for text in labels.get("rois", [])]
    picked = 0
    for cam in town["cameras"]:
        if cam["node"] != DEMO_NODE:
            continue
        if picked < DEMO_CAMERAS:
            cam["streams"] = {"main": str(clip), "sub": None}
            cam["rois"] = rois
            picked += 1
        else:
            cam["enabled"] = False
    town["edge"] = {**town["edge"], "hub_url": hub_url, "data_dir": str(data_dir / "edge")}
    out = data_dir / "town.yaml"
    out.write_text(yaml.safe_dump(town, allow_unicode=True, sort_keys=False), encoding="utf-8")
    load_town(out)  # fail here, with the config error, rather than in a child process
    return out


def _roi_from_text(text: str) -> dict[str, Any]:
    name, _, pts = text.partition("=")
    return {"name": name, "polygon": [[float(v) for v in p.split(",")] for p in pts.split()]}


class Demo:
    """Owns the hub and edge processes: start() brings both up, stop() ends both and waits."""

    def __init__(self, town_file: Path, db: str, host: str, port: int, data_dir: Path) -> None:
        self.town_file, self.db, self.host, self.port, self.data_dir = town_file, db, host, port, data_dir
        self.procs: list[subprocess.Popen[bytes]] = []
        self.dispatcher_token = ""

    def _cli(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "gridwatch.cli", *args]

    def _token(self, role: str, node: str | None = None) -> str:
        cmd = self._cli("token", "create", "--role", role, "--db", self.db, "--config", str(self.town_file))
        if node:
            cmd += ["--node", node]
        out = subprocess.run(cmd, capture_output=True, text=True)
        if out.returncode != 0:
            reason = (out.stderr.strip().splitlines() or [f"exit code {out.returncode}"])[-1]
            raise DemoFailed(f"could not make a {role} token: {reason}")
        return out.stdout.strip().splitlines()[-1].strip()

    def start(self) -> None:
        edge_token = self._token("edge", DEMO_NODE)
        self.dispatcher_token = self._token("dispatcher")
        token_file = self.data_dir / "edge.token"
        token_file.write_text(edge_token, encoding="utf-8")
        token_file.chmod(0o600)
        self._spawn(
            "hub", "--config", str(self.town_file), "--db", self.db, "--host", self.host,
            "--port", str(self.port), "--media-dir", str(self.data_dir / "media"))
        self._wait_healthy()
        self._spawn(
            "edge", "--config", str(self.town_file), "--node", DEMO_NODE, "--token-file", str(token_file),
            "--data-dir", str(self.data_dir / "edge"), "--live-port", str(self.port + 1))
        # Written last: its presence tells a watcher (and the e2e test) that the demo is up.
        (self.data_dir / "dispatcher.token").write_text(self.dispatcher_token, encoding="utf-8")

    def _spawn(self, *args: str) -> None:
        """Start a child and remember it, with signals held so none is started and then forgotten.
        The child starts with none held (a signal mask is inherited across exec), so that our
        SIGTERM reaches it."""
        with _signals_held():
            self.procs.append(subprocess.Popen(self._cli(*args), preexec_fn=_hold_no_signals))

    def _wait_healthy(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        url = f"http://{self.host}:{self.port}/healthz"
        while time.monotonic() < deadline:
            if self.procs[0].poll() is not None:
                raise DemoFailed(f"the hub exited with code {self.procs[0].returncode} (its log is above)")
            try:
                if httpx.get(url, timeout=1.0).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise DemoFailed(f"the hub did not answer at {url} within {timeout:.0f} s")

    def wait(self, duration: float | None) -> None:
        end = None if duration is None else time.monotonic() + duration
        while end is None or time.monotonic() < end:
            for proc in self.procs:
                if proc.poll() is not None:
                    name = cast(list[str], proc.args)[3]  # made by _cli(): [python, -m, module, name, ...]
                    raise DemoFailed(f"the {name} process exited with code {proc.returncode} (log above)")
            time.sleep(0.5)

    def stop(self) -> None:
        """SIGTERM to each child, then wait (kill after 15 s). Signals wait until it is done, so a
        second Ctrl-C or kill cannot leave a child running."""
        with _signals_held():
            self._stop()

    def _stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in reversed(self.procs):
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()


if __name__ == "__main__":  # pragma: no cover - convenience
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    sys.exit(run_demo("127.0.0.1", 8000, Path("var/demo"), None))
