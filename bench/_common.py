"""What every benchmark shares: the machine description, CPU clocks, percentiles, result files.

Benchmarks print a table for people and write the same figures as JSON (bench/results/<name>.json)
for anyone who wants to compare runs. Each figure is measured together with its baseline in the same
command, so a ratio stays meaningful on a busy machine even when absolute numbers move.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import resource
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.postgres import PostgresServer

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"
DATA = ROOT / "data" / "bench"

if str(ROOT) not in sys.path:  # scripts run as `python bench/x.py`: make the packages importable
    sys.path.insert(0, str(ROOT))


def cpu_seconds() -> float:
    """User + system CPU seconds of this process (all its threads) so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def children_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def machine() -> dict[str, Any]:
    """CPU model, cores, memory, load and time, for the record next to every figure."""
    model = platform.processor() or "?"
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout.splitlines():
            if line.startswith("Model name:"):
                model = line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    mem_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu_model": model,
        "cores": os.cpu_count(),
        "memory_gib": round(mem_gb, 1),
        "load_avg_1_5_15": [round(x, 2) for x in os.getloadavg()],
        "python": platform.python_version(),
        "date_utc": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100); NaN for no values."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[k]


def print_best(runs: list[dict[str, float]], unit: str) -> dict[str, float]:
    """Each figure's best (lowest) of several runs, printed with all of them; returned."""
    best = {k: min(r[k] for r in runs) for k in runs[0]}
    for k, v in best.items():
        each = ", ".join(f"{r[k]:.3f}" for r in runs)
        print(f"{k:>10}: {v:.3f} ms {unit} (best of {len(runs)}; all: {each})")
    return best


def write_result(name: str, result: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def print_table(title: str, rows: list[tuple[str, ...]]) -> None:
    """A plain aligned table (first row is the header)."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    print(f"\n{title}")
    for n, row in enumerate(rows):
        print("  " + "  ".join(cell.ljust(w) if i == 0 else cell.rjust(w) for i, (cell, w) in
                               enumerate(zip(row, widths, strict=True))))
        if n == 0:
            print("  " + "  ".join("-" * w for w in widths))


def command_line() -> str:
    return " ".join([".venv/bin/python", *[a if " " not in a else repr(a) for a in sys.argv]])


def postgres_cpu_seconds(pg: PostgresServer) -> float:
    """CPU seconds of a PostgreSQL server so far: the postmaster and its backends (a backend that
    exits takes its time with it, so measure over connections that stay open, as a pool's do)."""
    import psutil

    main = psutil.Process(int((pg.data / "postmaster.pid").read_text().split()[0]))
    total = sum(main.cpu_times()[:2])
    for child in main.children():
        with contextlib.suppress(psutil.NoSuchProcess):
            total += sum(child.cpu_times()[:2])
    return total


def start_postgres() -> PostgresServer | None:
    """A throwaway PostgreSQL server started here, as the tests start it (``tests.support.postgres``;
    ``stop()`` when done), or None where its binaries are missing."""
    from tests.support.postgres import PostgresServer, find_pg_bin

    bin_dir = find_pg_bin()
    if bin_dir is None:
        return None
    pg = PostgresServer(bin_dir)
    pg.start()
    return pg
