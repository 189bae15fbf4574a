"""Nothing lost, nothing doubled: 100 alerts raised while the hub is down all arrive exactly once
when it returns; alerts left undelivered by a SIGKILLed edge arrive exactly once after a restart.

The edge here is a real worker process (``tests.edge.edge_proc``: production readers on a real video
file, analysis loop, clips, outbox, delivery) whose detection is scripted to raise the alerts.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.edge.procs import EdgeProcess, query, wait_for
from tests.edge.town import NODE, write_town
from tests.support.hub import HubProcess, make_token

pytestmark = pytest.mark.slow


def pending(outbox: Path) -> list[tuple[str, str, int]]:
    """(alert id, camera, seq) of the alerts waiting in the edge's outbox."""
    rows = query(outbox, "SELECT msg_id, body FROM messages WHERE kind = 'alert' ORDER BY id")
    return [(i, json.loads(b)["camera_id"], json.loads(b)["seq"]) for i, b in rows]


def hub_alerts(hub_db: Path) -> list[tuple[str, str, int]]:
    return query(hub_db, "SELECT id, camera_id, seq FROM alerts WHERE kind = 'road_blockage'")


def test_hub_outage_and_edge_sigkill_lose_and_double_nothing(tmp_path: Path, video_file: Path) -> None:
    town = tmp_path / "town.yaml"
    cams = write_town(town, [str(video_file), str(video_file)], "http://127.0.0.1:1",
                      detection={"analysis_fps": 5.0},
                      edge={"heartbeat_every_s": 1.0, "reconnect_max_s": 1.0, "clip_pre_s": 1.0,
                            "clip_post_s": 3.0})  # onsets stay held (on disk) 3 s for their clips
    hub_db = tmp_path / "hub.db"
    hub = HubProcess(db_url=f"sqlite:///{hub_db}", config=town)
    token_file = tmp_path / "edge.token"
    token_file.write_text(make_token(hub.db_url, "edge", node=NODE))  # the hub is not running
    data = tmp_path / "edge"
    outbox = data / "outbox.sqlite3"

    def edge(n_alerts: int) -> EdgeProcess:
        return EdgeProcess(["--config", str(town), "--node", NODE, "--hub", hub.url, "--token-file",
                            str(token_file), "--data-dir", str(data), "--alerts", str(n_alerts)],
                           tmp_path / "edge.log", module="tests.edge.edge_proc").start()

    try:
        # 1. The hub is down while the edge raises 100 alerts; it comes back; each arrives once.
        first = edge(100)
        waiting = wait_for(lambda: len(pending(outbox)) == 100 and pending(outbox), 90,
                           "100 alerts in the outbox", first.log)
        assert {c for _, c, _ in waiting} == set(cams)
        hub.start()
        wait_for(lambda: len(hub_alerts(hub_db)) >= 100 and not pending(outbox), 90,
                 "the hub to receive 100 alerts", first.log)
        got = hub_alerts(hub_db)
        assert sorted(got) == sorted(waiting)
        for cam in cams:  # per camera, the hub saw the sequence 0..n-1 with no gap or repeat
            seqs = sorted(s for _, c, s in got if c == cam)
            assert seqs == list(range(len(seqs)))
        assert query(hub_db, "SELECT COUNT(*) FROM alerts WHERE kind = 'road_blockage' AND clip IS NOT NULL"
                     )[0][0] > 0
        assert first.kill() != 0

        # 2. The hub goes down; a new edge raises 100 more and is SIGKILLed before delivering them
        #    (most of them still held for their clips, which a killed worker never finishes).
        hub.stop()
        second = edge(100)
        left = wait_for(lambda: len(pending(outbox)) == 100 and pending(outbox), 90,
                        "100 more alerts in the outbox", second.log)
        second.kill()
        held = query(outbox, "SELECT COUNT(*) FROM messages WHERE held = 1")[0][0]
        print(f"held for clips when killed: {held} of 100")

        # 3. Restarted (raising nothing new), the edge delivers exactly those, once each, releasing
        #    the held ones without their clips.
        third = edge(0)
        hub.start()
        wait_for(lambda: len(hub_alerts(hub_db)) >= 200 and not pending(outbox), 90,
                 "the hub to receive the alerts left by the killed edge", third.log)
        after = hub_alerts(hub_db)
        assert len(after) == 200
        assert sorted(set(after) - set(got)) == sorted(left)
        for cam in cams:
            seqs = sorted(s for _, c, s in after if c == cam)
            assert seqs == list(range(len(seqs)))  # seq went on after the kill, no reuse
        assert third.terminate() == 0, third.log()
        assert not query(outbox, "SELECT 1 FROM dead_letter")
    finally:
        hub.stop()
