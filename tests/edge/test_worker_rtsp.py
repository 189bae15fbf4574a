"""The edge worker on a real RTSP camera, delivering to the real hub: analysis rate, camera going
offline when the camera server stops, and recovering by itself when it comes back."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.edge.procs import EdgeProcess, query, wait_for
from tests.edge.town import NODE, write_town
from tests.support.hub import HubProcess, make_token
from tests.support.rtsp import RtspServer

pytestmark = [pytest.mark.slow, pytest.mark.rtsp]

ANALYSIS_FPS = 2.0  # the camera sends 10 fps with a key frame every second


def test_rtsp_camera_rate_offline_and_recovery(tmp_path: Path, rtsp_server: RtspServer) -> None:
    hub_db = tmp_path / "hub.db"
    town = tmp_path / "town.yaml"
    (cam,) = write_town(town, [rtsp_server.url], "http://127.0.0.1:1",
                        detection={"analysis_fps": ANALYSIS_FPS, "offline_after_s": 4.0},
                        edge={"heartbeat_every_s": 1.0, "reconnect_max_s": 2.0})
    hub = HubProcess(db_url=f"sqlite:///{hub_db}", config=town)
    hub.start()
    try:
        token_file = tmp_path / "edge.token"
        token_file.write_text(make_token(hub.db_url, "edge", node=NODE))
        edge = EdgeProcess(["edge", "--config", str(town), "--node", NODE, "--hub", hub.url,
                            "--token-file", str(token_file), "--data-dir", str(tmp_path / "edge")],
                           tmp_path / "edge.log").start()
        try:
            def fps() -> float | None:
                rows = query(hub_db, "SELECT fps_analysed, status FROM camera_states WHERE camera_id = ?",
                             cam)
                return rows[0][0] if rows and rows[0][1] != "offline" else None

            # Heartbeats report the analysed rate over the last 10 s: once it has settled near the
            # configured rate it must stay in a generous band around it (never the stream's 10 fps).
            wait_for(lambda: (fps() or 0) >= ANALYSIS_FPS * 0.7, 60, "the analysed rate to settle", edge.log)

            def heartbeat() -> tuple[str, float] | None:
                rows = query(hub_db, "SELECT last_heartbeat_at, fps_analysed FROM camera_states "
                                     "WHERE camera_id = ? AND status != 'offline'", cam)
                return (str(rows[0][0]), rows[0][1]) if rows else None

            seen: dict[str, float] = {}  # the rate of three heartbeats in a row, by when they came
            for _ in range(3):
                at, rate = wait_for(lambda: (hb := heartbeat()) is not None and hb[0] not in seen and hb,
                                    30, "the next heartbeat", edge.log)
                seen[at] = rate
            assert all(ANALYSIS_FPS * 0.5 <= f <= ANALYSIS_FPS * 1.5 for f in seen.values()), seen

            def offline_steps() -> list[str]:
                return [p for (p,) in query(hub_db, "SELECT phase FROM alerts WHERE camera_id = ? AND "
                                                    "kind = 'camera_offline' ORDER BY seq", cam)]

            # The camera server dies mid-stream, then comes back.
            rtsp_server.stop()
            wait_for(lambda: offline_steps() == ["onset"], 60, "camera_offline at the hub", edge.log)
            rtsp_server.start()
            wait_for(lambda: offline_steps() == ["onset", "clear"], 60, "camera_offline to clear", edge.log)

            # The camera stalls (connection open, no data): the read timeout ends the wait.
            failures = edge.log().count("failed (")
            rtsp_server.pause()
            wait_for(lambda: len(offline_steps()) == 3, 60, "camera_offline for a stalled stream", edge.log)
            wait_for(lambda: edge.log().count("failed (") > failures, 60, "the read timeout", edge.log)
            rtsp_server.resume()
            wait_for(lambda: len(offline_steps()) == 4, 60, "recovery from the stall", edge.log)
            assert offline_steps() == ["onset", "clear", "onset", "clear"]
            wait_for(lambda: query(hub_db, "SELECT 1 FROM camera_states WHERE camera_id = ? AND status "
                                           "!= 'offline'", cam), 30, "the camera online again", edge.log)
        finally:
            code = edge.terminate()
        assert code == 0, edge.log()
        assert "reconnect" in edge.log()
    finally:
        hub.stop()
