"""Fixtures for edge tests: a real RTSP camera, a real video file, a recording hub, free ports."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.edge.recording_hub import RecordingHub
from tests.support.needs import require_rtsp
from tests.support.rtsp import RtspServer, free_port


@pytest.fixture(scope="session")
def video_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """4 s of generated 320x240 H.264 at 10 fps, a key frame every second."""
    if shutil.which("ffmpeg") is None:
        pytest.fail("ffmpeg is needed to make the test video (Debian package ffmpeg)")
    out = tmp_path_factory.mktemp("video") / "test.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10",
                    "-t", "4", "-c:v", "libx264", "-g", "10", "-pix_fmt", "yuv420p", str(out)], check=True)
    return out


@pytest.fixture
def rtsp_server() -> Iterator[RtspServer]:
    require_rtsp()
    server = RtspServer()
    server.start()
    yield server
    server.stop()


@pytest.fixture
def recording_hub() -> Iterator[RecordingHub]:
    hub = RecordingHub(free_port())
    hub.start()
    yield hub
    hub.stop()
