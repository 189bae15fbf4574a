"""``gridwatch eval``: run analyze's pipeline over a labelled set and score it event by event.

The label format and the matching rule are written down in models/README.md. In short: a raised
event matches a truth event of the same family (road obstruction, or camera fault) when it was raised
between the truth's start - EARLY_S and its end (or the clip's end) + GRACE_S; each truth takes at most
one raised event and each raised event at most one truth; time to detect is raised start - truth
start; every raised event left unmatched is a false alarm.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from edge.adaptive_source import AdaptiveVideoError
from edge.analyze import EventRecord, VideoError, analyze_file
from edge.onnx_models import ModelBundle, ModelError, load_models
from gridwatch.config import DetectionSettings, parse_roi
from gridwatch.wire import EventKind

EARLY_S = 1.0
GRACE_S = 5.0
FAMILIES = ("obstructions", "faults")


def family(kind: str) -> str:
    return "faults" if kind.startswith("camera_") else "obstructions"


class LabelError(ValueError):
    """A label file is malformed."""


@dataclass(slots=True)
class Truth:
    kind: str
    start_s: float
    end_s: float | None
    bbox: list[float] | None


@dataclass(slots=True)
class Clip:
    name: str
    video: Path
    duration_s: float
    rois: list[str]
    tags: list[str]
    events: list[Truth]


@dataclass(slots=True)
class ClipResult:
    clip: Clip
    raised: list[EventRecord]
    seconds: float
    error: str | None = None
    matches: list[tuple[int, int]] = field(default_factory=list)  # (truth index, raised index)
    phase_s: float = 0.0  # where in each second the analysed frames were taken
    cell: str = ""  # robustness-grid cell ("seed-9001@0.25"), empty for a plain set


def load_clip(label: Path) -> Clip:
    """Read one label file; LabelError says which file and what is wrong."""
    try:
        data = json.loads(label.read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LabelError(f"{label}: not readable JSON ({exc})") from exc
    try:
        video = label.parent / str(data["video"])
        kinds = {k.value for k in EventKind}
        events = []
        for i, ev in enumerate(data.get("events", [])):
            if ev["kind"] not in kinds:
                raise LabelError(f"{label}: events[{i}].kind {ev['kind']!r} is not a known kind")
            end = ev.get("end_s")
            events.append(Truth(str(ev["kind"]), float(ev["start_s"]), None if end is None else float(end),
                                ev.get("bbox")))
        return Clip(name=label.stem, video=video, duration_s=float(data["duration_s"]),
                    rois=[str(r) for r in data.get("rois", [])], tags=[str(t) for t in data.get("tags", [])],
                    events=events)
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, LabelError):
            raise
        raise LabelError(f"{label}: bad label ({type(exc).__name__}: {exc})") from exc


def match(truths: list[Truth], raised: list[EventRecord], duration_s: float) -> list[tuple[int, int]]:
    """Pairs (truth index, raised index) by the rule in the module docstring (pure)."""
    used: set[int] = set()
    pairs: list[tuple[int, int]] = []
    for ti in sorted(range(len(truths)), key=lambda i: truths[i].start_s):
        tr = truths[ti]
        lo = tr.start_s - EARLY_S
        hi = (tr.end_s if tr.end_s is not None else duration_s) + GRACE_S
        cands = [ri for ri, r in enumerate(raised)
                 if ri not in used and family(r.kind) == family(tr.kind) and lo <= r.start_s <= hi]
        if cands:
            best = min(cands, key=lambda ri: (raised[ri].kind != tr.kind, raised[ri].start_s))
            used.add(best)
            pairs.append((ti, best))
    return pairs


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def score(results: Iterable[ClipResult]) -> dict[str, object]:
    """Event-level figures, overall, per family and per kind."""
    results = [r for r in results if r.error is None]
    hours = sum(r.clip.duration_s for r in results) / 3600.0
    neg_hours = sum(r.clip.duration_s for r in results if not r.clip.events) / 3600.0
    out: dict[str, object] = {"clips": len(results), "hours": round(hours, 4)}
    fams: dict[str, dict[str, object]] = {}
    for fam in (*FAMILIES, "all"):
        def inf(kind: str, fam: str = fam) -> bool:
            return fam == "all" or family(kind) == fam
        n_truth = n_raised = n_match = kind_ok = fa = fa_neg = 0
        ttd: list[float] = []
        for r in results:
            tr_idx = [i for i, t in enumerate(r.clip.events) if inf(t.kind)]
            ra_idx = [i for i, e in enumerate(r.raised) if inf(e.kind)]
            n_truth += len(tr_idx)
            n_raised += len(ra_idx)
            matched = [(ti, ri) for ti, ri in r.matches if inf(r.clip.events[ti].kind)]
            n_match += len(matched)
            kind_ok += sum(r.clip.events[ti].kind == r.raised[ri].kind for ti, ri in matched)
            ttd += [r.raised[ri].start_s - r.clip.events[ti].start_s for ti, ri in matched]
            unmatched = len(ra_idx) - len(matched)
            fa += unmatched
            if not r.clip.events:
                fa_neg += unmatched
        fams[fam] = {
            "truth": n_truth, "raised": n_raised, "matched": n_match,
            "recall": _ratio(n_match, n_truth), "precision": _ratio(n_match, n_raised),
            "median_time_to_detect_s": round(statistics.median(ttd), 2) if ttd else None,
            "max_time_to_detect_s": round(max(ttd), 2) if ttd else None,
            "kind_accuracy": _ratio(kind_ok, n_match), "false_alarms": fa,
            "false_alarms_per_camera_hour": round(fa / hours, 3) if hours else None,
            "false_alarms_on_negatives_per_camera_hour": round(fa_neg / neg_hours, 3) if neg_hours else None,
        }
    out["families"] = fams
    kinds: dict[str, dict[str, Any]] = {}
    for r in results:
        for ti, t in enumerate(r.clip.events):
            k = kinds.setdefault(t.kind, {"truth": 0, "detected": 0, "kind_correct": 0, "ttd": []})
            k["truth"] += 1  # type: ignore[operator]
            for tj, ri in r.matches:
                if tj == ti:
                    k["detected"] += 1  # type: ignore[operator]
                    k["kind_correct"] += int(r.raised[ri].kind == t.kind)  # type: ignore[operator]
                    k["ttd"].append(round(r.raised[ri].start_s - t.start_s, 2))  # type: ignore[union-attr]
    for k in kinds.values():
        ttd = k.pop("ttd")
        k["median_time_to_detect_s"] = round(statistics.median(ttd), 2) if ttd else None  # type: ignore[arg-type]
        k["max_time_to_detect_s"] = max(ttd) if ttd else None  # type: ignore[type-var, arg-type]
    out["kinds"] = dict(sorted(kinds.items()))
    land = [r.raised[ri].start_s - r.clip.events[ti].start_s for r in results for ti, ri in r.matches
            if r.clip.events[ti].kind == "landslide"]
    n_land = sum(t.kind == "landslide" for r in results for t in r.clip.events)
    out["landslides_within_5s"] = _ratio(sum(d <= 5.0 for d in land), n_land)
    faults = [r.raised[ri].start_s - r.clip.events[ti].start_s for r in results for ti, ri in r.matches
              if family(r.clip.events[ti].kind) == "faults"]
    n_faults = sum(family(t.kind) == "faults" for r in results for t in r.clip.events)
    out["faults_within_10s"] = _ratio(sum(d <= 10.0 for d in faults), n_faults)
    # vehicles stopped past the limit (clips tagged "stopped"; labelled from stop + stopped_vehicle_s)
    stopped = [r.raised[ri].start_s - r.clip.events[ti].start_s for r in results if "stopped" in r.clip.tags
               for ti, ri in r.matches if r.clip.events[ti].kind == "road_blockage"]
    n_stopped = sum(t.kind == "road_blockage" for r in results if "stopped" in r.clip.tags
                    for t in r.clip.events)
    out["stopped_vehicles_within_10s"] = _ratio(sum(d <= 10.0 for d in stopped), n_stopped)
    clean = [r for r in results if not any(family(t.kind) == "faults" for t in r.clip.events)]
    out["faults_on_clean_clips"] = sum(family(e.kind) == "faults" for r in clean for e in r.raised)
    return out


# --- running -----------------------------------------------------------------------------------------

_MODELS: ModelBundle | None = None


def _init_worker() -> None:
    global _MODELS  # one model load per worker process, reused for every clip it runs
    _MODELS = load_models()


def check_models(settings: DetectionSettings) -> None:
    """Raise ModelError, saying what to build, when a model the run needs is missing."""
    bundle = load_models()
    if settings.decision == "learned" and bundle.decision is None:
        bundle.decide_probs(np.zeros((0, 1), np.float32))


def run_clip(clip: Clip, settings: DetectionSettings | None = None, models: ModelBundle | None = None,
             adaptive: bool = False, phase_s: float = 0.0, cell: str = "") -> ClipResult:
    """Analyse one clip (in a worker process or here), frames at k + ``phase_s`` s, and match its
    events; ``adaptive``: at the edge's adaptive rate (``gridwatch analyze --adaptive``; phase 0)."""
    t0 = time.perf_counter()
    try:
        rois = [parse_roi(r) for r in clip.rois]
        bundle = models or _MODELS or load_models()
        raised = analyze_file(clip.video, rois, settings or DetectionSettings(), bundle, clip.name,
                              adaptive=adaptive, phase_s=0.0 if adaptive else phase_s)
    except (VideoError, AdaptiveVideoError, ValueError, ModelError, OSError) as exc:
        return ClipResult(clip, [], time.perf_counter() - t0, error=str(exc), phase_s=phase_s, cell=cell)
    res = ClipResult(clip, raised, time.perf_counter() - t0, phase_s=phase_s, cell=cell)
    res.matches = match(clip.events, raised, clip.duration_s)
    return res


def run_all(clips: list[Clip], jobs: int, progress: bool = True,
            tasks: list[tuple[Clip, float, str]] | None = None, adaptive: bool = False,
            settings: DetectionSettings | None = None) -> list[ClipResult]:
    """Every clip at phase 0, or every (clip, phase, cell) of ``tasks``; results in the given order."""
    work = tasks if tasks is not None else [(c, 0.0, "") for c in clips]
    results: list[ClipResult] = []
    t0 = time.perf_counter()
    if jobs <= 1:
        _init_worker()
        for i, (clip, phase, cell) in enumerate(work, 1):
            results.append(run_clip(clip, settings, adaptive=adaptive, phase_s=phase, cell=cell))
            if progress:
                _progress(i, len(work), results[-1], t0)
        return results
    # the longest clips first keeps every worker busy to the end
    order = sorted(range(len(work)), key=lambda k: -work[k][0].duration_s)
    with ProcessPoolExecutor(max_workers=jobs, initializer=_init_worker) as pool:
        futures = {pool.submit(run_clip, work[k][0], settings, None, adaptive, work[k][1], work[k][2]): k
                   for k in order}
        done: dict[int, ClipResult] = {}
        for i, fut in enumerate(as_completed(futures), 1):
            done[futures[fut]] = fut.result()
            if progress:
                _progress(i, len(work), done[futures[fut]], t0)
    return [done[k] for k in range(len(work))]


def _progress(i: int, n: int, r: ClipResult, t0: float) -> None:
    status = f"ERROR {r.error}" if r.error else (
        f"{len(r.raised)} raised, {len(r.matches)}/{len(r.clip.events)} truth matched")
    where = f" [{r.cell}]" if r.cell else ""
    print(f"[{i}/{n}] {r.clip.name}{where}: {status} ({r.seconds:.1f} s; {time.perf_counter() - t0:.0f} s "
          f"total)", file=sys.stderr, flush=True)


def format_figures(fig: dict[str, object]) -> str:
    lines = [f"clips {fig['clips']}, {fig['hours']} camera-hours"]
    fams = fig["families"]
    assert isinstance(fams, dict)
    for name in ("obstructions", "faults", "all"):
        f = fams[name]
        lines.append(
            f"{name:13s} truth {f['truth']:3d} raised {f['raised']:3d} matched {f['matched']:3d}  "
            f"recall {_fmt(f['recall'])}  precision {_fmt(f['precision'])}  "
            f"median TTD {_fmt(f['median_time_to_detect_s'])} s  kind acc {_fmt(f['kind_accuracy'])}  "
            f"false alarms {f['false_alarms']} ({_fmt(f['false_alarms_per_camera_hour'])}/cam-h; "
            f"negatives {_fmt(f['false_alarms_on_negatives_per_camera_hour'])}/cam-h)")
    kinds = fig["kinds"]
    assert isinstance(kinds, dict)
    for k, v in kinds.items():
        lines.append(f"  {k:20s} {v['detected']}/{v['truth']} detected, kind correct {v['kind_correct']}, "
                     f"median TTD {_fmt(v['median_time_to_detect_s'])} s, "
                     f"max {_fmt(v['max_time_to_detect_s'])} s")
    lines.append(f"landslides within 5 s: {_fmt(fig['landslides_within_5s'])}; faults within 10 s: "
                 f"{_fmt(fig['faults_within_10s'])}; faults raised on clips without faults: "
                 f"{fig['faults_on_clean_clips']}")
    if fig.get("stopped_vehicles_within_10s") is not None:
        lines.append(f"stopped vehicles raised within 10 s of the limit: "
                     f"{_fmt(fig['stopped_vehicles_within_10s'])}")
    return "\n".join(lines)


def _fmt(v: object) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def load_dir(directory: Path) -> tuple[list[Clip], str | None]:
    """The usable clips of one labelled folder, or (no clips, why). Skipped labels are reported on stderr."""
    # index.json (the generator's table of contents) and split.json are not clip labels
    labels = sorted(p for p in directory.glob("*.json") if p.name not in ("index.json", "split.json"))
    if not labels:
        return [], f"no label files (*.json) in {directory}; see models/README.md"
    clips: list[Clip] = []
    for label in labels:
        try:
            clip = load_clip(label)
        except LabelError as exc:
            print(f"gridwatch eval: skipping {exc}", file=sys.stderr)
            continue
        if not clip.video.is_file():
            print(f"gridwatch eval: skipping {label.name}: video {clip.video.name} is missing",
                  file=sys.stderr)
            continue
        clips.append(clip)
    return clips, (None if clips else f"no usable clips in {directory}")


def per_clip_json(results: list[ClipResult]) -> list[dict[str, object]]:
    return [{"clip": r.clip.name, "cell": r.cell, "phase_s": r.phase_s, "tags": r.clip.tags, "error": r.error,
             "truth": [asdict(t) for t in r.clip.events],
             "raised": [e.line() | {"details": e.details} for e in r.raised],
             "matches": r.matches} for r in results]


def eval_cli(directory: Path, report: Path | None, json_out: Path | None, jobs: int | None,
             split: str | None = None, adaptive: bool = False, decision: str | None = None) -> int:
    """Entry point of ``gridwatch eval``; returns the exit code. ``split``: score a generated split's
    grid; ``adaptive``: analyse each clip at the edge's adaptive rate (not with ``split``); ``decision``:
    detection.decision for this run (None: the default)."""
    settings = DetectionSettings() if decision is None else DetectionSettings(decision=decision)
    directory = Path(directory)
    if not directory.is_dir():
        print(f"gridwatch eval: no such folder: {directory}", file=sys.stderr)
        return 2
    if split is not None and adaptive:
        print("gridwatch eval: --adaptive and --split do not go together (the grid's phases are fixed "
              "sampling times; the adaptive rate chooses its own)", file=sys.stderr)
        return 2
    if split is not None:
        from edge.evaluate_grid import grid_cli

        return grid_cli(directory, split, report, json_out, jobs, settings=settings)
    clips, why = load_dir(directory)
    if why is not None:
        print(f"gridwatch eval: {why}", file=sys.stderr)
        return 2
    try:
        check_models(settings)
    except ModelError as exc:
        print(f"gridwatch eval: {exc}", file=sys.stderr)
        return 2
    jobs = jobs or os.cpu_count() or 1
    results = run_all(clips, max(1, min(jobs, len(clips))), adaptive=adaptive, settings=settings)
    errors = [r for r in results if r.error]
    for r in errors:
        print(f"gridwatch eval: {r.clip.name}: {r.error}", file=sys.stderr)
    fig = score(results)
    print(format_figures(fig))
    if json_out is not None:
        json_out.write_text(json.dumps({"figures": fig, "clips": per_clip_json(results)}, indent=1) + "\n")
    if report is not None:
        from edge.report import write_report

        write_report(report, results, fig, format_figures(fig))
        print(f"report written to {report}", file=sys.stderr)
    return 1 if errors and len(errors) == len(results) else 0
