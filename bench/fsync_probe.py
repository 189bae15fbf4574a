"""How long this machine's disk takes to make a small write durable: the floor under every answer
the hub gives to an alert (it answers after the batch's files and rows are fsynced).

Writes 16 kB and fsyncs it, every 5 ms, for ``--seconds`` (default 30), in a folder on the file system
to test (default: the system's temporary folder, where the hub benchmarks keep their databases and
media); prints p50 / p99 / p99.9 / max and how many fsyncs took over 50 and 100 ms. One fsync stalled
for a few hundred milliseconds holds every alert of a 500/s burst that waits behind it.

    .venv/bin/python bench/fsync_probe.py [--seconds 30] [--dir /var/lib/gridwatch]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import machine, percentile, write_result


def probe(folder: Path, seconds: float) -> list[float]:
    """Milliseconds per write+fsync of 16 kB, one every 5 ms."""
    fd, name = tempfile.mkstemp(prefix="gw-fsync-", dir=folder)
    latencies: list[float] = []
    try:
        end = time.monotonic() + seconds
        while time.monotonic() < end:
            os.write(fd, b"x" * 16384)
            t0 = time.perf_counter()
            os.fsync(fd)
            latencies.append((time.perf_counter() - t0) * 1000)
            time.sleep(0.005)
    finally:
        os.close(fd)
        os.unlink(name)
    return latencies


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--seconds", type=float, default=30.0)
    p.add_argument("--dir", type=Path, default=Path(tempfile.gettempdir()), help="folder on the disk to test")
    args = p.parse_args()
    before = machine()
    lat = probe(args.dir, args.seconds)
    res = {
        "machine": before, "dir": str(args.dir), "seconds": args.seconds, "fsyncs": len(lat),
        "p50_ms": round(percentile(lat, 50), 3), "p99_ms": round(percentile(lat, 99), 3),
        "p999_ms": round(percentile(lat, 99.9), 3), "max_ms": round(max(lat), 1),
        "over_50_ms": sum(x > 50 for x in lat), "over_100_ms": sum(x > 100 for x in lat),
    }
    path = write_result("fsync_probe", res)
    print(f"fsync of 16 kB in {args.dir} ({before['cpu_model']}, load {before['load_avg_1_5_15']}): "
          f"{len(lat)} fsyncs, p50 {res['p50_ms']} ms, p99 {res['p99_ms']} ms, p99.9 {res['p999_ms']} ms, "
          f"max {res['max_ms']} ms; over 50 ms: {res['over_50_ms']}, over 100 ms: {res['over_100_ms']}")
    print(f"  results: {path.relative_to(Path(__file__).resolve().parents[1])}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
