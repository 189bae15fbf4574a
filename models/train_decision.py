"""Train the obstruction decision model (models/obstruction_decision.onnx) on the dev split's scenes.

The decision says what a standing component on the road is (none, landslide, flooding, blockage,
vehicle) from its measures over time (``edge.obstruction_learned.FEATURES``). Its training data is the
pipeline itself run over generated dev clips: every component the detector measures is recorded with
its features (a tap on ``gridwatch analyze``) and labelled from the clip's truth (events and the
vehicles' stops, ``models/evalset``). Only the dev split may be used: ``collect`` refuses a folder whose
``split.json`` says otherwise, so the sealed test split keeps measuring.

Run (about 1 h on 2 cores for one dev seed, a few minutes on 16)::

    python -m models.evalset.generate DATA --split dev --seeds 101,102
    python -m models.train_decision collect DATA --out decision-data.npz [--phases 0,0.5] [--jobs N]
    python -m models.train_decision fit decision-data.npz [--out models/obstruction_decision.onnx]

``fit`` trains gradient-boosted trees (scikit-learn), checks them on the clips of one held-out seed,
writes ONNX (skl2onnx; onnxruntime runs it at the edge, no scikit-learn there) and the figures beside it
(``obstruction_decision.figures.json``). Build-time only: needs the ``dev`` extra.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edge.obstruction_learned import DECISION_CLASSES, FEATURES, Context, feature_vector
from edge.obstruction_measure import Measures

#: A component belongs to a truth (event or stop) when this share of its box lies in the truth's box...
INSIDE = 0.3
#: ...and is left out of training (neither the thing nor clearly not it) from this share up to INSIDE.
AMBIGUOUS = 0.1
#: Seconds before a truth event's start_s in which its material is already there (landslide material
#: arrives and comes to rest; water rises; debris is dumped or a tree falls).
BEFORE_S = {"landslide": 30.0, "flooding": 90.0, "road_blockage": 30.0}
#: Seconds after an event's end_s (or a stop's) during which what stood there may still be seen.
AFTER_S = 5.0
#: Seconds of a vehicle's stop before its event (labels start when it has stood this long).
STOPPED_VEHICLE_S = 120.0

CLASS = {name: i for i, name in enumerate(DECISION_CLASSES)}
EVENT_CLASS = {"landslide": "landslide", "flooding": "flooding", "road_blockage": "blockage"}


@dataclass(frozen=True, slots=True)
class Span:
    cls: str
    start_s: float
    end_s: float
    bbox: tuple[float, float, float, float]


def inside(a: Sequence[float], b: Sequence[float]) -> float:
    """Share of box ``a`` (x0, y0, x1, y1) that lies in box ``b``."""
    w = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    h = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    area = max(1e-9, (a[2] - a[0]) * (a[3] - a[1]))
    return w * h / area


def truth_spans(label: dict) -> list[Span]:
    """What stands where, when, in one clip: its obstruction events and its vehicles' stops."""
    stopped = "stopped" in label.get("tags", [])
    spans: list[Span] = []
    for ev in label.get("events", []):
        kind, box = ev["kind"], ev.get("bbox")
        if kind not in EVENT_CLASS or box is None:
            continue
        end = math.inf if ev.get("end_s") is None else float(ev["end_s"]) + AFTER_S
        if stopped and kind == "road_blockage":
            spans.append(Span("vehicle", float(ev["start_s"]) - STOPPED_VEHICLE_S, end, tuple(box)))
        else:
            spans.append(Span(EVENT_CLASS[kind], float(ev["start_s"]) - BEFORE_S[kind], end, tuple(box)))
    for stop in label.get("stops", []):
        if stop.get("bbox") is None:
            continue
        end = math.inf if stop.get("end_s") is None else float(stop["end_s"]) + AFTER_S
        spans.append(Span("vehicle", float(stop["start_s"]), end, tuple(stop["bbox"])))
    return spans


def label_of(t: float, bbox: Sequence[float], spans: list[Span]) -> int:
    """Class index of a component seen at ``t`` with ``bbox``; -1: ambiguous, left out."""
    ambiguous = False
    for sp in spans:
        if not sp.start_s <= t <= sp.end_s:
            continue
        share = inside(bbox, sp.bbox)
        if share >= INSIDE:
            return CLASS[sp.cls]
        ambiguous |= share >= AMBIGUOUS
    return -1 if ambiguous else CLASS["none"]


# --- collect ------------------------------------------------------------------------------------------

def _collect_one(label_path: str, phase: float) -> tuple[str, float, np.ndarray, np.ndarray, np.ndarray]:
    from edge.analyze import analyze_video
    from edge.onnx_models import load_models
    from gridwatch.config import DetectionSettings, parse_roi

    path = Path(label_path)
    label = json.loads(path.read_text())
    rows: list[np.ndarray] = []
    seen: list[tuple[float, tuple[float, float, float, float]]] = []

    def tap(t: float, m: Measures, ctx: Context) -> None:
        rows.append(feature_vector(m, ctx))
        seen.append((t, m.bbox))

    rois = [parse_roi(r) for r in label.get("rois", [])]
    analyze_video(path.parent / label["video"], rois, DetectionSettings(), load_models(), path.stem,
                  phase_s=phase, tap=tap)
    spans = truth_spans(label)
    y = np.array([label_of(t, box, spans) for t, box in seen], np.int64)
    ts = np.array([t for t, _ in seen], np.float32)
    x = np.stack(rows) if rows else np.zeros((0, len(FEATURES)), np.float32)
    return f"{path.parent.name}/{path.stem}", phase, x, y, ts


def dev_labels(root: Path) -> list[Path]:
    """Every clip label under ``root`` (a generated dev split, or one of its seed folders)."""
    for manifest in (root / "split.json", root.parent / "split.json"):
        if manifest.is_file():
            split = json.loads(manifest.read_text()).get("split")
            if split != "dev":
                raise SystemExit(f"train_decision: {manifest} says split {split!r}; only the dev split may "
                                 "be trained on")
            break
    else:
        raise SystemExit(f"train_decision: no split.json in {root} or its parent: generate it with "
                         "'python -m models.evalset.generate DIR --split dev'")
    return sorted(p for p in root.rglob("*.json") if p.name not in ("index.json", "split.json"))


def collect(roots: list[Path], out: Path, phases: list[float], jobs: int) -> None:
    labels = [p for r in roots for p in dev_labels(r)]
    tasks = [(str(p), ph) for p in labels for ph in phases]
    print(f"collect: {len(labels)} clips x {len(phases)} phases on {jobs} processes", file=sys.stderr)
    xs, ys, ts, groups, phase_of = [], [], [], [], []
    t0 = time.perf_counter()
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        futs = [pool.submit(_collect_one, *task) for task in tasks]
        for i, fut in enumerate(as_completed(futs), 1):
            name, ph, x, y, t = fut.result()
            xs.append(x)
            ys.append(y)
            ts.append(t)
            groups += [name] * len(y)
            phase_of += [ph] * len(y)
            print(f"[{i}/{len(tasks)}] {name} @{ph}: {len(y)} records ({time.perf_counter() - t0:.0f} s)",
                  file=sys.stderr)
    np.savez_compressed(out, x=np.concatenate(xs), y=np.concatenate(ys), t=np.concatenate(ts),
                        group=np.array(groups), phase=np.array(phase_of, np.float32),
                        features=np.array(FEATURES), classes=np.array(DECISION_CLASSES))
    y_all = np.concatenate(ys)
    counts = {c: int((y_all == i).sum()) for i, c in enumerate(DECISION_CLASSES)}
    print(f"collect: {len(y_all)} records {counts}, {int((y_all < 0).sum())} ambiguous -> {out}",
          file=sys.stderr)


# --- fit ----------------------------------------------------------------------------------------------

#: Gradient-boosted trees: shallow and few, so the decision stays a handful of readable splits per class
#: rather than a memory of the dev scenes.
TREES: dict[str, float] = dict(n_estimators=150, max_depth=3, learning_rate=0.08, min_samples_leaf=40,
                               subsample=0.8)


def _weights(y: np.ndarray, group: np.ndarray) -> np.ndarray:
    """Every class weighs the same in total, and within a class every clip (a long stop seen in 150
    frames does not outweigh a landslide seen in 20)."""
    w = np.zeros(len(y), np.float64)
    for c in np.unique(y):
        sel = y == c
        clips, inverse, per = np.unique(group[sel], return_inverse=True, return_counts=True)
        w[sel] = 1.0 / (per[inverse] * len(clips))
    return w * len(y) / w.sum()


def _report(y: np.ndarray, pred: np.ndarray) -> dict[str, dict[str, float | int]]:
    out: dict[str, dict[str, float | int]] = {}
    for i, c in enumerate(DECISION_CLASSES):
        tp = int(((pred == i) & (y == i)).sum())
        out[c] = {"n": int((y == i).sum()),
                  "precision": round(tp / max(1, int((pred == i).sum())), 3),
                  "recall": round(tp / max(1, int((y == i).sum())), 3)}
    return out


def fit(data: list[Path], out: Path, holdout: str | None, trees: dict[str, float] | None = None) -> None:
    """Train on the records in ``data``; ``trees`` overrides TREES (tests train a small one)."""
    from onnx.checker import check_model
    from skl2onnx import to_onnx
    from sklearn.ensemble import GradientBoostingClassifier

    parts = [np.load(p) for p in data]
    for p, part in zip(data, parts, strict=True):
        if tuple(part["features"]) != FEATURES:
            raise SystemExit(f"train_decision: {p} was collected with other features; collect it again")
    x = np.concatenate([p["x"] for p in parts]).astype(np.float32)
    y = np.concatenate([p["y"] for p in parts])
    group = np.concatenate([p["group"] for p in parts])
    keep = y >= 0
    x, y, group = x[keep], y[keep], group[keep]
    seeds = sorted({g.split("/")[0] for g in group})
    held = holdout or (seeds[-1] if len(seeds) > 1 else None)
    params = {**TREES, **(trees or {})}
    figures: dict[str, object] = {"records": len(y), "seeds": seeds, "features": list(FEATURES),
                                  "trees": params}
    if held is not None:
        te = np.array([g.startswith(held + "/") for g in group])
        model = GradientBoostingClassifier(random_state=0, **params)
        model.fit(x[~te], y[~te], sample_weight=_weights(y[~te], group[~te]))
        figures["held_out"] = {"seed": held, "per_class": _report(y[te], model.predict(x[te]))}
        print(f"fit: held-out {held}: {json.dumps(figures['held_out'])}", file=sys.stderr)
    model = GradientBoostingClassifier(random_state=0, **params)
    model.fit(x, y, sample_weight=_weights(y, group))
    figures["train"] = {"per_class": _report(y, model.predict(x))}
    onx = to_onnx(model, x[:1], options={id(model): {"zipmap": False}},
                  target_opset={"": 17, "ai.onnx.ml": 3})
    check_model(onx)
    out.write_bytes(onx.SerializeToString())
    out.with_suffix("").with_suffix(".figures.json").write_text(json.dumps(figures, indent=1) + "\n")
    print(f"fit: {len(y)} records from {len(seeds)} seeds -> {out} ({out.stat().st_size} bytes)",
          file=sys.stderr)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m models.train_decision", description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("collect", help="run the pipeline over dev clips and record labelled components")
    c.add_argument("roots", type=Path, nargs="+", help="generated dev split folders (or seed folders)")
    c.add_argument("--out", type=Path, required=True)
    c.add_argument("--phases", default="0,0.5", help="sampling phases, s (default 0,0.5)")
    c.add_argument("--jobs", type=int, default=None)
    f = sub.add_parser("fit", help="train on collected records and write the ONNX model")
    f.add_argument("data", type=Path, nargs="+")
    f.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "obstruction_decision.onnx")
    f.add_argument("--holdout", default=None, help="seed folder to check on (default: the last seed)")
    args = ap.parse_args(argv)
    if args.cmd == "collect":
        import os

        phases = [float(v) for v in args.phases.split(",")]
        collect(args.roots, args.out, phases, args.jobs or os.cpu_count() or 1)
    else:
        fit(args.data, args.out, args.holdout)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
