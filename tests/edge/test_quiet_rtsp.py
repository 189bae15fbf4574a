"""The adaptive rate on a real RTSP camera watching a quiet scene (a still picture of the
real footage with sensor-like noise): once the scene is learned, the
worker's reader decodes (mostly) key frames only. Counted, not timed: frames decoded against packets
(frames) the camera sent, over 20 s of stream."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from edge.worker import EdgeWorker
from gridwatch.config import load_town
from tests.edge.procs import wait_for
from tests.edge.recording_hub import RecordingHub
from tests.edge.town import NODE, ROOT, write_town
from tests.support.needs import require_rtsp
from tests.support.rtsp import RtspServer

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

FPS, GOP = 10, 20  # a key frame every 2 s
WINDOW = 200       # packets counted once the scene is quiet (20 s of stream)
FOOTAGE = ROOT / "data" / "footage" / "vtest.avi"


def still_road(tmp_path: Path) -> Path:
    """One picture of the real footage (a road crossing), as a PNG the camera holds still."""
    if shutil.which("ffmpeg") is None or not FOOTAGE.exists():
        pytest.fail(f"ffmpeg and {FOOTAGE} (scripts/fetch_footage.sh) are needed for the quiet scene")
    out = tmp_path / "still.png"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-ss", "2", "-i", str(FOOTAGE), "-frames:v", "1",
                    "-vf", "scale=320:240", str(out)], check=True)
    return out


def test_quiet_scene_decodes_key_frames_only(tmp_path: Path, recording_hub: RecordingHub) -> None:
    require_rtsp()
    with RtspServer(fps=FPS, gop=GOP, scene="quiet", image=still_road(tmp_path)) as server:
        town_file = tmp_path / "town.yaml"
        (cam,) = write_town(town_file, [server.url], recording_hub.url,
                            detection={"analysis_fps": 1.0, "adaptive_rate": True},
                            edge={"analysis_processes": 0})
        worker = EdgeWorker(load_town(town_file), NODE, recording_hub.url, lambda: recording_hub.token,
                            tmp_path / "edge")
        (unit,) = worker.units
        st = unit.reader.stats
        worker.start()
        try:
            # The scene is learned densely first (edge.pipeline.WARMUP_S), then found quiet.
            wait_for(lambda: not unit.pipeline.learning and st.quiet, 90,  # type: ignore[attr-defined]
                     "the scene learned and found quiet")
            packets0, decoded0, dropped0 = st.packets_in, st.frames_in, st.parked_dropped
            wait_for(lambda: st.packets_in >= packets0 + WINDOW, 60, f"{WINDOW} more packets")
            packets, decoded = st.packets_in - packets0, st.frames_in - decoded0
            keys = packets / GOP
            # Key frames only would be 10 of 200; the fixed rate decodes ~11 of every 20 (the key
            # frame and the frames up to the one 1 s later): 110. Allow a dense stretch or two.
            assert keys * 0.5 <= decoded <= keys * 2.5, (decoded, packets)
            assert st.parked_dropped - dropped0 >= packets - decoded - 2 * GOP
            assert not [a for a in recording_hub.alerts.values() if a["camera_id"] == cam]
        finally:
            worker.stop()
