"""The hub's performance gate (issue 24), in one command, on SQLite and on PostgreSQL.

Gate 1, throughput: the hub's alert throughput is at least 0.5x that of a do-nothing FastAPI endpoint
(``bench/trivial_app.py``: same uvicorn, same workers, same wire models, stores nothing). Both run at
once; closed-loop rounds (``--concurrency`` clients posting alerts back to back for
``--throughput-s`` seconds) alternate between them, so a change in the machine's load falls on both;
each side's figure is the median of its rounds.

Gate 2, latency under a steady load: p99 alert latency under 100 ms while the hub takes 50 alerts/s
and the heartbeats of a 10,000-camera county (500 edge nodes x 20 cameras, each node every
``edge.heartbeat_every_s`` = 10 s as docs/DEPLOYMENT.md sets for a county: 50 heartbeats/s, the
nodes' turns spread evenly over the interval) for ``--duration`` seconds (300 by default). Open loop:
each request leaves at its scheduled time whether or not earlier ones came back, and its latency runs
from that schedule. Bodies are built just before they are due (an alert with a ~19 kB JPEG, new
events on the county's cameras: the first on a camera and kind opens an incident and a work order).
Before it, every node sends one heartbeat (its first creates its camera rows), untimed.

Everything is real: the hub is ``gridwatch hub`` on 127.0.0.1, on a SQLite file or on a PostgreSQL
server started here as the tests start theirs (``tests/support/postgres.py``); the load client is
``bench/_load.py``'s keep-alive client in this process. The report gives p50/p95/p99 per gate, pass
or fail, the machine (with its load average: figures on a shared machine are pessimistic) and the
date, and writes JSON to ``bench/results/hub_gate.json``.

    .venv/bin/python bench/hub_gate.py                      # ~14 min: both databases, 300 s each
    .venv/bin/python bench/hub_gate.py --duration 60 --only sqlite
    .venv/bin/python bench/hub_gate.py --check              # exit 1 when a gate fails
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    command_line,
    machine,
    percentile,
    postgres_cpu_seconds,
    print_table,
    start_postgres,
    write_result,
)
from bench._load import RawClient, Request, closed_loop, measured, server_cpu
from bench._payloads import Payloads, alert_request, heartbeat_request, write_town
from bench._servers import TrivialServer
from tests.support.hub import HubProcess

#: The gates, as issue 24 states them.
MIN_THROUGHPUT_RATIO = 0.5
MAX_P99_MS = 100.0
ALERTS_PER_S = 50.0
#: A county's heartbeat interval (docs/DEPLOYMENT.md: ``edge.heartbeat_every_s: 10`` for a county).
COUNTY_HEARTBEAT_S = 10.0


async def paced(
    client: RawClient, rate: float, duration: float, make: Callable[[int], Request], start: float
) -> list[tuple[float, int]]:
    """Send ``rate`` requests per second from loop time ``start`` for ``duration`` s, each built just
    before it is due and sent whether or not earlier ones came back; (latency from its due time,
    status) of each."""
    loop = asyncio.get_running_loop()
    out: list[tuple[float, int]] = []

    async def one(req: Request, due: float) -> None:
        try:
            status = await req(client)
        except (OSError, asyncio.IncompleteReadError, ValueError):
            status = 599
        out.append((loop.time() - due, status))

    tasks = []
    for i in range(round(rate * duration)):
        due = start + i / rate
        delay = due - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(make(i), due)))
    await asyncio.gather(*tasks)
    return out


def figures(rec: list[tuple[float, int]], duration: float) -> dict[str, Any]:
    lat = [r[0] for r in rec]
    ok = sum(1 for r in rec if 200 <= r[1] < 300)
    return {
        "sent": len(rec),
        "ok": ok,
        "errors": len(rec) - ok,
        "error_statuses": sorted({r[1] for r in rec if not 200 <= r[1] < 300}),
        "done_per_s": round(ok / duration, 1) if duration else None,
        **{f"p{q}_ms": round(percentile(lat, q) * 1000, 1) for q in (50, 95, 99)},
        "max_ms": round(max(lat) * 1000, 1) if lat else None,
    }


async def throughput(
    hub: HubProcess, trivial: TrivialServer, p: Payloads, rounds: int, seconds: float, concurrency: int
) -> dict[str, Any]:
    """Alternating closed-loop rounds on the trivial app and the hub; medians and their ratio."""
    hc, tc = RawClient(hub.url), RawClient(trivial.url)
    each: dict[str, list[float]] = {"trivial": [], "hub": []}
    cpu: dict[str, list[float]] = {"trivial": [], "hub": []}
    for _ in range(rounds):
        for side, client, srv in (("trivial", tc, trivial.proc), ("hub", hc, hub.proc)):
            r = await measured(srv, closed_loop(client, concurrency, seconds, alert_request(p, "")))
            each[side].append(r["throughput_per_s"] or 0.0)
            if r.get("server_cpu_ms_per_request") is not None:
                cpu[side].append(r["server_cpu_ms_per_request"])
            if r["errors"]:
                each.setdefault(f"{side}_error_statuses", []).extend(r["error_statuses"])
    await hc.aclose()
    await tc.aclose()
    hub_ps, trivial_ps = statistics.median(each["hub"]), statistics.median(each["trivial"])
    ratio = hub_ps / trivial_ps if trivial_ps else 0.0
    return {
        "rounds": rounds,
        "seconds_each": seconds,
        "concurrency": concurrency,
        "trivial_per_s": round(trivial_ps, 1),
        "hub_per_s": round(hub_ps, 1),
        "each_round_per_s": each,
        "server_cpu_ms_per_alert_median": {
            k: round(statistics.median(v), 2) if v else None for k, v in cpu.items()
        },
        "ratio": round(ratio, 3),
        "pass": ratio >= MIN_THROUGHPUT_RATIO,
    }


async def sustained(
    hub: HubProcess, p: Payloads, duration: float, interval: float, db_cpu: Callable[[], float] | None
) -> dict[str, Any]:
    """50 alerts/s and every node's heartbeat each ``interval`` s, together, for ``duration`` s."""
    loop = asyncio.get_running_loop()
    nodes = len(p.by_node)
    hb_rate = nodes / interval
    ac, hc = RawClient(hub.url), RawClient(hub.url)
    await ac.prime(16)
    await hc.prime(16)
    # every node's first heartbeat (creates its camera rows), untimed, at twice the steady rate
    first = await paced(hc, 2 * hb_rate, nodes / (2 * hb_rate), heartbeat_request(p, ""), loop.time() + 0.05)
    s0, d0, t0 = server_cpu(hub.proc), db_cpu() if db_cpu else 0.0, time.monotonic()
    start = loop.time() + 0.1
    alerts, beats = await asyncio.gather(
        paced(ac, ALERTS_PER_S, duration, alert_request(p, ""), start),
        paced(hc, hb_rate, duration, heartbeat_request(p, ""), start),
    )
    wall = time.monotonic() - t0
    await ac.aclose()
    await hc.aclose()
    a = figures(alerts, duration)
    out = {
        "duration_s": duration,
        "wall_s": round(wall, 1),
        "alerts_offered_per_s": ALERTS_PER_S,
        "nodes": nodes,
        "cameras": len(p.cameras),
        "heartbeat_every_s": interval,
        "heartbeats_offered_per_s": round(hb_rate, 1),
        "first_heartbeats": figures(first, nodes / (2 * hb_rate)),
        "alerts": a,
        "heartbeats": figures(beats, duration),
        "hub_cpu_share_of_a_core": round((server_cpu(hub.proc) - s0) / wall, 3),
    }
    if db_cpu is not None:
        out["postgres_cpu_share_of_a_core"] = round((db_cpu() - d0) / wall, 3)
    out["pass"] = a["errors"] == 0 and a["p99_ms"] < MAX_P99_MS
    return out


async def gate(
    db_kind: str,
    db_url: str,
    town: Path,
    p: Payloads,
    args: argparse.Namespace,
    db_cpu: Callable[[], float] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"database": db_kind, "workers": args.workers}
    with HubProcess(db_url=db_url, config=town, workers=args.workers, start_timeout_s=300) as hub:
        with TrivialServer(args.workers) as trivial:
            # first alerts of a fresh server are slow (imports, caches): not part of either figure
            await closed_loop(RawClient(trivial.url), 4, 1.0, alert_request(p, ""))
            await closed_loop(RawClient(hub.url), 4, 1.0, alert_request(p, ""))
            out["throughput"] = await throughput(
                hub, trivial, p, args.rounds, args.throughput_s, args.concurrency
            )
        out["sustained"] = await sustained(hub, p, args.duration, args.heartbeat_every_s, db_cpu)
        out["hub_log_tail"] = hub.log()[-600:]
    return out


def report(res: dict[str, Any]) -> None:
    m = res["machine"]
    print_table(
        f"Gate 1: alert throughput, hub / trivial app ({m['cpu_model']}, {m['cores']} cores, "
        f"load {m['load_avg_1_5_15']}, {m['date_utc']})",
        [
            ("setup", "trivial /s", "hub /s", "ratio", ">= 0.5"),
            *[
                (
                    f"{r['database']} x{r['workers']}",
                    str(r["throughput"]["trivial_per_s"]),
                    str(r["throughput"]["hub_per_s"]),
                    str(r["throughput"]["ratio"]),
                    "PASS" if r["throughput"]["pass"] else "FAIL",
                )
                for r in res["runs"]
            ],
        ],
    )
    rows = [
        ("setup", "what", "offered /s", "sent", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms", "< 100")
    ]
    for r in res["runs"]:
        s = r["sustained"]
        for what, f, rate in (
            ("alerts", s["alerts"], s["alerts_offered_per_s"]),
            ("heartbeats", s["heartbeats"], s["heartbeats_offered_per_s"]),
        ):
            verdict = ("PASS" if s["pass"] else "FAIL") if what == "alerts" else "-"
            rows.append(
                (
                    f"{r['database']} x{r['workers']}",
                    what,
                    str(rate),
                    str(f["sent"]),
                    str(f["errors"]),
                    str(f["p50_ms"]),
                    str(f["p95_ms"]),
                    str(f["p99_ms"]),
                    str(f["max_ms"]),
                    verdict,
                )
            )
    print_table(
        f"Gate 2: {res['duration_s']:.0f} s of 50 alerts/s with {res['cameras']} cameras' heartbeats", rows
    )
    for f in res.get("failed", []):
        print(f"  FAILED TO RUN: {f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=300.0, help="seconds of the steady load (gate 2)")
    ap.add_argument("--only", choices=["sqlite", "postgres"], action="append", help="one database only")
    ap.add_argument("--workers", type=int, default=1, help="uvicorn workers, hub and trivial app alike")
    ap.add_argument("--nodes", type=int, default=500, help="edge nodes of 20 cameras (500: 10,000 cameras)")
    ap.add_argument("--heartbeat-every-s", type=float, default=COUNTY_HEARTBEAT_S)
    ap.add_argument("--rounds", type=int, default=3, help="throughput rounds per side")
    ap.add_argument("--throughput-s", type=float, default=5.0, help="seconds of each throughput round")
    ap.add_argument("--concurrency", type=int, default=32, help="closed-loop clients in a throughput round")
    ap.add_argument(
        "--json", type=Path, default=None, help="where the JSON goes (bench/results/hub_gate.json)"
    )
    ap.add_argument("--check", action="store_true", help="exit 1 when a gate fails or a setup fails to run")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    only = args.only or ["sqlite", "postgres"]
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-gate-"))
    town = tmp / "county.yaml"
    p = Payloads(town, write_town(town, args.nodes, heartbeat_every_s=args.heartbeat_every_s))
    res: dict[str, Any] = {
        "machine": machine(),
        "command": command_line(),
        "duration_s": args.duration,
        "cameras": len(p.cameras),
        "gates": {"throughput_ratio_min": MIN_THROUGHPUT_RATIO, "alert_p99_ms_max": MAX_P99_MS},
        "runs": [],
    }
    t0 = time.monotonic()

    async def guarded(what: str, run: Any) -> None:
        try:
            res["runs"].append(await run)
        except Exception as exc:  # one setup that fails to run is reported; the other still runs
            logging.exception("%s failed", what)
            res.setdefault("failed", []).append(f"{what}: {type(exc).__name__}: {str(exc)[:2000]}")

    async def go() -> None:
        if "sqlite" in only:
            await guarded("sqlite", gate("sqlite", f"sqlite:///{tmp / 'hub.db'}", town, p, args))
        if "postgres" in only:
            pg = start_postgres()
            if pg is None:
                res.setdefault("failed", []).append("postgres: no PostgreSQL binaries")
                return
            try:
                await guarded(
                    "postgres",
                    gate(
                        "postgres",
                        pg.create_database(),
                        town,
                        p,
                        args,
                        db_cpu=lambda: postgres_cpu_seconds(pg),
                    ),
                )
            finally:
                pg.stop()

    asyncio.run(go())
    res["machine_after"] = machine()
    res["elapsed_s"] = round(time.monotonic() - t0, 1)
    res["pass"] = not res.get("failed") and all(
        r["throughput"]["pass"] and r["sustained"]["pass"] for r in res["runs"]
    )
    report(res)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(__import__("json").dumps(res, indent=2, ensure_ascii=False) + "\n")
        path = args.json
    else:
        path = write_result("hub_gate", res)
    print(f"\n  all gates: {'PASS' if res['pass'] else 'FAIL'}; results: {path}")
    return 1 if args.check and not res["pass"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
