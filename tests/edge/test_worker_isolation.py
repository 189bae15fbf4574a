"""One broken camera (dead stream, or a pipeline that throws) never stalls the others; heartbeats
say which camera is which; SIGTERM-style stop sends held onsets instead of dropping them."""

from __future__ import annotations

from pathlib import Path

from edge.outbox import Outbox
from edge.worker import EdgeWorker
from gridwatch.config import load_town
from gridwatch.config.schema import Camera
from tests.edge.onset_pipeline import OnsetPipeline
from tests.edge.procs import wait_for
from tests.edge.recording_hub import RecordingHub
from tests.edge.town import NODE, write_town
from tests.support.net import free_port


def test_broken_cameras_do_not_stall_the_good_one(tmp_path: Path, video_file: Path,
                                                  recording_hub: RecordingHub) -> None:
    town_file = tmp_path / "town.yaml"
    dead = f"rtsp://127.0.0.1:{free_port()}/cam"
    good, gone, crashing = write_town(town_file, [str(video_file), dead, str(video_file)], recording_hub.url,
                                      detection={"analysis_fps": 4.0},
                                      edge={"heartbeat_every_s": 0.5, "reconnect_max_s": 1.0,
                                            "clip_pre_s": 1.0, "clip_post_s": 60.0})
    pipes: dict[str, OnsetPipeline] = {}

    def factory(cam: Camera) -> OnsetPipeline:
        pipes[cam.id] = OnsetPipeline(cam.id, broken=cam.id == crashing)
        return pipes[cam.id]

    worker = EdgeWorker(load_town(town_file), NODE, recording_hub.url, lambda: recording_hub.token,
                        tmp_path / "edge", pipeline_factory=factory)
    worker.start()
    try:
        wait_for(lambda: pipes[good].frames >= 8, 30, "the good camera to be analysed")

        def statuses() -> dict[str, str]:
            if not recording_hub.heartbeats:
                return {}
            return {c["camera_id"]: c["status"] for c in recording_hub.heartbeats[-1]["cameras"]}

        wait_for(lambda: statuses().get(good) == "online", 30, "a heartbeat with the good camera online")
        assert statuses()[gone] == "offline"
        beat = recording_hub.heartbeats[-1]
        cams = {c["camera_id"]: c for c in beat["cameras"]}
        assert cams[gone]["reconnects"] >= 1 and cams[gone]["last_frame_at"] is None
        assert cams[good]["scores"]["frames"] >= 1
        assert beat["node"]["software_version"].startswith("gridwatch")
        assert beat["node"]["disk_free_bytes"] > 0 and beat["live_url"] is None
        assert not recording_hub.alerts  # the onset waits for its 60 s of clip
    finally:
        worker.stop()
    # Stopping did not lose the held onset: it went to the outbox (and maybe out) with what clip there was.
    box = Outbox(tmp_path / "edge" / "outbox.sqlite3", 10**9)
    sent = [a for a in recording_hub.alerts.values() if a["kind"] == "flooding"]
    waiting = [b for b in box.pending_bodies(good) if b["kind"] == "flooding"]
    assert len(sent) + len(waiting) == 1
    (alert,) = sent + waiting
    assert alert["clip_mp4"]


def test_bad_command_line_gets_a_clear_error(tmp_path: Path, video_file: Path) -> None:
    import socket
    import subprocess
    import sys

    town_file = tmp_path / "town.yaml"
    write_town(town_file, [str(video_file)], "http://127.0.0.1:1")
    base = [sys.executable, "-m", "gridwatch.cli", "edge", "--config", str(town_file)]
    r = subprocess.run([*base, "--node", "edge-99"], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "edge-99" in r.stderr
    r = subprocess.run([*base, "--node", NODE, "--token-file", str(tmp_path / "missing.token")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "missing.token" in r.stderr
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        args = ["--node", NODE, "--live-port", str(port), "--data-dir", str(tmp_path / "e")]
        r = subprocess.run([*base, *args], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2 and "live view could not listen" in r.stderr
