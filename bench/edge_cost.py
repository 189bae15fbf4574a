"""Edge cost: what one core of an edge box buys, against the obvious naive pipeline run beside it.

Streams: 720p H.264, 25 fps, a key frame every 2 s, ~2 Mbit/s, made once with ffmpeg from the real
outdoor footage (data/footage/vtest.avi: people walking over a road crossing, replayed 2.5x fast so
there is plenty of motion, with sensor-like noise) into data/bench/. Four variants (as is, mirrored,
two crops) so cameras do not all show the same picture (bench/_edge_streams.py). The full run also
measures, each against the same calibration: the decoder without deblocking, key frames every 1 s,
analysis at 0.5 frame/s, and the cameras' 360p sub-stream (640x360, 0.5 Mbit/s, key frame 2 s).

Each measurement runs in a fresh child process pinned to ONE core (os.sched_setaffinity), in its own
session with its scheduler autogroup at nice -10 (so on a shared machine it gets that core):
- ``worker``: the real edge worker (edge.worker.EdgeWorker: a PyAV StreamReader thread per camera,
  files played at real time as a camera would, the analysis loop with CameraPipeline and the ONNX
  models, clips ring, outbox, heartbeats; delivery pointed at a closed port) on N cameras at the
  town's default analysis rate. After a warm-up longer than the scene-learning period, CPU seconds
  (getrusage, all threads) and analysed frames are counted over a measured window. Keeping up is
  checked, not assumed: analysed frames against N x window x analysis fps, and video time advanced
  against wall time.
- ``baseline``: cv2.VideoCapture decoding every frame + cv2.createBackgroundSubtractorMOG2 (defaults)
  on each full 720p frame, as fast as it goes; CPU seconds per second of video.
- ``decode``: PyAV decoding every frame / key frames only, alone (where the worker's CPU goes;
  bench/_edge_decode.py).
- ``pipeline``: CameraPipeline.process alone on 320-px frames at 1 fps (after its learning period).

With ``--hw-decode cuda`` (a box with an NVIDIA GPU) the worker also runs with the node's streams
decoded by the GPU's video engine (edge.hwdecode), calibration and pinned check, and the decode phase
adds the same decoding on the GPU, with the CPU time it still costs and how far the frames analysis
takes differ from the CPU decoder's.

Cameras per core = 1 / (CPU seconds per camera-second), i.e. what a fully busy core would carry.

    .venv/bin/python bench/edge_cost.py            # full run (~8 min)
    .venv/bin/python bench/edge_cost.py --quick    # short run to try it (~3 min)
    .venv/bin/python bench/edge_cost.py --no-variants --hw-decode cuda   # CPU against NVDEC decoding
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import ROOT, command_line, cpu_seconds, machine, print_table, write_result
from bench._edge_decode import phase_decode
from bench._edge_streams import STREAM_FPS, VARIANTS, clip_path, ensure_clips

AUTOGROUP_NICE = -10


def pin(core: int | None) -> dict[str, Any]:
    """Pin this process to one core and, on a shared machine, give it that core.

    The child runs in its own session, hence its own scheduler autogroup; raising that group's
    priority (root only) keeps other users' processes from taking most of the core, so "keeps up
    on one core" means one core. Reported in the results; without the right it runs at normal
    priority and says so.
    """
    if core is not None:
        os.sched_setaffinity(0, {core})
    try:
        Path("/proc/self/autogroup").write_text(str(AUTOGROUP_NICE))
        return {"autogroup_nice": AUTOGROUP_NICE}
    except OSError as exc:
        return {"autogroup_nice": None, "why": str(exc)}


# -- the measured children -----------------------------------------------------------------------


def phase_worker(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    from edge.worker import EdgeWorker
    from gridwatch.config import load_town
    from tests.support.net import free_port

    clips = [clip_path(v, args.gop, args.height) for v in VARIANTS]
    town = load_town(ROOT / "configs" / "yongshan").model_dump(mode="json")
    node = "edge-01"
    n = 0
    for cam in town["cameras"]:  # the first N cameras of the town, all moved onto one node
        if n < args.streams:
            cam["node"], cam["streams"] = node, {"main": str(clips[n % len(clips)]), "sub": None}
            n += 1
        else:
            cam["enabled"] = False
    if args.fps:
        town["detection"]["analysis_fps"] = args.fps
    if args.hw_decode:
        next(x for x in town["nodes"] if x["id"] == node)["hw_decode"] = {"device_type": args.hw_decode}
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-edge-"))
    dead_hub = f"http://127.0.0.1:{free_port()}"  # nothing listens: delivery backs off, as in an outage
    town["edge"] = {**town["edge"], "hub_url": dead_hub, "data_dir": str(tmp)}
    (tmp / "town.yaml").write_text(yaml.safe_dump(town, allow_unicode=True), encoding="utf-8")
    cfg = load_town(tmp / "town.yaml")
    worker = EdgeWorker(cfg, node, dead_hub, lambda: "bench", tmp / node)
    if args.fast_decode:  # the variant without the deblocking filter (not the default)
        from edge.decode import FAST_DECODER_OPTIONS

        for unit in worker.units:
            unit.reader.decoder_options = dict(FAST_DECODER_OPTIONS)
    fps = cfg.detection.analysis_fps

    def snap() -> dict[str, Any]:
        return {
            "cpu": cpu_seconds(), "wall": time.monotonic(),
            "analysed": [u.analysed for u in worker.units],
            "frames_in": [u.reader.stats.frames_in for u in worker.units],
            "video_t": [u.ring.latest_t for u in worker.units],
            "dropped": [u.reader.slot.dropped for u in worker.units],
        }

    c0 = cpu_seconds()
    worker.start()
    time.sleep(args.warmup)
    a = snap()
    time.sleep(args.seconds)
    b = snap()
    worker.stop()
    window = b["wall"] - a["wall"]
    cpu = b["cpu"] - a["cpu"]
    analysed = sum(b["analysed"]) - sum(a["analysed"])
    advanced = [tb - ta for ta, tb in zip(a["video_t"], b["video_t"], strict=True)
                if ta is not None and tb is not None]
    progress = [x / window for x in advanced]
    # Per camera-second of VIDEO analysed: if the process got less than it needed of the core, its
    # cameras fell behind real time and it did less work; normalising by video time keeps the cost
    # figure honest, and ``video_speed``/``keep_up`` say whether it kept up.
    video_s = sum(advanced) if advanced else args.streams * window
    return {
        "streams": args.streams, "analysis_fps": fps, "fast_decode": bool(args.fast_decode),
        "hw_decode": args.hw_decode or None, "height": args.height,
        "hw_decoding": all(u.reader.stats.hw_decoding for u in worker.units),
        "analysis_width": cfg.detection.analysis_width,
        "gop_s": args.gop, "warmup_s": args.warmup, "window_s": round(window, 2),
        "cpu_s": round(cpu, 3), "cpu_s_incl_startup": round(b["cpu"] - c0, 3),
        "core_busy": round(cpu / window, 3),
        "camera_video_s": round(video_s, 1),
        "cpu_per_camera_s": cpu / video_s,
        "analysed_frames": analysed,
        "analysed_expected": round(args.streams * window * fps, 1),
        "keep_up": round(analysed / (args.streams * window * fps), 3),
        "video_speed_min": round(min(progress), 3) if progress else None,
        "video_speed_median": round(sorted(progress)[len(progress) // 2], 3) if progress else None,
        "decoded_frames": sum(b["frames_in"]) - sum(a["frames_in"]),
        "keyframes_only": all(u.reader.stats.keyframes_only for u in worker.units),
        "slot_dropped": sum(b["dropped"]) - sum(a["dropped"]),
        "pipeline_errors": sum(u.pipeline_errors for u in worker.units),
    }


def phase_baseline(args: argparse.Namespace) -> dict[str, Any]:
    import cv2

    clips = [clip_path(v, args.gop) for v in VARIANTS]
    frames = 0
    c0, w0 = cpu_seconds(), time.monotonic()
    for i in range(args.streams):
        cap = cv2.VideoCapture(str(clips[i % len(clips)]))
        mog = cv2.createBackgroundSubtractorMOG2()
        for _ in range(round(args.seconds * STREAM_FPS)):
            ok, image = cap.read()
            if not ok:
                break
            mog.apply(image)
            frames += 1
        cap.release()
    cpu, wall = cpu_seconds() - c0, time.monotonic() - w0
    video_s = frames / STREAM_FPS
    return {"streams": args.streams, "frames": frames, "video_s": video_s, "cpu_s": round(cpu, 3),
            "wall_s": round(wall, 3), "cpu_per_camera_s": cpu / video_s, "frames_per_cpu_s": frames / cpu,
            "opencv_threads": cv2.getNumThreads()}


def phase_pipeline(args: argparse.Namespace) -> dict[str, Any]:
    from datetime import UTC, datetime

    import av
    from av.video.reformatter import VideoReformatter

    from edge.decode import ANALYSIS_INTERPOLATION, analysis_size
    from edge.frames import Frame
    from edge.pipeline import CameraPipeline, load_models
    from gridwatch.config import load_town

    town = load_town(ROOT / "configs" / "yongshan")
    cam = town.cameras[0]
    fps = town.detection.analysis_fps
    images = []
    rf = VideoReformatter()
    with av.open(str(clip_path("a", args.gop))) as c:
        s = c.streams.video[0]
        step = round(STREAM_FPS / fps)
        for i, vf in enumerate(c.decode(s)):
            if i % step == 0:  # as the reader gives them
                w, h = analysis_size(vf.width, vf.height, town.detection.analysis_width)
                images.append(rf.reformat(vf, w, h, format="bgr24",
                                          interpolation=ANALYSIS_INTERPOLATION).to_ndarray())
    pipe = CameraPipeline(cam.id, list(cam.rois), town.detection, load_models())
    t = 0.0
    warm = round(20 * fps)  # past the 15 s learning period
    for i in range(warm):
        pipe.process(Frame(images[i % len(images)], t, datetime.now(UTC)))
        t += 1 / fps
    n = round(args.seconds * fps)
    c0 = cpu_seconds()
    for i in range(n):
        pipe.process(Frame(images[(warm + i) % len(images)], t, datetime.now(UTC)))
        t += 1 / fps
    cpu = cpu_seconds() - c0
    return {"frames": n, "cpu_s": round(cpu, 3), "ms_per_frame": 1000 * cpu / n,
            "analysis_width": town.detection.analysis_width, "analysis_fps": fps}


PHASES = {"worker": phase_worker, "baseline": phase_baseline, "decode": phase_decode,
          "pipeline": phase_pipeline}


def run_phase(name: str, core: int, **kw: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--core", str(core)]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, start_new_session=True)
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short windows, fewer cameras")
    p.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    p.add_argument("--core", type=int, default=os.cpu_count() - 1 if os.cpu_count() else 0,
                   help="the one core the measured processes are pinned to (default: the last)")
    p.add_argument("--streams", type=int, default=None,
                   help="cameras for the pinned check (default: what calibration says fits 85 %% of a core)")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--warmup", type=float, default=20.0)
    p.add_argument("--fps", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--fast_decode", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--gop", type=float, default=2.0, help="key-frame interval of the test streams, s")
    p.add_argument("--height", type=int, default=720, help=argparse.SUPPRESS)
    p.add_argument("--no-variants", action="store_true",
                   help="skip the variants (no deblocking, GOP 1 s, 0.5 fps, 360p sub-stream)")
    p.add_argument("--hw-decode", "--hw_decode", dest="hw_decode", default="", metavar="TYPE",
                   help="also run the worker and the decoding with this hardware decoder (e.g. cuda)")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.phase:
        priority = pin(args.core)
        print(json.dumps(PHASES[args.phase](args) | {"priority": priority}))
        return 0

    quick = args.quick
    window = args.seconds or (10.0 if quick else 30.0)
    warmup = args.warmup if not quick else 18.0
    ensure_clips(2.0)
    if not args.no_variants:
        ensure_clips(1.0)
        ensure_clips(2.0, height=360)
    before = machine()
    t0 = time.monotonic()
    core = args.core
    res: dict[str, Any] = {"machine": before, "command": command_line(), "core": core,
                           "stream": "720p H.264 25 fps ~2 Mbit/s, 60 s looped, from vtest.avi"}
    configs = [("worker", 2.0, 0.0, 0, "", 720)]
    if args.hw_decode:
        configs += [("worker_hw", 2.0, 0.0, 0, args.hw_decode, 720)]
    if not args.no_variants:
        configs += [("worker_no_deblock", 2.0, 0.0, 1, "", 720), ("worker_gop1", 1.0, 0.0, 0, "", 720),
                    ("worker_half_fps", 2.0, 0.5, 0, "", 720), ("worker_sub360", 2.0, 0.0, 0, "", 360)]
    for key, gop, fps, fast, hw, height in configs:
        # Calibrate on a few cameras, then check: as many cameras as the calibration says fit in 85 %
        # of the core (at least 20), pinned to that one core, played at real time.
        calib = run_phase("worker", core, streams=8, seconds=window, warmup=warmup, gop=gop, fps=fps,
                          fast_decode=fast, hw_decode=hw, height=height)
        res[key + "_calibration"] = calib
        n = args.streams or max(20, int(0.85 / calib["cpu_per_camera_s"]))
        if quick or fast:  # the decoder variant: its cost only
            res[key] = calib
            continue
        res[key] = run_phase("worker", core, streams=n, seconds=window, warmup=warmup, gop=gop, fps=fps,
                             fast_decode=fast, hw_decode=hw, height=height)
    res["baseline"] = run_phase("baseline", core, streams=2 if quick else 3, seconds=10 if quick else 20,
                                gop=2)
    res["decode"] = run_phase("decode", core, gop=2, hw_decode=args.hw_decode)
    res["pipeline"] = run_phase("pipeline", core, seconds=30 if quick else 90, gop=2)
    res["machine_after"] = machine()
    res["elapsed_s"] = round(time.monotonic() - t0, 1)

    w, b = res["worker"], res["baseline"]
    # The headline is the calibration's cost: a check run that did not keep up did less analysis per
    # camera-second, so its CPU figure flatters; the check says whether that many cameras fit.
    gw_cams = 1 / res["worker_calibration"]["cpu_per_camera_s"]
    base_cams = 1 / b["cpu_per_camera_s"]
    res["summary"] = {
        "gridwatch_cpu_per_camera_s": round(res["worker_calibration"]["cpu_per_camera_s"], 5),
        "gridwatch_check_cpu_per_camera_s": round(w["cpu_per_camera_s"], 5),
        "gridwatch_cameras_per_core_calibration": round(1 / res["worker_calibration"]["cpu_per_camera_s"], 1),
        "gridwatch_cameras_per_core": round(gw_cams, 1),
        "gridwatch_analysed_fps_per_core": round(gw_cams * w["analysis_fps"], 1),
        "gridwatch_pinned_check": {"streams": w["streams"], "keep_up": w["keep_up"],
                                   "core_busy": w["core_busy"], "video_speed_min": w["video_speed_min"]},
        "baseline_cpu_per_camera_s": round(b["cpu_per_camera_s"], 5),
        "baseline_cameras_per_core": round(base_cams, 2),
        "ratio_cameras_per_core": round(gw_cams / base_cams, 1),
        "decode_all_frames_cpu_per_camera_s": round(res["decode"]["all_frames"]["cpu_per_camera_s"], 5),
        "decode_key_frames_cpu_per_camera_s": round(res["decode"]["key_frames"]["cpu_per_camera_s"], 5),
        "decode_reader_plan_cpu_per_camera_s": round(res["decode"]["reader_plan"]["cpu_per_camera_s"], 5),
        "decode_reader_plan_no_deblock_cpu_per_camera_s": round(
            res["decode"]["reader_plan_no_deblock"]["cpu_per_camera_s"], 5),
        "worker_decoded_frames_per_camera_s": round(
            res["worker_calibration"]["decoded_frames"] / res["worker_calibration"]["camera_video_s"], 2),
        "pipeline_ms_per_frame": round(res["pipeline"]["ms_per_frame"], 2),
    }
    for key in ("worker_hw", "worker_no_deblock", "worker_gop1", "worker_half_fps", "worker_sub360"):
        if key in res:
            v = res[key]
            res["summary"][f"{key}_cameras_per_core"] = round(1 / v["cpu_per_camera_s"], 1)
    path = write_result("edge_cost", res)

    def row(name: str, r: dict[str, Any]) -> tuple[str, ...]:
        return (name, f"{r['streams']}", f"{r['analysis_fps']:g}", f"{r['gop_s']:g}",
                f"{r['cpu_per_camera_s'] * 1000:.1f}", f"{1 / r['cpu_per_camera_s']:.1f}",
                f"{r['analysed_frames'] / r['cpu_s']:.1f}", f"{r['keep_up']:.3f}", f"{r['core_busy']:.2f}",
                f"{r['video_speed_min']}")

    rows = [("run (pinned to 1 core)", "cams", "fps", "gop s", "cpu ms/cam-s", "cams/core", "frames/cpu-s",
             "keep-up", "core busy", "min video speed")]
    for key, name in (("worker", "gridwatch (defaults)"),
                      ("worker_hw", f"gridwatch, {args.hw_decode} decoding"),
                      ("worker_no_deblock", "gridwatch, no deblocking"),
                      ("worker_gop1", "gridwatch, key frame 1 s"), ("worker_half_fps", "gridwatch, 0.5 fps"),
                      ("worker_sub360", "gridwatch, 360p sub-stream")):
        if key in res:
            if not quick and res[key] is not res[key + "_calibration"]:
                rows.append(row(name + " calib.", res[key + "_calibration"]))
            rows.append(row(name + (" check" if not quick and res[key] is not res[key + "_calibration"]
                                    else ""), res[key]))
    rows.append(("naive VideoCapture+MOG2", f"{b['streams']} (serial)", "25", "2",
                 f"{b['cpu_per_camera_s'] * 1000:.1f}", f"{base_cams:.2f}", f"{b['frames_per_cpu_s']:.1f}",
                 "-", "-", "-"))
    print_table(f"Edge cost, 720p25 H.264 ({before['cpu_model']}, load {before['load_avg_1_5_15']})", rows)
    d = res["decode"]
    print(f"\n  ratio gridwatch / naive cameras per core: {gw_cams / base_cams:.1f}x")
    print(f"  where the worker's CPU goes (one stream alone, ms CPU per camera-second): decoding every "
          f"frame {d['all_frames']['cpu_per_camera_s'] * 1000:.1f} ({d['all_frames']['ms_per_frame']:.2f} ms"
          f" a frame), without deblocking {d['all_frames_no_deblock']['cpu_per_camera_s'] * 1000:.1f}; "
          f"key frames only {d['key_frames']['cpu_per_camera_s'] * 1000:.1f}; what the reader decodes "
          f"({d['reader_plan']['decoded_per_camera_s']:.1f} frames/s) "
          f"{d['reader_plan']['cpu_per_camera_s'] * 1000:.1f}, without deblocking "
          f"{d['reader_plan_no_deblock']['cpu_per_camera_s'] * 1000:.1f}; conversion "
          f"{d['convert_ms_per_frame']['one_swscale_pass']:.2f} ms a frame (was "
          f"{d['convert_ms_per_frame']['bgr24_720p_then_resize']:.2f}); pipeline "
          f"{res['pipeline']['ms_per_frame']:.2f} ms per analysed frame")
    if args.hw_decode:
        cpu_d, hw_d = d["reader_plan_cpu_with_conversion"], d["reader_plan_hw_with_conversion"]
        print(f"  {args.hw_decode} decoding (one stream alone, what the reader decodes, with the conversion "
              f"of the taken frames): CPU {hw_d['cpu_per_camera_s'] * 1000:.1f} ms per camera-second against "
              f"{cpu_d['cpu_per_camera_s'] * 1000:.1f} on the CPU decoder; every frame on the GPU "
              f"{d['all_frames_hw']['cpu_per_camera_s'] * 1000:.1f}; taken pictures GPU vs CPU: "
              f"{d['hw_vs_cpu_pictures']}")
    wc = res["worker_calibration"]
    print(f"  worker (calibration): {wc['decoded_frames'] / wc['camera_video_s']:.1f} frames decoded and "
          f"{wc['analysed_frames'] / wc['camera_video_s']:.2f} analysed per camera-second")
    print(f"  results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
