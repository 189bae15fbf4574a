"""Per-frame cost of the detection pipeline (health + obstruction detection) on one core.

Runs the real CameraPipeline over real footage (data/footage/vtest.avi, or a generated clip when it
is missing) at the default analysis size, after warm-up, with onnxruntime on one thread, and prints
the median and 95th percentile milliseconds per analysed frame, plus the split between parts.

    python bench/bench_detect.py [VIDEO] [--frames N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import cv2

from edge.analyze import frames_of
from edge.detectors_blocks import block_features
from edge.onnx_models import load_models
from edge.pipeline import CameraPipeline
from gridwatch.config import DetectionSettings

REPO = Path(__file__).resolve().parent.parent


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("video", nargs="?", type=Path, default=REPO / "data" / "footage" / "vtest.avi")
    ap.add_argument("--frames", type=int, default=300, help="analysed frames to time (video loops)")
    args = ap.parse_args()
    cv2.setNumThreads(1)
    settings = DetectionSettings()
    frames = list(frames_of(args.video, settings.analysis_width, 5.0))
    if not frames:
        print(f"no frames in {args.video}", file=sys.stderr)
        return 2
    models = load_models()
    pipe = CameraPipeline("bench", [], settings, models)
    # warm up: learn the scene (at the pipeline's rate of 1 frame per analysis period)
    period = 1.0 / settings.analysis_fps
    t = 0.0
    for f in frames[:40]:
        pipe.process(type(f)(f.image, t, f.wall))
        t += period
    times: list[float] = []
    for i in range(args.frames):
        f = frames[i % len(frames)]
        t0 = time.perf_counter()
        pipe.process(type(f)(f.image, t, f.wall))
        times.append((time.perf_counter() - t0) * 1000)
        t += period
    ref = pipe._scene.reference_for(100.0)
    feat_ms: list[float] = []
    onnx_ms: list[float] = []
    if ref is not None:
        for f in frames[:100]:
            t0 = time.perf_counter()
            st = block_features(f.image, ref.bgr)
            t1 = time.perf_counter()
            models.classify_blocks(st.features.reshape(-1, st.features.shape[-1]))
            feat_ms.append((t1 - t0) * 1000)
            onnx_ms.append((time.perf_counter() - t1) * 1000)
    times.sort()
    h, w = frames[0].image.shape[:2]
    print(f"analysis size {w}x{h}, {len(times)} frames, one thread")
    print(f"per frame (health + detection + events): median {statistics.median(times):.2f} ms, "
          f"p95 {times[int(0.95 * len(times)) - 1]:.2f} ms")
    if feat_ms:
        print(f"  of which block features {statistics.median(feat_ms):.2f} ms, "
              f"ONNX block classifier {statistics.median(onnx_ms):.2f} ms")
    return 0


if __name__ == "__main__":
    sys.exit(main())
