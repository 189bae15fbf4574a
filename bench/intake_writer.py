"""The alert writer's own work per alert, in process: what one hub process can store per second.

Runs ``central.intake.store_batch`` (what the writer thread runs) on a fresh SQLite hub of the sample
town: first alerts that each open an incident (landslide and road blockage on every camera, about
half of them grouped with a neighbour's incident on the same road, the rest with a work order),
then alerts that merge into those incidents, in batches of ``--batch``. Nothing else runs, so the
figure is the writer's work (checks, HTTP and the event loop are not in it): CPU time of the
process per alert, best of ``--repeat`` runs. Compare runs of this script in the same minutes only
(an A/B against another commit: copy this file into a worktree of it and run both in turn).

    .venv/bin/python bench/intake_writer.py [--batch 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, machine, print_best, write_result
from central.auth import Principal
from central.db import Database
from central.intake import Checked, check, store_batch
from central.migrations import upgrade
from gridwatch.config import load_town
from gridwatch.wire import Alert
from tests.central.conftest import FakeClock, alert, jpeg, make_hub


def one_run(batch: int) -> dict[str, float]:
    town = load_town(ROOT / "configs" / "yongshan")
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        url = f"sqlite:///{tmp / 'hub.db'}"
        db = Database(url)
        upgrade(db)
        db.dispose()
        clock = FakeClock()
        hubs = make_hub(town, url, tmp, clock)
        h = next(hubs)
        clock.advance(minutes=5)
        snap = jpeg(64)

        def checked(kind: str, phase: str, event: str, seq0: int) -> list[Checked]:
            out = []
            for i, cam in enumerate(c for c in town.cameras if c.enabled):
                body: dict[str, Any] = alert(cam.id, kind, phase, node=cam.node, event=event, at=clock.now,
                                             seq=seq0 + i, snapshot=snap)
                who = Principal(role="edge", name=cam.node, node_id=cam.node)
                out.append(check(h.hub, Alert.model_validate_json(json.dumps(body)), who))
            return out

        opening = checked("landslide", "onset", "a", 1) + checked("road_blockage", "onset", "b", 1000)
        merging = checked("landslide", "update", "a", 5000)
        times = {}
        for name, items in (("opening", opening), ("merging", merging)):
            t0 = time.process_time()
            for k in range(0, len(items), batch):
                store_batch(h.hub, items[k:k + batch])
            times[name] = (time.process_time() - t0) / len(items) * 1000
        for _ in hubs:  # closes the app
            pass
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch", type=int, default=50, help="alerts per store_batch call")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs = [one_run(args.batch) for _ in range(args.repeat)]
    best = print_best(runs, "per alert")
    result = {"machine": machine(), "batch": args.batch, "runs": runs, "best": best}
    path = write_result("intake_writer", result)
    print(f"  results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
