"""Main stream on demand, on a real RTSP camera serving a sub-stream (320x240) and a main stream
(640x480): analysis reads the sub-stream only; the main stream is opened at an onset for its clip
(remuxed, full size) and snapshot, or read all the time into a ring where a camera asks for it."""

from __future__ import annotations

import base64
import io
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np
import pytest

from edge.worker import EdgeWorker
from gridwatch.config import load_town
from tests.edge.onset_pipeline import late_onset_pipeline
from tests.edge.procs import wait_for
from tests.edge.recording_hub import RecordingHub
from tests.edge.town import NODE, write_town
from tests.support.needs import require_rtsp
from tests.support.rtsp import RtspServer

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

PRE_S, POST_S, FPS = 2.0, 2.0, 10


def clip_frames(alert: dict[str, Any]) -> tuple[int, int, int]:
    """(width, height, frames) of an alert's MP4 clip."""
    with av.open(io.BytesIO(base64.b64decode(alert["clip_mp4"]))) as c:
        frames = list(c.decode(video=0))
    return frames[0].width, frames[0].height, len(frames)


def snapshot_shape(alert: dict[str, Any]) -> tuple[int, ...]:
    jpeg = np.frombuffer(base64.b64decode(alert["snapshot_jpeg"]), np.uint8)
    return tuple(cv2.imdecode(jpeg, cv2.IMREAD_COLOR).shape)


def test_main_stream_only_for_events(tmp_path: Path, recording_hub: RecordingHub) -> None:
    require_rtsp()
    with RtspServer(fps=FPS, gop=FPS, main="640x480") as server:
        town_file = tmp_path / "town.yaml"
        two = {"main": server.main_url, "sub": server.url}
        on_demand, ring, sub_only = write_town(
            town_file, [server.main_url] * 3, recording_hub.url, detection={"analysis_fps": 2.0},
            edge={"heartbeat_every_s": 0.5, "clip_pre_s": PRE_S, "clip_post_s": POST_S,
                  "analysis_processes": 0},
            streams=[two, {**two, "main_for_events": "ring"}, {**two, "main_for_events": "never"}])
        worker = EdgeWorker(load_town(town_file), NODE, recording_hub.url, lambda: recording_hub.token,
                            tmp_path / "edge", pipeline_factory=late_onset_pipeline)
        units = {u.camera.id: u for u in worker.units}
        assert all(u.reader.url == server.url for u in units.values())  # analysis: the sub-stream
        assert units[sub_only].main is None
        main_a, main_b = units[on_demand].main, units[ring].main
        assert main_a is not None and main_b is not None
        worker.start()
        try:
            def flood(cam: str) -> dict[str, Any] | None:
                found = [a for a in recording_hub.alerts_of(cam) if a["kind"] == "flooding"]
                return found[0] if found else None

            wait_for(lambda: all(flood(c) for c in (on_demand, ring, sub_only)), 60, "the three onsets")
            # Analysis saw the sub-stream's pictures (320 px), the clips show the main stream's.
            assert all(units[c].pipeline.width == 320 for c in units)  # type: ignore[attr-defined]
            a, b, s = (flood(c) for c in (on_demand, ring, sub_only))
            assert a and b and s and a["clip_mp4"] and b["clip_mp4"] and s["clip_mp4"]
            wa, ha, na = clip_frames(a)
            wb, hb, nb = clip_frames(b)
            assert (wa, ha) == (wb, hb) == (640, 480)
            assert clip_frames(s)[:2] == (320, 240)  # the analysis frames' clip
            assert snapshot_shape(a) == snapshot_shape(b) == (480, 640, 3)
            # On demand: opened once, for the one event, from the onset on (clip_post_s of it); the
            # ring's clip also holds the seconds before the onset.
            assert main_a.opened == 1 and main_b.opened == 1
            assert na >= POST_S * FPS * 0.75
            assert nb >= na + PRE_S * FPS * 0.5
        finally:
            worker.stop()
