"""``bench/edge_cost.py``'s summary and table: every figure as a ratio to others of the same command."""

from __future__ import annotations

from typing import Any

from bench._common import print_table

LABELS = {
    "fixed_busy": "fixed rate 1 fps, busy scene",
    "fixed_quiet": "fixed rate 1 fps, quiet scene",
    "adaptive_busy": "adaptive, busy scene",
    "adaptive_quiet": "adaptive, quiet scene",
    "adaptive_busy_sub": "adaptive, busy, 720p main + 360p sub",
    "adaptive_quiet_sub": "adaptive, quiet, 720p main + 360p sub",
    "floor_quiet": "floor worker: key frames only, no analysis, quiet",
}


def per_core(r: dict[str, Any]) -> float:
    return 1.0 / r["cpu_per_camera_s"]


def summarize(res: dict[str, Any]) -> dict[str, Any]:
    """Cameras per core of every run, and the ratios the issue's targets name."""
    d = res["decode"]
    floor = {k[len("key_frames_"):]: 1.0 / v["cpu_per_camera_s"] for k, v in d.items()
             if k.startswith("key_frames_") and not k.startswith("key_frames_converted")}
    out: dict[str, Any] = {
        "floor_key_frames_decode_cameras_per_core": {k: round(v, 1) for k, v in floor.items()},
        "naive_cameras_per_core": round(per_core(res["baseline"]), 2)}
    for key in LABELS:
        if key in res:
            out[f"{key}_cameras_per_core"] = round(per_core(res[key]), 1)
            out[f"{key}_rss_per_camera_mb"] = res[key]["rss_per_camera_mb"]
    if "adaptive_quiet" in res:
        q = per_core(res["adaptive_quiet"])
        out["quiet_vs_floor_decode"] = round(q / floor["quiet_720"], 3)
        if "key_frames_converted_quiet_720" in d:
            conv = 1.0 / d["key_frames_converted_quiet_720"]["cpu_per_camera_s"]
            out["floor_with_conversion_cameras_per_core"] = round(conv, 1)
            out["quiet_vs_floor_with_conversion"] = round(q / conv, 3)
        if "floor_quiet" in res:
            out["quiet_vs_floor_worker"] = round(q / per_core(res["floor_quiet"]), 3)
        if "fixed_quiet" in res:
            out["quiet_adaptive_vs_fixed"] = round(q / per_core(res["fixed_quiet"]), 2)
    if "adaptive_quiet_sub" in res:
        sub = per_core(res["adaptive_quiet_sub"])
        out["quiet_sub_vs_floor_decode_720"] = round(sub / floor["quiet_720"], 3)
        out["quiet_sub_vs_floor_decode_360"] = round(sub / floor["quiet_360"], 3)
    for key in ("fixed_busy", "adaptive_busy", "adaptive_busy_sub", "adaptive_quiet"):
        if key in res:
            out[f"{key}_vs_naive"] = round(per_core(res[key]) / per_core(res["baseline"]), 1)
    for key in ("adaptive_quiet_box", "adaptive_quiet_box_threads"):
        if key in res:
            b = res[key]
            out[key] = {"cores": len(b["cores"]), "cameras": b["streams"],
                        "analysis_processes": b.get("analysis_processes", 0),
                        "video_speed_min": b["video_speed_min"], "cpu_cores_busy": b["core_busy"],
                        "cameras_per_box_by_cpu": round(len(b["cores"]) * per_core(b), 1),
                        "rss_total_mb": b.get("rss_total_mb")}
    return out


def print_report(res: dict[str, Any]) -> None:
    s = res["summary"]
    rows = [("run", "cores", "cams", "cpu ms/cam-s", "cams/core", "decoded/cam-s", "analysed/cam-s",
             "quiet at end", "min video speed", "RSS MB/cam")]
    for key, label in LABELS.items():
        for suffix, what in (("", "calib."), ("_check", "check"), ("_box", "all cores, processes"),
                             ("_box_threads", "all cores, threads")):
            r = res.get(key + suffix)
            if r is None or (suffix == "" and key + "_calibration" not in res):
                continue
            box = suffix.startswith("_box")
            cams = f"{per_core(r) * len(r['cores']):.1f} /box" if box else f"{per_core(r):.1f}"
            rows.append((f"{label} ({what})", str(len(r["cores"])), str(r["streams"]),
                         f"{r['cpu_per_camera_s'] * 1000:.1f}", cams,
                         f"{r['decoded_per_camera_s']:.2f}", f"{r['analysed_per_camera_s']:.2f}",
                         f"{r['quiet_cameras_at_end']}/{r['streams']}", f"{r['video_speed_min']}",
                         f"{r['rss_per_camera_mb']:.1f}"))
    b = res["baseline"]
    rows.append(("naive VideoCapture + MOG2 (serial)", "1", str(b["streams"]),
                 f"{b['cpu_per_camera_s'] * 1000:.1f}", f"{per_core(b):.2f}", "25", "25", "-", "-", "-"))
    for k, v in res["decode"].items():
        if k.startswith("key_frames_"):
            what = (f"{k[11:]}p" if not k.startswith("key_frames_converted")
                    else f"{k[21:]}p, each converted to the analysis size")
            rows.append((f"floor: key-frame-only decoding, {what}, one stream unpaced", "1", "1",
                         f"{v['cpu_per_camera_s'] * 1000:.2f}", f"{1 / v['cpu_per_camera_s']:.1f}",
                         f"{v['decoded_per_camera_s']:.2f}", "-", "-", "-", "-"))
    m = res["machine"]
    print_table(f"Edge cost ({m['cpu_model']}, {m['cores']} cores, load {m['load_avg_1_5_15']}, "
                f"{m['date_utc']})", rows)
    print()
    for k, v in s.items():
        print(f"  {k}: {v}")
