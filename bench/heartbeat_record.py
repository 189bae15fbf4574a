"""What storing one heartbeat costs the hub, in process: ``central.health.record_heartbeat`` alone.

A county of 10,000 cameras on 500 nodes (20 cameras each, the town ``bench/hub_cost.py`` uses for
heartbeats) on a fresh SQLite file: one round of heartbeats from every node (each camera heard of
for the first time), then ``--rounds`` more that only update the cameras' figures, the steady case.
Prints the process's CPU time per heartbeat of the steady rounds, and pydantic's parse of the body
for comparison; HTTP and the event loop are not in it. Best of ``--repeat`` runs. For an A/B against
another commit, run this file with ``ROOT=<worktree of it>`` and without, in turn.

    .venv/bin/python bench/heartbeat_record.py [--rounds 2] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, os.environ.get("ROOT") or str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, machine, print_best, write_result
from bench._payloads import Payloads, write_town
from central.db import Database
from central.health import record_heartbeat
from central.migrations import upgrade
from gridwatch.config import load_town
from gridwatch.wire import Heartbeat


def one_run(rounds: int) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        town_path = tmp / "county.yaml"
        p = Payloads(town_path, write_town(town_path, 500))
        town = load_town(town_path)
        db = Database(f"sqlite:///{tmp / 'hub.db'}")
        upgrade(db)
        try:
            for node in p.by_node:  # first round: every camera new
                hb = Heartbeat.model_validate_json(p.heartbeat(node)[0])
                record_heartbeat(db, town, hb, hb.node_id, datetime.now(UTC))
            bodies = [p.heartbeat(node)[0] for _ in range(rounds) for node in p.by_node]
            t0 = time.process_time()
            beats = [Heartbeat.model_validate_json(b) for b in bodies]
            t1 = time.process_time()
            for hb in beats:
                record_heartbeat(db, town, hb, hb.node_id, datetime.now(UTC))
            t2 = time.process_time()
        finally:
            db.dispose()
    return {"parse_ms": (t1 - t0) / len(beats) * 1000, "record_ms": (t2 - t1) / len(beats) * 1000}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=2, help="steady rounds of 500 heartbeats measured")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs = [one_run(args.rounds) for _ in range(args.repeat)]
    best = print_best(runs, "per heartbeat of 20 cameras")
    path = write_result("heartbeat_record", {"machine": machine(), "args": vars(args), "runs": runs,
                                             "best": best})
    print(f"  results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
