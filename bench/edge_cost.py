"""Edge cost: what one core (and one box) of an edge box buys, every figure against the others of one run.

Streams (bench/_edge_streams.py, made once with ffmpeg into data/bench/): 720p H.264, 25 fps, a key
frame every 2 s, ~2 Mbit/s, no B-frames, made from the real outdoor footage (data/footage/vtest.avi)
with sensor-like noise; four variants (as is, mirrored, two crops). Two scenes: *busy* (the footage
replayed 2.5x fast: people and bicycles crossing the road all the time) and *quiet* (one picture of
it held still: an empty village road, noise only). Each also as the camera's 360p sub-stream
(640x360, 0.5 Mbit/s, same key frames). Four variants of the busy scene, two of the quiet one.

Runs, each in a fresh child process pinned to ONE core (os.sched_setaffinity), in its own session
with its scheduler autogroup at nice -10 (so on a shared machine it gets that core):
- ``worker``: the real edge worker (edge.worker.EdgeWorker: a PyAV StreamReader thread per camera,
  files played at real time as a camera would, the analysis loop with CameraPipeline and the ONNX
  models, clip ring, outbox, heartbeats; delivery pointed at a closed port), 8 cameras, after a
  32 s warm-up (15 s of scene learning and the adaptive rate's 10 s hold after it): CPU seconds
  (getrusage, all threads) per camera-second of video over a 30 s window, frames decoded and
  analysed, and RSS per camera ((VmRSS at the end - VmRSS with the models loaded) / cameras).
  Variants (``RUNS``): the fixed rate (1 frame/s, ``detection.adaptive_rate: false``) and the
  adaptive rate on each scene, with and without a sub-stream, and the *floor worker* (the same
  readers told "quiet" all the time, analysing nothing: key frames read, decoded and converted).
  Full run: a check with as many cameras as the calibration says fit 85 % of the core, for the
  adaptive quiet and busy-with-sub-stream runs, and two runs of the adaptive quiet worker on ALL
  cores of the box (cameras per box): one analysis process per core (``edge.analysis_processes``),
  and threads in one process; CPU and RSS include the analysis processes.
- ``baseline``: cv2.VideoCapture decoding every frame + cv2.createBackgroundSubtractorMOG2 (defaults)
  on each full 720p frame, as fast as it goes; CPU seconds per second of video.
- ``decode``: PyAV decoding alone, one stream unpaced: every frame, key frames only (the *floor*, on
  each scene and size; and on the quiet 720p scene with each key frame converted to the analysis
  size, which a worker must add), what the reader decodes at the fixed rate (bench/_edge_decode.py).
- ``pipeline``: CameraPipeline.process alone on 320-px frames at 1 fps (after its learning period).

Cameras per core = 1 / (CPU seconds per camera-second), what a fully busy core would carry. On a
shared machine only ratios within one run mean much (bench/_edge_report.py prints them).

    .venv/bin/python bench/edge_cost.py            # full run (~15 min)
    .venv/bin/python bench/edge_cost.py --quick    # calibrations only, short windows (~8 min)
    .venv/bin/python bench/edge_cost.py --runs fixed_busy --hw-decode cuda   # on a GPU box
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

from bench._common import ROOT, command_line, cpu_seconds, machine, write_result
from bench._edge_decode import phase_decode
from bench._edge_report import print_report, summarize
from bench._edge_streams import STREAM_FPS, VARIANTS, clip_path, ensure_clips, variants

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


class _QuietOnly:
    """The floor worker's pipeline: analyses nothing and always says "quiet", so the readers decode
    key frames only (what reading and decoding alone cost a worker, without analysis)."""

    def __init__(self) -> None:
        self.faults: list[Any] = []
        self.scores: dict[str, float] = {}
        self.dense_until = float("-inf")

    def process(self, frame: Any) -> list[Any]:
        return []

    def tick(self, t: float, wall: Any) -> list[Any]:
        return []


def quiet_only(camera: Any) -> _QuietOnly:
    """The floor worker's pipeline factory (module-level: analysis processes import it)."""
    return _QuietOnly()


def rss_bytes(pid: int | None = None) -> int:
    """A process's resident set now (VmRSS; this one by default)."""
    try:
        lines = Path(f"/proc/{pid or 'self'}/status").read_text().splitlines()
    except OSError:
        return 0
    for line in lines:
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def proc_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of another process so far (/proc/PID/stat)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def children_cpu(worker: Any) -> float:
    """CPU seconds of the worker's analysis processes (none in the threads mode)."""
    return sum(proc_cpu_seconds(pid) for pid in worker.procs.pids() if pid) if worker.procs else 0.0


def wait_until(cond: Any, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not cond() and time.monotonic() < deadline:
        time.sleep(0.2)


def phase_worker(args: argparse.Namespace) -> dict[str, Any]:
    import yaml

    from edge.worker import EdgeWorker
    from gridwatch.config import load_town
    from tests.support.net import free_port

    scene = args.scene
    mains = [clip_path(v, args.gop, args.height, scene) for v in variants(scene)]
    subs = [clip_path(v, args.gop, 360, scene) for v in variants(scene)] if args.sub else None
    town = load_town(ROOT / "configs" / "yongshan").model_dump(mode="json")
    node = "edge-01"
    n = 0
    for cam in town["cameras"]:  # the first N cameras of the town, all moved onto one node
        if n < args.streams:
            cam["node"] = node
            cam["streams"] = {"main": str(mains[n % len(mains)]),
                              "sub": str(subs[n % len(subs)]) if subs else None}
            n += 1
        else:
            cam["enabled"] = False
    if args.fps:
        town["detection"]["analysis_fps"] = args.fps
    town["detection"]["adaptive_rate"] = bool(args.adaptive or args.floor)
    if args.hw_decode:
        next(x for x in town["nodes"] if x["id"] == node)["hw_decode"] = {"device_type": args.hw_decode}
    tmp = Path(tempfile.mkdtemp(prefix="gw-bench-edge-"))
    dead_hub = f"http://127.0.0.1:{free_port()}"  # nothing listens: delivery backs off, as in an outage
    town["edge"] = {**town["edge"], "hub_url": dead_hub, "data_dir": str(tmp)}
    if args.processes >= 0:
        town["edge"]["analysis_processes"] = args.processes
    (tmp / "town.yaml").write_text(yaml.safe_dump(town, allow_unicode=True), encoding="utf-8")
    cfg = load_town(tmp / "town.yaml")
    factory = quiet_only if args.floor else None
    worker = EdgeWorker(cfg, node, dead_hub, lambda: "bench", tmp / node, pipeline_factory=factory)
    if args.fast_decode:  # the variant without the deblocking filter (not the default)
        from edge.decode import FAST_DECODER_OPTIONS

        for unit in worker.units:
            unit.reader.decoder_options = dict(FAST_DECODER_OPTIONS)
    fps = cfg.detection.analysis_fps

    def snap() -> dict[str, Any]:
        cams = worker.counters()
        return {
            "cpu": cpu_seconds() + children_cpu(worker), "wall": time.monotonic(),
            "analysed": [c["analysed"] for c in cams],
            "frames_in": [c["frames_in"] for c in cams],
            "video_t": [c["latest_t"] for c in cams],
            "dropped": [c["dropped"] for c in cams],
            "cams": cams,
        }

    c0 = cpu_seconds()
    rss_base = rss_bytes()  # models loaded, nothing read yet
    worker.start()
    if worker.procs is not None:  # each analysis process's models loaded, nothing read yet
        wait_until(lambda: len(worker.counters()) == args.streams, 120)
        rss_base += sum(rss_bytes(pid) for pid in worker.procs.pids() if pid)
    time.sleep(args.warmup)
    a = snap()
    time.sleep(args.seconds)
    b = snap()
    rss_end = rss_bytes() + (sum(rss_bytes(pid) for pid in worker.procs.pids() if pid) if worker.procs else 0)
    quiet_now = sum(bool(c["quiet"]) for c in b["cams"])
    restarts = worker.procs.restarts() if worker.procs is not None else 0
    worker.stop()
    window = b["wall"] - a["wall"]
    cpu = b["cpu"] - a["cpu"]
    analysed = sum(b["analysed"]) - sum(a["analysed"])
    advanced = [tb - ta for ta, tb in zip(a["video_t"], b["video_t"], strict=True)
                if ta is not None and tb is not None]
    progress = [x / window for x in advanced]
    # Per camera-second of VIDEO analysed: if the process got less than it needed of the core, its
    # cameras fell behind real time and it did less work; normalising by video time keeps the cost
    # figure honest, and ``video_speed`` says whether it kept up. (``keep_up`` compares analysed
    # frames with the configured rate: below 1 by design for the adaptive worker on a quiet scene.)
    video_s = sum(advanced) if advanced else args.streams * window
    return {
        "streams": args.streams, "analysis_fps": fps, "fast_decode": bool(args.fast_decode),
        "scene": scene, "adaptive": bool(args.adaptive), "floor": bool(args.floor),
        "sub_stream": bool(args.sub), "cores": sorted(os.sched_getaffinity(0)),
        "hw_decode": args.hw_decode or None, "height": 360 if args.sub else args.height,
        "hw_decoding": all(c["hw_decoding"] for c in b["cams"]),
        "analysis_processes": len(worker.procs.slots) if worker.procs is not None else 0,
        "process_restarts": restarts,
        "analysis_width": cfg.detection.analysis_width,
        "gop_s": args.gop, "warmup_s": args.warmup, "window_s": round(window, 2),
        "cpu_s": round(cpu, 3), "cpu_s_incl_startup": round(b["cpu"] - c0, 3),
        "core_busy": round(cpu / window, 3),
        "camera_video_s": round(video_s, 1),
        "cpu_per_camera_s": cpu / video_s,
        "analysed_frames": analysed,
        "analysed_per_camera_s": round(analysed / video_s, 3),
        "analysed_expected": round(args.streams * window * fps, 1),
        "keep_up": round(analysed / (args.streams * window * fps), 3),
        "video_speed_min": round(min(progress), 3) if progress else None,
        "video_speed_median": round(sorted(progress)[len(progress) // 2], 3) if progress else None,
        "decoded_frames": sum(b["frames_in"]) - sum(a["frames_in"]),
        "decoded_per_camera_s": round((sum(b["frames_in"]) - sum(a["frames_in"])) / video_s, 2),
        "quiet_cameras_at_end": quiet_now,
        "keyframes_only": all(c["keyframes_only"] for c in b["cams"]),
        "slot_dropped": sum(b["dropped"]) - sum(a["dropped"]),
        "pipeline_errors": sum(int(c["pipeline_errors"]) for c in b["cams"]),
        "rss_base_mb": round(rss_base / 2**20, 1), "rss_end_mb": round(rss_end / 2**20, 1),
        "rss_per_camera_mb": round((rss_end - rss_base) / 2**20 / args.streams, 2),
        "rss_total_mb": round(rss_end / 2**20, 1),
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


def run_phase(name: str, core: int | str, **kw: Any) -> dict[str, Any]:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--phase", name, "--core", str(core)]
    for k, v in kw.items():
        cmd += [f"--{k}", str(v)]
    out = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False, start_new_session=True)
    if out.returncode != 0:
        raise SystemExit(f"phase {name} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


#: The worker runs of one full command: key -> parameters of ``phase_worker``. All 720p25 H.264
#: with a key frame every 2 s, analysis 1 frame/s at 320 px (the town's defaults).
RUNS: dict[str, dict[str, Any]] = {
    "fixed_busy": {"scene": "busy", "adaptive": 0},
    "fixed_quiet": {"scene": "quiet", "adaptive": 0},
    "adaptive_busy": {"scene": "busy", "adaptive": 1},
    "adaptive_quiet": {"scene": "quiet", "adaptive": 1},
    "adaptive_busy_sub": {"scene": "busy", "adaptive": 1, "sub": 1},
    "adaptive_quiet_sub": {"scene": "quiet", "adaptive": 1, "sub": 1},
    "floor_quiet": {"scene": "quiet", "floor": 1},
}
#: Runs checked with as many cameras as their calibration says fit in 85 % of a core (full run).
CHECKED = ("adaptive_quiet", "adaptive_busy_sub")
CHECK_WARMUP_S = 150.0


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--quick", action="store_true", help="short windows, no pinned checks")
    p.add_argument("--phase", choices=sorted(PHASES), help=argparse.SUPPRESS)
    p.add_argument("--core", default=str(os.cpu_count() - 1 if os.cpu_count() else 0),
                   help="the core the measured processes are pinned to (default: the last); 'all' "
                        "for the box run")
    p.add_argument("--streams", type=int, default=None,
                   help="cameras for the pinned checks (default: what calibration says fits 85 %% of a core)")
    p.add_argument("--seconds", type=float, default=None)
    p.add_argument("--warmup", type=float, default=None,
                   help="s before measuring (default 32: the 15 s of scene learning and the adaptive "
                        "rate's 10 s hold after it)")
    p.add_argument("--fps", type=float, default=0.0, help=argparse.SUPPRESS)
    p.add_argument("--fast_decode", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--scene", default="busy", help=argparse.SUPPRESS)
    p.add_argument("--adaptive", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--floor", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--sub", type=int, default=0, help=argparse.SUPPRESS)
    p.add_argument("--processes", type=int, default=-1, help=argparse.SUPPRESS)
    p.add_argument("--gop", type=float, default=2.0, help="key-frame interval of the test streams, s")
    p.add_argument("--height", type=int, default=720, help=argparse.SUPPRESS)
    p.add_argument("--runs", default=",".join(RUNS), help="worker runs to do (default: all)")
    p.add_argument("--no-box", action="store_true", help="skip the run on all cores")
    p.add_argument("--hw-decode", "--hw_decode", dest="hw_decode", default="", metavar="TYPE",
                   help="decode on this hardware decoder (e.g. cuda) in the worker runs")
    args = p.parse_args()
    logging.basicConfig(level=logging.ERROR)
    if args.phase:
        priority = pin(None if args.core == "all" else int(args.core))
        if args.warmup is None:
            args.warmup = 32.0
        if args.seconds is None:
            args.seconds = 30.0
        print(json.dumps(PHASES[args.phase](args) | {"priority": priority}))
        return 0

    quick = args.quick
    window = args.seconds or (15.0 if quick else 30.0)
    warmup = args.warmup or (30.0 if quick else 32.0)
    for scene in ("busy", "quiet"):
        for height in (720, 360):
            ensure_clips(args.gop, height, scene)
    before = machine()
    t0 = time.monotonic()
    core = int(args.core) if args.core != "all" else os.cpu_count() - 1
    res: dict[str, Any] = {"machine": before, "command": command_line(), "core": core,
                           "stream": f"720p H.264 25 fps ~2 Mbit/s, key frame every {args.gop:g} s, 60 s "
                                     "looped, from vtest.avi (busy: replayed 2.5x fast; quiet: one "
                                     "picture held still); sub-stream 640x360 0.5 Mbit/s"}
    runs = [r for r in args.runs.split(",") if r]
    common = {"seconds": window, "warmup": warmup, "gop": args.gop, "hw_decode": args.hw_decode}
    # Many cameras learn their scenes (dense frames: ~4x a quiet camera's CPU) for the first 15 s of
    # video each; on a core sized for quiet cameras that takes minutes of wall time, so the checks
    # warm up longer before the window.
    checked = common | {"warmup": max(warmup, CHECK_WARMUP_S)}
    for key in runs:
        res[key + "_calibration"] = run_phase("worker", core, streams=8, **common, **RUNS[key])
        res[key] = res[key + "_calibration"]
        if not quick and key in CHECKED:
            n = args.streams or max(20, int(0.85 / res[key]["cpu_per_camera_s"]))
            res[key + "_check"] = run_phase("worker", core, streams=n, **checked, **RUNS[key])
    if not quick and not args.no_box and "adaptive_quiet" in runs:
        # Cameras per box: the adaptive quiet worker on ALL cores, with one analysis process per core
        # (isolation: the default on boxes of more than two cores) and with threads in one process
        # (the default on 1-2 cores), sized to half of what the calibration says the cores carry
        # (every camera learns its scene on dense frames first: ~4x its quiet cost).
        cores = os.cpu_count() or 1
        n = args.streams or max(16, int(0.5 * cores / res["adaptive_quiet"]["cpu_per_camera_s"]))
        res["adaptive_quiet_box"] = run_phase("worker", "all", streams=n, processes=cores, **checked,
                                              **RUNS["adaptive_quiet"])
        res["adaptive_quiet_box_threads"] = run_phase("worker", "all", streams=n, processes=0, **checked,
                                                      **RUNS["adaptive_quiet"])
    res["baseline"] = run_phase("baseline", core, streams=2 if quick else 3, seconds=10 if quick else 20,
                                gop=args.gop)
    res["decode"] = run_phase("decode", core, gop=args.gop, hw_decode=args.hw_decode)
    res["pipeline"] = run_phase("pipeline", core, seconds=30 if quick else 90, gop=args.gop)
    res["machine_after"] = machine()
    res["elapsed_s"] = round(time.monotonic() - t0, 1)
    res["summary"] = summarize(res)
    path = write_result("edge_cost", res)
    print_report(res)
    print(f"  results: {path.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
