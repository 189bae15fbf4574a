"""PostgreSQL restarts (``pg_ctl restart -m fast``) while an edge's alerts pour in. The hub must come
back by itself (its pool pings connections before use and the edge resends what got no 2xx), and every
alert it acknowledged must be in the database afterwards.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from gridwatch.config import load_town
from tests.reliability.burst import BurstSender, all_ids, check_store, plan_alerts
from tests.reliability.test_hub_sigkill import record, wait_until
from tests.support.hub import SAMPLE_TOWN, HubProcess, make_token
from tests.support.postgres import PostgresServer

pytestmark = [pytest.mark.slow, pytest.mark.postgres]
NODE = "edge-02"


def pg_restart(server: PostgresServer) -> float:
    """Restart the server the way an operator (or a package upgrade) does; returns seconds it took."""
    cmd = [str(server.bin_dir / "pg_ctl"), "-D", str(server.data), "-l", str(server.root / "log"),
           "-m", "fast", "-w", "-t", "60", "restart"]
    if os.geteuid() == 0:
        cmd = ["runuser", "-u", "postgres", "--", *cmd]
    t0 = time.monotonic()
    # The new postmaster keeps pg_ctl's stdout open: send it nowhere, or run() waits for it forever.
    subprocess.run(cmd, check=True, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, timeout=90)
    return time.monotonic() - t0


def test_postgres_restart_under_load(tmp_path: Path, postgres_server: PostgresServer) -> None:
    db_url = postgres_server.create_database()
    town = load_town(SAMPLE_TOWN)
    token = make_token(db_url, "edge", node=NODE)
    lanes = plan_alerts(town, NODE, 15, tag="pg-restart")  # 20 cameras x 15 = 300 alerts
    hub = HubProcess(db_url=db_url, media_dir=tmp_path / "media").start()
    try:
        sender = BurstSender(hub.url, token, lanes, retry_pause_s=0.1).start()
        wait_until(lambda: sender.acked >= 60, 120, "60 acknowledged alerts")
        before = sender.acked
        restarts = [pg_restart(postgres_server)]
        wait_until(lambda: sender.acked >= before + 60, 120, "60 more alerts after the first restart")
        restarts.append(pg_restart(postgres_server))
        assert sender.join(180), "the sender did not finish after the restarts"
        assert hub.proc is not None and hub.proc.poll() is None, "the hub died"
        log = hub.log_path.read_text(errors="replace")
    finally:
        hub.stop()
    assert not sender.refused, f"alerts refused during the outage: {sender.refused[:3]}"
    ids = all_ids(lanes)
    # Every alert that got a 2xx is stored, once, with the incident its receipt named.
    counts = check_store(db_url, ids, sender.receipts, media_dir=tmp_path / "media")
    failed = {s: n for s, n in sender.statuses.items() if s >= 500}
    record(tmp_path, "postgres_restart", {
        **counts, "restart_seconds": [round(r, 2) for r in restarts], "acked_before_first": before,
        "not_acknowledged_then_resent": sender.not_acked, "statuses": dict(sender.statuses),
        "errors": dict(sender.errors), "server_errors": failed,
        "hub_log_tracebacks": log.count("Traceback")})
