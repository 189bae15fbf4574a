"""The alert rows' INSERT on PostgreSQL: a multi-row INSERT against one JSON parameter, in process.

Intake inserts each batch's alert rows with ``ON CONFLICT (id) DO NOTHING RETURNING id``. As a
multi-row INSERT (SQLAlchemy's "insertmanyvalues") it has 20 parameters per alert, and psycopg
rewrites a statement of more than 50 parameters in Python, uncached, for every execution; the hub
sends the rows as one JSON parameter instead (``central.intake._insert_new``). This runs both on a
PostgreSQL started here, alternately, in transactions like the writer's (the feed lock, the INSERT,
the commit), and prints the CPU per transaction of the client and of the PostgreSQL server (its
processes, which share the machine's cores with the hub) for batches of 1, 5, 20 and 100 alerts:
client: best of ``--repeat`` rounds of ``--transactions`` each; server: mean of the rounds.

    .venv/bin/python bench/alert_insert.py [--repeat 6] [--transactions 100]
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy.dialects import postgresql

from bench._common import ROOT, machine, postgres_cpu_seconds, print_table, start_postgres, write_result
from central.db import Database
from central.intake import _ALERTS, _insert_new
from central.migrations import upgrade

#: What intake sent before: one multi-row INSERT with every column a parameter.
MULTI_ROW = postgresql.insert(_ALERTS).on_conflict_do_nothing(index_elements=["id"]).returning(_ALERTS.c.id)


def rows(tag: str, n: int, now: datetime) -> list[dict[str, Any]]:
    """``n`` alert rows as intake makes them (``central.intake._row``), with fresh ids."""
    return [
        {"id": f"{tag}-{i:04d}", "event_id": f"ev-{tag}-{i}", "node_id": "edge-01", "camera_id": "cam-001",
         "kind": "landslide", "phase": "onset", "seq": i, "raised_at": now, "started_at": now,
         "video_time_s": 1.5, "score": 0.8, "bbox": [0.1, 0.2, 0.3, 0.4], "region": "road",
         "details": {"width_share": 0.5}, "snapshot": None, "clip": None, "received_at": now,
         "silenced": False, "incident_id": None, "work_order_id": None}
        for i in range(n)
    ]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=6, help="rounds of each way, alternately")
    ap.add_argument("--transactions", type=int, default=100, help="transactions per round")
    args = ap.parse_args()
    pg = start_postgres()
    if pg is None:
        print("no PostgreSQL binaries", file=sys.stderr)
        return 2
    best: dict[int, dict[str, float]] = {}
    try:
        db = Database(pg.create_database())
        upgrade(db)
        now = datetime.now(UTC)
        for n in (1, 5, 20, 100):
            runs: dict[str, list[float]] = {"multi-row INSERT": [], "one JSON parameter": []}
            server: dict[str, list[float]] = {way: [] for way in runs}
            for rep in range(args.repeat):
                for way in runs:
                    t0, s0 = time.process_time(), postgres_cpu_seconds(pg)
                    for k in range(args.transactions):
                        batch = rows(f"{n}-{rep}-{k}-{way[0]}", n, now)
                        with db.write() as s:
                            if way == "multi-row INSERT":
                                got = set(s.execute(MULTI_ROW, batch).scalars())
                            else:
                                got = _insert_new(s, batch)
                        assert len(got) == n
                    runs[way].append((time.process_time() - t0) / args.transactions * 1000)
                    server[way].append((postgres_cpu_seconds(pg) - s0) / args.transactions * 1000)
            best[n] = {way: round(min(v), 3) for way, v in runs.items()}
            # the server's CPU is read in clock ticks (10 ms): its mean over all rounds, not the best
            best[n] |= {f"{way}, server": round(sum(v) / len(v), 3) for way, v in server.items()}
            print(f"batch {n}: {best[n]}", flush=True)
        db.dispose()
    finally:
        pg.stop()
    m, j = "multi-row INSERT", "one JSON parameter"
    table = [("alerts per batch", f"{m}: client / server ms", f"{j}: client / server ms", "client ratio")]
    for n, b in best.items():
        table.append((str(n), f"{b[m]:.3f} / {b[m + ', server']:.3f}",
                      f"{b[j]:.3f} / {b[j + ', server']:.3f}", f"{b[m] / b[j]:.2f}x"))
    print_table("CPU per write transaction (feed lock, INSERT .. RETURNING id, commit); client best of "
                f"{args.repeat} rounds, server mean", table)
    path = write_result("alert_insert", {"machine": machine(), "args": vars(args), "best_ms": best})
    print(f"\n  results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
