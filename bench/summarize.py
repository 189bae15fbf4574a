"""Markdown tables from bench/results/*.json, for BENCHMARKS.md (so figures are copied, not retyped).

.venv/bin/python bench/summarize.py
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

RESULTS = Path(__file__).resolve().parent / "results"


def load(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else None


def table(header: list[str], rows: list[list[Any]]) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(out)


def edge(res: dict[str, Any]) -> str:
    """The edge-cost run (bench/edge_cost.py): one row per worker run, the floors and the baseline."""
    sys.path.insert(0, str(RESULTS.parents[1]))
    from bench._edge_report import LABELS, per_core

    rows = []
    for key, name in LABELS.items():
        for suffix, what in (("", "calibration"), ("_check", "check"), ("_box", "all cores")):
            r = res.get(key + suffix)
            if r is None:
                continue
            n = len(r["cores"])
            cams = f"{per_core(r):.1f}" if suffix != "_box" else f"{per_core(r) * n:.1f} per box"
            rows.append([name, what, n, r["streams"], f"{r['cpu_per_camera_s'] * 1000:.1f}", cams,
                         f"{r['decoded_per_camera_s']:.2f}", f"{r['analysed_per_camera_s']:.2f}",
                         f"{r['video_speed_min']}", f"{r['rss_per_camera_mb']:.1f}"])
    b = res["baseline"]
    rows.append(["naive: cv2.VideoCapture every frame + MOG2 on 720p", "serial, unpaced", 1, b["streams"],
                 f"{b['cpu_per_camera_s'] * 1000:.1f}", f"{per_core(b):.2f}", "25", "25", "-", "-"])
    for k, v in res["decode"].items():
        if k.startswith("key_frames_"):
            what = k[len("key_frames_"):]
            rows.append([f"floor: key-frame-only decoding ({what})", "one stream unpaced", 1, 1,
                         f"{v['cpu_per_camera_s'] * 1000:.2f}", f"{1 / v['cpu_per_camera_s']:.1f}",
                         f"{v['decoded_per_camera_s']:.2f}", "-", "-", "-"])
    t = table(["run", "kind", "cores", "cameras", "CPU ms per camera-s", "cameras per core",
               "decoded per camera-s", "analysed per camera-s", "min video speed", "RSS MB per camera"], rows)
    t += "\n\n" + "; ".join(f"{k}: {v}" for k, v in res["summary"].items())
    return t


def hub(res: dict[str, Any]) -> str:
    rows = []
    for run in res["runs"]:
        name = f"{run['database']} x{run['workers']}"
        for key, what in (
            ("alert_rate_25", "alerts, 25/s open loop"),
            ("alert_rate_50", "alerts, 50/s open loop"),
            ("alert_rate_100", "alerts, 100/s open loop"),
            ("alert_burst_500", "alerts, 500/s open loop"),
            ("alert_max", "alerts, 32 clients"),
            ("heartbeats_280", "heartbeats, 280 cameras (1.4/s)"),
            ("heartbeats_10000", "heartbeats, 10,000 cameras (50/s)"),
        ):
            r = run.get(key)
            if r:
                rows.append(
                    [
                        name,
                        what,
                        r["ok"],
                        r["errors"],
                        r["throughput_per_s"],
                        r["p50_ms"],
                        r["p99_ms"],
                        r["max_ms"],
                        r.get("server_cpu_ms_per_request", "-"),
                    ]
                )
    t = table(
        [
            "server",
            "load",
            "ok",
            "errors",
            "done per s",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server CPU ms per request",
        ],
        rows,
    )
    rows = []
    for run in res["runs"]:
        f = run.get("feed_fan_out_50")
        if f:
            rows.append(
                [
                    f"{run['database']} x{run['workers']}",
                    f["consoles"],
                    f["alerts"],
                    f["missing_deliveries"],
                    f["all_consoles_p50_ms"],
                    f["all_consoles_max_ms"],
                    f["per_console_p50_ms"],
                    f["per_console_p99_ms"],
                ]
            )
    t += "\n\n" + table(
        [
            "server",
            "consoles",
            "alerts",
            "missing",
            "all consoles p50 ms",
            "all consoles max ms",
            "per console p50 ms",
            "per console p99 ms",
        ],
        rows,
    )
    ratios = [
        f"{r['database']} x{r['workers']}: {r['ratio_alert_throughput_vs_trivial']}"
        for r in res["runs"]
        if "ratio_alert_throughput_vs_trivial" in r
    ]
    if ratios:
        t += "\n\nAlert throughput / trivial app's (same server, same workers): " + "; ".join(ratios) + "."
    if res.get("failed"):
        t += "\n\nFailed runs: " + "; ".join(x[:300] for x in res["failed"])
    return t


def e2e(res: dict[str, Any]) -> str:
    return table(
        ["events", "median s", "worst s", "median detect s", "median deliver s", "worst deliver s"],
        [
            [
                res["n"],
                res["median_s"],
                res["worst_s"],
                res["median_detect_s"],
                res["median_deliver_s"],
                res["worst_deliver_s"],
            ]
        ],
    )


def main() -> int:
    for name, fn in (("edge_cost", edge), ("hub_cost", hub), ("e2e_latency", e2e)):
        res = load(name)
        if res is None:
            continue
        m = res["machine"]
        print(
            f"\n## {name}\n\n`{res['command']}` — {m['date_utc']}, load average {m['load_avg_1_5_15']}"
            f" (after: {res.get('machine_after', {}).get('load_avg_1_5_15')})\n"
        )
        print(fn(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
