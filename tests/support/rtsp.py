"""A real RTSP camera on 127.0.0.1 for tests: GStreamer's RTSP server serving generated H.264.

The server runs as a subprocess under Debian's /usr/bin/python3, which has the ``gi`` bindings the
venv lacks. ``stop()`` and ``start()`` on the same object keep the same port, so a test can take a
camera away mid-stream and bring it back as a real camera reboot would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

SYSTEM_PYTHON = "/usr/bin/python3"
SCRIPT = Path(__file__).with_name("rtsp_gst_server.py")


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def rtsp_available() -> bool:
    """True when Debian's python3 has GStreamer's RTSP server bindings."""
    if not os.path.exists(SYSTEM_PYTHON):
        return False
    probe = ("import gi; gi.require_version('GstRtspServer', '1.0'); "
             "from gi.repository import GstRtspServer")
    return subprocess.run([SYSTEM_PYTHON, "-c", probe], capture_output=True).returncode == 0


class RtspServer:
    """One GStreamer RTSP server process; ``url`` is rtsp://[user:password@]127.0.0.1:PORT/cam."""

    def __init__(self, port: int | None = None, user: str | None = None, password: str | None = None,
                 fps: int = 10, gop: int = 10, scene: str = "ball", main: str | None = None,
                 image: Path | None = None, file: Path | None = None) -> None:
        self.port = port or free_port()
        self.user, self.password = user, password
        self.fps, self.gop = fps, gop  # frame rate, and frames from one key frame to the next
        self.scene = scene  # "ball" (moving all the time) or "quiet" (a still picture with noise)
        self.main = main  # "WxH": also serve /main, the same scene at that size (a main stream)
        self.image = image  # quiet scene: this PNG held still (else a test card)
        self.file = file  # a video to serve (real footage) instead of a scene
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        cred = f"{self.user}:{self.password}@" if self.user else ""
        return f"rtsp://{cred}127.0.0.1:{self.port}/cam"

    @property
    def main_url(self) -> str:
        """The main stream (needs ``main``); ``url`` is then its sub-stream."""
        assert self.main, "made without a main stream"
        return self.url.removesuffix("/cam") + "/main"

    def start(self, timeout: float = 15.0) -> None:
        if self._proc is not None:
            return
        args = [SYSTEM_PYTHON, str(SCRIPT), str(self.port)]
        if self.user:
            args += [self.user, self.password or ""]
        args += ["--fps", str(self.fps), "--gop", str(self.gop), "--scene", self.scene]
        if self.main:
            args += ["--main", self.main]
        if self.image:
            args += ["--image", str(self.image)]
        if self.file is not None:
            args += ["--file", str(self.file)]
        self._proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        assert self._proc.stdout is not None
        deadline = time.monotonic() + timeout
        line = self._proc.stdout.readline().decode().strip()
        if line != "READY" or time.monotonic() > deadline:
            self.stop()
            raise RuntimeError(f"RTSP server did not start on port {self.port}: {line!r}")

    def stop(self) -> None:
        proc, self._proc = self._proc, None
        if proc is None:
            return
        proc.send_signal(signal.SIGCONT)  # a paused server cannot handle SIGTERM
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)

    def pause(self) -> None:
        """Freeze the server (SIGSTOP): connections stay open but no data flows, a stalled camera."""
        if self._proc is not None:
            self._proc.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        if self._proc is not None:
            self._proc.send_signal(signal.SIGCONT)

    def restart(self) -> None:
        self.stop()
        self.start()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def __enter__(self) -> RtspServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
