"""Where a 500 alerts/s burst's latency comes from: latency by position in the burst.

The burst of ``bench/hub_cost.py`` (open loop, 4 s, the sample town's 280 cameras, kinds in turn)
begins with 840 alerts that each open an incident and a work order (280 cameras x 3 kinds) and
goes on with alerts that merge into those incidents. This prints p50 and max latency per 200
alerts, so one sees which part of the burst builds the queue. One hub process on SQLite, run
``--repeat`` times (each on a fresh database).

    .venv/bin/python bench/hub_burst_timeline.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine, percentile, write_result
from bench._load import RawClient, scheduled, warm
from bench._payloads import Payloads, alert_request, write_town
from tests.support.hub import HubProcess

RATE, SECONDS, CHUNK = 500, 4.0, 200


async def run_once(tmp: Path) -> dict[str, Any]:
    town = tmp / "town.yaml"
    p = Payloads(town, write_town(town, None))
    with HubProcess(db_url=f"sqlite:///{tmp / 'hub.db'}", config=town, workers=1, start_timeout_s=120) as hub:
        c = RawClient(hub.url)
        await warm(c, alert_request(p, hub.url))
        rec, _ = await scheduled(c, RATE, SECONDS, alert_request(p, hub.url))
        await c.aclose()
    chunks = []
    for lo in range(0, len(rec), CHUNK):
        lat = [x[1] for x in rec[lo:lo + CHUNK]]
        chunks.append({"alerts": f"{lo}-{lo + len(lat) - 1}", "p50_ms": round(percentile(lat, 50) * 1000, 1),
                       "max_ms": round(max(lat) * 1000, 1)})
    lat = [x[1] for x in rec]
    return {"chunks": chunks, "p50_ms": round(percentile(lat, 50) * 1000, 1),
            "p99_ms": round(percentile(lat, 99) * 1000, 1), "errors": sum(1 for x in rec if x[2] >= 300)}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3, help="bursts, each on a fresh hub and database")
    args = ap.parse_args()
    runs = []
    for k in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            r = asyncio.run(run_once(Path(tmp)))
        runs.append(r)
        print(f"run {k + 1}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, errors {r['errors']}")
    print(f"\n{'alerts':>10}  " + "  ".join(f"run {k + 1} p50 / max ms" for k in range(len(runs))))
    for i, ch in enumerate(runs[0]["chunks"]):
        cells = "  ".join(f"{r['chunks'][i]['p50_ms']:>9.1f} / {r['chunks'][i]['max_ms']:>7.1f}"
                          for r in runs)
        print(f"{ch['alerts']:>10}  {cells}")
    path = write_result("hub_burst_timeline", {"machine": machine(), "runs": runs})
    print(f"\n  results: {path.relative_to(path.parents[2])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
