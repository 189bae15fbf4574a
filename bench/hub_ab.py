"""A/B of the hub's intake: the same 500 alerts/s burst (or heartbeats) on two checkouts, alternately.

Burst latency on this shared machine moves by a factor of two from one minute to the next, so a
change is judged by runs of both versions interleaved in one command, and by CPU: the hub's CPU per
alert (every thread of uvicorn's process and, with several workers, of each worker), the whole
machine's (hub, client, database), and, where ``py-spy`` is installed, the split by thread name
(event loop, alert writer, ...; summed over the workers), read from ``/proc`` and named with
``py-spy dump``. The burst is ``bench/hub_cost.py``'s: open loop, the sample town's 280
cameras, 840 alerts opening incidents and work orders, then merges.

    git worktree add /tmp/gw-before <commit>
    .venv/bin/python bench/hub_ab.py --before /tmp/gw-before [--pairs 5] [--postgres] [--workers 2]
    .venv/bin/python bench/hub_ab.py --before . --before-workers 1 --after-workers 2   # one vs two processes
    .venv/bin/python bench/hub_ab.py --before /tmp/gw-before --heartbeats   # 10,000 cameras' heartbeats
    .venv/bin/python bench/hub_ab.py --before /tmp/gw-before --consoles 50  # the burst, 50 consoles following

``--heartbeats``: instead of the burst, ``hub_cost.py``'s heartbeats of a 10,000-camera county (500
nodes of 20 cameras, each every 10 s: 50 heartbeats/s) for 10 s.

``--consoles N``: N dispatch consoles follow the live feed (from its start) through the burst; the
run also reports the fewest and most events a console got by 3 s after it (each should get all).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine, percentile, print_table, start_postgres, write_result
from bench._load import RawClient, scheduled, warm
from bench._payloads import Payloads, alert_request, heartbeat_request, write_town
from tests.support.hub import REPO, HubProcess, make_token

TICK = os.sysconf("SC_CLK_TCK")


def machine_cpu_s() -> float:
    """CPU seconds spent by everything on the machine so far (not idle, not waiting for I/O)."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (sum(v) - v[3] - v[4]) / TICK


def tasks_cpu_s(pid: int) -> dict[str, float]:
    """CPU seconds by thread id of one process."""
    out = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except FileNotFoundError:  # ended meanwhile
            continue
        out[tid] = (int(fields[11]) + int(fields[12])) / TICK
    return out


def hub_pids(pid: int) -> list[int]:
    """The hub's processes: uvicorn's own and, with several workers, each worker."""
    return [pid, *(c.pid for c in psutil.Process(pid).children(recursive=True))]


def all_tasks_cpu_s(pids: list[int]) -> dict[tuple[int, str], float]:
    """CPU seconds by (process, thread id) of several processes."""
    return {(pid, tid): cpu for pid in pids for tid, cpu in tasks_cpu_s(pid).items()}


def thread_names(pid: int) -> dict[str, str]:
    """Thread id -> Python thread name, where py-spy is installed (else empty)."""
    spy = shutil.which("py-spy") or shutil.which("py-spy", path=str(Path(sys.executable).parent))
    if spy is None:
        return {}
    dump = subprocess.run([spy, "dump", "--pid", str(pid)], capture_output=True, text=True).stdout
    return dict(re.findall(r"Thread (\d+) \(\w+\): \"([^\"]+)\"", dump))


async def follow_feed(url: str, token: str, counts: list[int], k: int, client: httpx.AsyncClient) -> None:
    """A dispatch console: follows the feed from its start, counting the events it gets."""
    async with client.stream("GET", url + "/api/v1/feed", headers={"Authorization": f"Bearer {token}"}) as r:
        async for line in r.aiter_lines():
            if line.startswith("event: "):
                counts[k] += 1


async def burst(repo: Path, db_url: str, workers: int, rate: float, seconds: float,
                tmp: Path, heartbeats: bool = False, consoles: int = 0) -> dict[str, Any]:
    town = tmp / "town.yaml"
    p = Payloads(town, write_town(town, 500 if heartbeats else None))
    desk = make_token(db_url, "dispatcher") if consoles else ""
    counts = [0] * consoles
    with HubProcess(db_url=db_url, config=town, workers=workers, start_timeout_s=300, repo=repo) as hub:
        assert hub.proc is not None
        c = RawClient(hub.url)
        request = heartbeat_request(p, hub.url) if heartbeats else alert_request(p, hub.url)
        await warm(c, request, 20 if heartbeats else 30)
        async with httpx.AsyncClient(timeout=120, limits=httpx.Limits(max_connections=consoles + 5)) as hc:
            followers = [asyncio.create_task(follow_feed(hub.url, desk, counts, k, hc))
                         for k in range(consoles)]
            if consoles:
                await asyncio.sleep(2.0)  # connected and caught up with the warm-up's events
            pids = hub_pids(hub.proc.pid)
            names = {(pid, tid): name for pid in pids for tid, name in thread_names(pid).items()}
            before, m0 = all_tasks_cpu_s(pids), machine_cpu_s()
            rec, _ = await scheduled(c, rate, seconds, request)
            after, m1 = all_tasks_cpu_s(pids), machine_cpu_s()
            if consoles:
                await asyncio.sleep(3.0)
            for task in followers:
                task.cancel()
            await asyncio.gather(*followers, return_exceptions=True)
        await c.aclose()
    n, lat = len(rec), [r[1] for r in rec]
    split: dict[str, float] = {}
    for key, cpu in after.items():
        name = re.sub(r"_\d+$", "", names.get(key, "other threads"))
        split[name] = split.get(name, 0.0) + cpu - before.get(key, 0.0)
    return {
        "p50_ms": round(percentile(lat, 50) * 1000, 1), "p99_ms": round(percentile(lat, 99) * 1000, 1),
        "max_ms": round(max(lat) * 1000, 1),
        "errors": sum(1 for r in rec if r[2] >= 300),
        # all hub processes together (with several workers: uvicorn's parent and each worker)
        "hub_cpu_ms_per_alert": round(sum(split.values()) / n * 1000, 3),
        "machine_cpu_ms_per_alert": round((m1 - m0) / n * 1000, 3),
        "threads_ms_per_alert": {k: round(v / n * 1000, 3) for k, v in sorted(split.items()) if v > 0.005},
    } | ({"consoles": consoles, "events_per_console": [min(counts), max(counts)]} if consoles else {})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--before", type=Path, required=True, help="checkout of the version to compare with")
    ap.add_argument("--after", type=Path, default=REPO, help="checkout of the new version (this one)")
    ap.add_argument("--pairs", type=int, default=5, help="bursts of each version, interleaved")
    ap.add_argument("--rate", type=float, help="requests per second (default 500; 50 with --heartbeats)")
    ap.add_argument("--seconds", type=float, help="how long (default 4 s; 10 s with --heartbeats)")
    ap.add_argument("--heartbeats", action="store_true", help="heartbeats of 10,000 cameras, not alerts")
    ap.add_argument("--postgres", action="store_true", help="on a PostgreSQL started here (else SQLite)")
    ap.add_argument("--workers", type=int, default=1, help="hub processes of both versions")
    ap.add_argument("--before-workers", type=int, help="processes, 'before' (default --workers)")
    ap.add_argument("--after-workers", type=int, help="processes, 'after' (default --workers)")
    ap.add_argument("--consoles", type=int, default=0, help="consoles following the feed meanwhile")
    args = ap.parse_args()
    args.rate = args.rate or (50.0 if args.heartbeats else 500.0)
    args.seconds = args.seconds or (10.0 if args.heartbeats else 4.0)
    pg = None
    if args.postgres:
        pg = start_postgres()
        if pg is None:
            print("no PostgreSQL binaries", file=sys.stderr)
            return 2
    runs: list[dict[str, Any]] = []
    try:
        for k in range(args.pairs):
            versions = (("before", args.before.resolve(), args.before_workers or args.workers),
                        ("after", args.after.resolve(), args.after_workers or args.workers))
            for label, repo, workers in versions:
                with tempfile.TemporaryDirectory() as tmp:
                    db = pg.create_database() if pg else f"sqlite:///{Path(tmp) / 'hub.db'}"
                    r = asyncio.run(burst(repo, db, workers, args.rate, args.seconds, Path(tmp),
                                          args.heartbeats, args.consoles))
                r |= {"version": label, "workers": workers, "pair": k + 1,
                      "load_avg_1": round(os.getloadavg()[0], 2)}
                runs.append(r)
                print(f"pair {k + 1} {label:6}: p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, "
                      f"max {r['max_ms']} ms, machine {r['machine_cpu_ms_per_alert']} ms/request, "
                      f"{r['threads_ms_per_alert']}"
                      + (f", events per console {r['events_per_console']}" if args.consoles else ""),
                      flush=True)
    finally:
        if pg is not None:
            pg.stop()
    rows = [("version", "p50 ms (each run)", "p99 ms (each run)", "hub CPU ms/request",
             "machine CPU ms/request")]
    for label in ("before", "after"):
        mine = [r for r in runs if r["version"] == label]
        def each(key: str, runs_: list[dict[str, Any]] = mine) -> str:
            return ", ".join(str(r[key]) for r in runs_)
        rows.append((label, each("p50_ms"), each("p99_ms"), each("hub_cpu_ms_per_alert"),
                     each("machine_cpu_ms_per_alert")))
    db_name = "PostgreSQL" if pg else "SQLite"
    what = "heartbeats" if args.heartbeats else "alerts"
    following = f", {args.consoles} consoles following the feed" if args.consoles else ""
    print_table(f"Hub A/B, {args.rate:g} {what}/s for {args.seconds:g} s, {db_name}, "
                f"hub processes {runs[0]['workers']} (before) / {runs[1]['workers']} (after)"
                f"{following}", rows)
    path = write_result("hub_ab", {"machine": machine(), "args": {k: str(v) for k, v in vars(args).items()},
                                   "runs": runs})
    print(f"\n  results: {path.relative_to(REPO)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
