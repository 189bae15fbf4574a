"""The hub is SIGKILLed twice during a burst of 1,000 alerts from one node's 20 cameras, and restarted
on the same database each time. The sender behaves like the edge (resends whatever was not
acknowledged). Afterwards every alert is stored exactly once, incidents and work orders are neither
doubled nor half-written, and the database passes its integrity check.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from gridwatch.config import load_town
from tests.reliability.burst import BurstSender, all_ids, check_store, plan_alerts
from tests.support.hub import SAMPLE_TOWN, HubProcess, make_token
from tests.support.postgres import PostgresServer

pytestmark = pytest.mark.slow
NODE = "edge-01"
PER_CAMERA = 50  # 20 cameras x 50 = 1,000 alerts
KILL_AT = (250, 600)  # acknowledged alerts at which the hub is SIGKILLed


def wait_until(cond, timeout: float, what: str) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while not cond():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)


def run_burst_with_kills(db_url: str, tmp_path: Path, tag: str) -> dict[str, object]:
    town = load_town(SAMPLE_TOWN)
    token = make_token(db_url, "edge", node=NODE)
    lanes = plan_alerts(town, NODE, PER_CAMERA, tag=tag)
    assert sum(len(lane) for lane in lanes) == 1000 and len(lanes) == 20
    hub = HubProcess(db_url=db_url, media_dir=tmp_path / "media").start()
    logs: list[str] = []
    kills: list[dict[str, int]] = []
    sender = BurstSender(hub.url, token, lanes).start()
    t0 = time.monotonic()
    try:
        for at in KILL_AT:
            wait_until(lambda at=at: sender.acked >= at, 120, f"{at} acknowledged alerts")
            assert hub.proc is not None
            hub.proc.kill()  # SIGKILL: no shutdown, no flush, transactions in flight die with it
            hub.proc.wait(10)
            kills.append({"acked_at_kill": sender.acked, "attempts_at_kill": sender.attempts})
            logs.append(hub.log_path.read_text(errors="replace"))
            hub.stop()
            time.sleep(0.5)  # the edge's senders meet a dead port for a while
            hub.start()  # same database, same media folder, same port
        assert sender.join(180), "the sender did not finish"
        elapsed = time.monotonic() - t0
        logs.append(hub.log_path.read_text(errors="replace"))
    finally:
        hub.stop()
    assert not sender.refused, f"the hub refused alerts it should take: {sender.refused[:3]}"
    assert sender.not_acked > 0, "no post failed: the kills did not land during the burst"
    assert 500 not in sender.statuses, f"the hub answered 500: {sender.statuses}"
    ids = all_ids(lanes)
    assert set(sender.receipts) == ids
    counts = check_store(db_url, ids, sender.receipts, media_dir=tmp_path / "media")
    assert token not in "".join(logs), "the edge token appears in the hub's log"
    return {**counts, "kills": kills, "resent": sender.not_acked, "attempts": sender.attempts,
            "duplicates": sum(1 for r in sender.receipts.values() if r["duplicate"]),
            "errors": dict(sender.errors), "statuses": dict(sender.statuses), "seconds": round(elapsed, 1)}


def record(tmp_path: Path, name: str, figures: dict[str, object]) -> None:
    """Print the figures (RELIABILITY.md quotes them from a run with -s) and keep them as JSON."""
    print(f"\nRELIABILITY {name}: {json.dumps(figures)}")
    out = Path(__file__).resolve().parents[2] / "var" / "reliability"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(figures, indent=1))


def test_hub_sigkill_during_burst_sqlite(tmp_path: Path) -> None:
    figures = run_burst_with_kills(f"sqlite:///{tmp_path / 'hub.db'}", tmp_path, "sqlite")
    record(tmp_path, "hub_sigkill_sqlite", figures)


@pytest.mark.postgres
def test_hub_sigkill_during_burst_postgres(tmp_path: Path, postgres_server: PostgresServer) -> None:
    figures = run_burst_with_kills(postgres_server.create_database(), tmp_path, "postgres")
    record(tmp_path, "hub_sigkill_postgres", figures)
