"""The edge's disk fills up.

1. Over the outbox's configured cap (``edge.outbox_max_bytes``): the policy drops messages, says so in
   a WARNING line and the persisted ``dropped`` counter (reported in heartbeats as outbox_dropped),
   and a waiting heartbeat goes before any alert does.
2. A real full filesystem (a 16 MiB tmpfs mounted as root under the edge's data folder): the worker
   process keeps running, logs a clear ERROR line, keeps the alerts it could not store in memory,
   and, when space returns, stores and delivers each of them exactly once.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
from datetime import UTC, datetime
from pathlib import Path

import pytest

from edge.outbox import Outbox
from gridwatch.wire import Alert, EventKind, Heartbeat, NodeHealth, Phase, stable_id
from tests.edge.procs import EdgeProcess, query, wait_for
from tests.edge.town import NODE, write_town
from tests.reliability.test_hub_sigkill import record
from tests.support.hub import HubProcess, make_token


def alert(cam: str, seq: int, phase: Phase, pad: int = 400) -> Alert:
    now = datetime.now(UTC)
    return Alert(id=stable_id("full", cam, seq), event_id=stable_id("full-ev", cam, seq), node_id=NODE,
                 camera_id=cam, kind=EventKind.LANDSLIDE, phase=phase, seq=seq, raised_at=now,
                 started_at=now, score=0.8, details={"pad": "x" * pad})


def heartbeat(n: int) -> Heartbeat:
    return Heartbeat(id=stable_id("hb", n), node_id=NODE, sent_at=datetime.now(UTC), cameras=[],
                     node=NodeHealth(cpu_percent=1, memory_percent=1, disk_free_bytes=0, outbox_depth=0,
                                     outbox_bytes=0, software_version="test"))


def test_outbox_cap_drops_heartbeat_and_updates_before_onsets(tmp_path: Path,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    one = len(alert("cam-a", 0, Phase.ONSET).model_dump_json())
    box = Outbox(tmp_path / "outbox.sqlite3", max_bytes=one * 6)
    try:
        for _ in range(3):
            box.enqueue_alert("cam-a", lambda s: alert("cam-a", s, Phase.ONSET))
        for _ in range(2):
            box.enqueue_alert("cam-b", lambda s: alert("cam-b", s, Phase.UPDATE))
        box.enqueue_heartbeat(heartbeat(1))  # the newest message, as heartbeats always are
        with caplog.at_level(logging.WARNING, logger="gridwatch.edge.outbox"):
            for _ in range(3):  # over the cap now: room must come from the heartbeat and the updates
                box.enqueue_alert("cam-c", lambda s: alert("cam-c", s, Phase.ONSET))
        alerts = [json.loads(b)["phase"] for lane in ("cam-a", "cam-b", "cam-c")
                  for b in map(json.dumps, box.pending_bodies(lane))]
        heartbeats = box.pending_ids("heartbeat")
        stats = box.stats()
    finally:
        box.close()
    assert stats.dropped == 3, stats  # persisted, reported in heartbeats as outbox_dropped
    assert stats.bytes <= one * 6
    assert heartbeats == [], "the waiting heartbeat must go before any alert"
    assert alerts == ["onset"] * 6, f"every onset kept, the updates dropped: {alerts}"
    assert "over its cap" in caplog.text and "heartbeat" in caplog.text


def mount_tmpfs(path: Path, size: str) -> bool:
    path.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return False
    return subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)],
                          capture_output=True).returncode == 0


def fill(path: Path) -> int:
    """Write zeros into ``path`` until the filesystem refuses (ENOSPC); returns bytes written."""
    written = 0
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while True:
            written += os.write(fd, b"\0" * 4096)
    except OSError:
        pass
    finally:
        os.close(fd)
    return written


@pytest.mark.slow
def test_edge_process_survives_a_full_disk(tmp_path: Path, video_file: Path) -> None:
    data = tmp_path / "edge"
    if not mount_tmpfs(data, "16m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the cap test above covers the policy")
    try:
        town = tmp_path / "town.yaml"
        cams = write_town(town, [str(video_file), str(video_file)], "http://127.0.0.1:1",
                          detection={"analysis_fps": 5.0},
                          edge={"heartbeat_every_s": 0.5, "reconnect_max_s": 1.0, "clip_pre_s": 0.0,
                                "clip_post_s": 0.0})
        hub_db = tmp_path / "hub.db"
        hub = HubProcess(db_url=f"sqlite:///{hub_db}", config=town)
        token_file = tmp_path / "edge.token"
        token_file.write_text(make_token(hub.db_url, "edge", node=NODE))
        gate = tmp_path / "raise-now"
        edge = EdgeProcess(["--config", str(town), "--node", NODE, "--hub", hub.url, "--token-file",
                            str(token_file), "--data-dir", str(data), "--alerts", "40", "--gate", str(gate)],
                           tmp_path / "edge.log", module="tests.edge.edge_proc").start()
        outbox = data / "outbox.sqlite3"
        wait_for(lambda: query(outbox, "SELECT 1 FROM messages WHERE kind = 'heartbeat'"), 60,
                 "the worker to run (a heartbeat in its outbox)", edge.log)
        filler = data / "filler"
        filled = fill(filler)  # the disk is now full, under a running worker
        gate.touch()  # and now the cameras see 40 obstructions
        try:
            wait_for(lambda: "disk full" in edge.log(), 60, "the disk-full log line", edge.log)
            wait_for(lambda: "raised all" in edge.log(), 60, "all 40 alerts raised", edge.log)
            assert edge.proc is not None and edge.proc.poll() is None, "the worker died on a full disk"
            stored_while_full = len(query(outbox,
                                          "SELECT 1 FROM messages WHERE kind = 'alert'"))
            filler.unlink()  # space returns
            hub.start()
            got = wait_for(lambda: len(query(hub_db, "SELECT id FROM alerts")) >= 40 and
                           query(hub_db, "SELECT id FROM alerts"), 90, "40 alerts at the hub", edge.log)
            # The node's next heartbeats tell the hub how many writes the full disk refused.
            reported = wait_for(lambda: [h for (h,) in query(hub_db, "SELECT health FROM node_states")
                                         if json.loads(h).get("outbox_disk_full", 0) > 0], 60,
                                "a heartbeat reporting outbox_disk_full", edge.log)
            assert edge.proc.poll() is None
            assert edge.terminate() == 0, edge.log()
        finally:
            hub.stop()
            if edge.proc is not None and edge.proc.poll() is None:
                edge.kill()
        log = edge.log_path.read_text(errors="replace")
        assert len(got) == 40 and len({r[0] for r in got}) == 40
        for cam in cams:
            seqs = sorted(r[0] for r in query(hub_db, "SELECT seq FROM alerts WHERE camera_id = ?", cam))
            assert seqs == list(range(len(seqs))), f"{cam}: a gap or repeat in the sequence {seqs}"
        full_lines = [ln for ln in log.splitlines() if "disk full" in ln]
        record(tmp_path, "edge_disk_full", {
            "tmpfs": "16 MiB", "filler_bytes": filled, "alerts_raised": 40,
            "alerts_stored_while_full": stored_while_full, "alerts_at_hub": len(got),
            "disk_full_log_lines": len(full_lines), "first_line": full_lines[0][:200] if full_lines else None,
            "heartbeat_outbox_disk_full": json.loads(reported[0])["outbox_disk_full"],
            "tracebacks": log.count("Traceback")})
        assert log.count("Traceback") == 0, "a full disk should give clear lines, not tracebacks"
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)


def test_edge_started_on_a_full_disk_says_so_and_exits(tmp_path: Path) -> None:
    """Started on a disk that is already full, the worker cannot open its outbox: one clear line and
    exit code 2 (a supervisor's restart then repeats that line; nothing is lost, nothing was taken)."""
    data = tmp_path / "full"
    if not mount_tmpfs(data, "2m"):
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        fill(data / "filler")
        town = tmp_path / "town.yaml"
        write_town(town, [str(tmp_path / "none.mp4")], "http://127.0.0.1:1")
        token_file = tmp_path / "edge.token"
        token_file.write_text("not-used-here")
        edge = EdgeProcess(["edge", "--config", str(town), "--node", NODE, "--token-file", str(token_file),
                            "--data-dir", str(data / "edge")], tmp_path / "edge.log").start()
        assert edge.proc is not None
        code = edge.proc.wait(60)
        edge._wait(5)
        log = edge.log_path.read_text(errors="replace")
    finally:
        subprocess.run(["umount", "-l", str(data)], capture_output=True)
    assert code == 2, log
    assert "cannot use data directory" in log and "full" in log, log
    assert "Traceback" not in log, log
