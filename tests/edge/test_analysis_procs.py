"""Analysis processes on a real RTSP camera: a process killed (SIGKILL) or hung (SIGSTOP) is replaced,
its cameras resume in the new one, the other process's cameras never notice, and no alert is lost:
an onset held for its clip when its process died goes out without the clip."""

from __future__ import annotations

import os
import signal
from pathlib import Path
from typing import Any

import pytest

from edge.outbox import Outbox
from edge.worker import EdgeWorker, analysis_process_count
from gridwatch.config import load_town
from tests.edge.onset_pipeline import onset_pipeline
from tests.edge.procs import wait_for
from tests.edge.recording_hub import RecordingHub
from tests.edge.town import NODE, write_town
from tests.support.rtsp import RtspServer

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]


def test_default_process_count() -> None:
    assert analysis_process_count(None, cameras=20, cores=8, live=False) == 8
    assert analysis_process_count(None, cameras=20, cores=2, live=False) == 0  # threads on 1-2 cores
    assert analysis_process_count(None, cameras=2, cores=8, live=False) == 0
    assert analysis_process_count(3, cameras=20, cores=2, live=False) == 3
    assert analysis_process_count(8, cameras=2, cores=16, live=False) == 2
    assert analysis_process_count(0, cameras=20, cores=16, live=False) == 0
    assert analysis_process_count(4, cameras=20, cores=16, live=True) == 0  # live view needs the readers


def test_killed_and_hung_processes_restart_and_lose_no_alert(tmp_path: Path, rtsp_server: RtspServer,
                                                             recording_hub: RecordingHub) -> None:
    town_file = tmp_path / "town.yaml"
    cams = write_town(town_file, [rtsp_server.url] * 4, recording_hub.url,
                      detection={"analysis_fps": 2.0},
                      edge={"heartbeat_every_s": 0.5, "reconnect_max_s": 1.0, "clip_pre_s": 1.0,
                            "clip_post_s": 120.0, "analysis_processes": 2, "analysis_hung_after_s": 4.0})
    worker = EdgeWorker(load_town(town_file), NODE, recording_hub.url, lambda: recording_hub.token,
                        tmp_path / "edge", pipeline_factory=onset_pipeline)
    procs = worker.procs
    assert procs is not None and len(procs.slots) == 2 and worker.units == []
    victim, other = procs.slots
    assert victim.select and other.select and not victim.select & other.select
    assert victim.select | other.select == set(cams)

    def floods(cam: str) -> list[dict[str, Any]]:
        return [a for a in recording_hub.alerts_of(cam) if a["kind"] == "flooding"]

    def frames(cam: str) -> float:
        beat = recording_hub.heartbeats[-1] if recording_hub.heartbeats else {"cameras": []}
        return next((c["scores"].get("frames", 0.0) for c in beat["cameras"] if c["camera_id"] == cam), 0.0)

    worker.start()
    try:
        # Every camera raised its onset, held (in the parent's outbox) for its 120 s of clip.
        wait_for(lambda: len(victim.held) == len(victim.select) and len(other.held) == len(other.select),
                 180, "an onset held for each camera")  # spawned processes start slowly on a loaded CI box
        assert not recording_hub.alerts
        first_pids = procs.pids()

        # SIGKILL: the victim's held onsets go out at once without their clip; a new process runs its
        # cameras, whose new pipelines raise new onsets.
        os.kill(first_pids[0], signal.SIGKILL)
        wait_for(lambda: all(len(floods(c)) == 1 for c in victim.select), 30, "the killed process's onsets")
        assert all(floods(c)[0]["clip_mp4"] is None for c in victim.select)
        wait_for(lambda: procs.pids()[0] not in (None, first_pids[0]), 30, "a new analysis process")
        wait_for(lambda: len(victim.held) == len(victim.select), 60, "the resumed cameras' new onsets")
        assert procs.pids()[1] == first_pids[1] and len(other.held) == len(other.select)
        assert not any(floods(c) for c in other.select)

        # SIGSTOP: a hung process answers nothing; it is killed and replaced after 4 s.
        os.kill(first_pids[1], signal.SIGSTOP)
        wait_for(lambda: all(len(floods(c)) == 1 for c in other.select), 60, "the hung process's onsets")
        wait_for(lambda: procs.pids()[1] not in (None, first_pids[1]), 30, "the hung process replaced")
        wait_for(lambda: len(other.held) == len(other.select), 60, "the resumed cameras' new onsets")
        wait_for(lambda: all(frames(c) >= 5 for c in cams), 60, "every camera analysed again")
        assert procs.restarts() == 2
    finally:
        worker.stop()
    # Stopping sent the new onsets (with their clip) to the outbox, and maybe out: none was lost.
    box = Outbox(tmp_path / "edge" / "outbox.sqlite3", 10**9)
    for cam in cams:
        sent = floods(cam)
        waiting = [b for b in box.pending_bodies(cam) if b["kind"] == "flooding"]
        assert len({a["event_id"] for a in sent + waiting}) == 2, (cam, sent, waiting)
        assert any(a["clip_mp4"] for a in sent + waiting)
    box.close()
