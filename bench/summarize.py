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
    rows = []
    names = {
        "worker": "gridwatch worker, defaults (key frame 2 s, 1 fps)",
        "worker_gop1": "gridwatch worker, key frame 1 s, 1 fps",
        "worker_half_fps": "gridwatch worker, key frame 2 s, 0.5 fps",
    }
    for key, name in names.items():
        for suffix, what in (("_calibration", "calibration"), ("", "pinned check")):
            r = res.get(key + suffix)
            if r is None or (suffix == "" and r is res.get(key + "_calibration")):
                continue
            rows.append(
                [
                    name,
                    what,
                    r["streams"],
                    f"{r['cpu_per_camera_s'] * 1000:.1f}",
                    f"{1 / r['cpu_per_camera_s']:.1f}",
                    f"{r['analysed_frames'] / r['cpu_s']:.1f}",
                    f"{r['keep_up']:.3f}",
                    f"{r['video_speed_min']}",
                    f"{r['core_busy']:.2f}",
                    r["slot_dropped"],
                    r["keyframes_only"],
                ]
            )
    b = res["baseline"]
    rows.append(
        [
            "naive: cv2.VideoCapture every frame + MOG2 on 720p",
            "serial, unpaced",
            b["streams"],
            f"{b['cpu_per_camera_s'] * 1000:.1f}",
            f"{1 / b['cpu_per_camera_s']:.2f}",
            f"{b['frames_per_cpu_s']:.1f} (all frames)",
            "-",
            "-",
            "-",
            "-",
            "-",
        ]
    )
    t = table(
        [
            "pipeline",
            "run",
            "cameras",
            "CPU ms per camera-s",
            "cameras per core",
            "analysed frames per CPU-s",
            "keep-up",
            "min video speed",
            "core busy",
            "frames dropped",
            "key frames only",
        ],
        rows,
    )
    d, p, s = res["decode"], res["pipeline"], res["summary"]
    t += (
        f"\n\nRatio (gridwatch defaults / naive, cameras per core): **{s['ratio_cameras_per_core']}x**."
        f"\n\nWhere the CPU goes: PyAV decoding every frame {d['all_frames']['ms_per_frame']:.2f} ms per "
        f"frame = {d['all_frames']['cpu_per_camera_s'] * 1000:.1f} ms per camera-second at 25 fps; key "
        f"frames only (GOP 2 s) {d['key_frames']['cpu_per_camera_s'] * 1000:.1f} ms per camera-second; "
        f"CameraPipeline.process {p['ms_per_frame']:.2f} ms per analysed {p['analysis_width']}-px frame."
    )
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
