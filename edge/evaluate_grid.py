"""``gridwatch eval DIR --split test``: score a generated split over its robustness grid (seeds x phases).

DIR is what ``python -m models.evalset.generate DIR --split test`` writes: ``split.json`` naming the
split and its seeds, and one labelled folder ``seed-<S>/`` per master seed. Every clip of every seed is
analysed at every sampling phase (the analysed frames taken at k + phase seconds); each (seed, phase)
is one cell, scored with the matching rule of models/README.md. The headline is the mean over cells
and the worst cell of each figure: a target holds only if it holds in the worst cell.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
from pathlib import Path

from edge.evaluate import Clip, ClipResult, check_models, load_dir, per_clip_json, run_all, score
from edge.onnx_models import ModelError
from gridwatch.config import DetectionSettings

#: Sampling phases of the grid (s); the generator's ``models.evalset.splits.PHASES`` holds the same.
PHASES: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75)

#: (label, path into ``score``'s figures, which way is worse) for the headline table.
HEADLINE: tuple[tuple[str, tuple[str, ...], str], ...] = (
    ("obstr recall", ("families", "obstructions", "recall"), "low"),
    ("obstr precision", ("families", "obstructions", "precision"), "low"),
    ("obstr kind acc", ("families", "obstructions", "kind_accuracy"), "low"),
    ("obstr median TTD s", ("families", "obstructions", "median_time_to_detect_s"), "high"),
    ("landslides <= 5 s", ("landslides_within_5s",), "low"),
    ("stopped <= limit+10 s", ("stopped_vehicles_within_10s",), "low"),
    ("fault recall", ("families", "faults", "recall"), "low"),
    ("fault precision", ("families", "faults", "precision"), "low"),
    ("faults <= 10 s", ("faults_within_10s",), "low"),
    ("false alarms/cam-h neg", ("families", "all", "false_alarms_on_negatives_per_camera_hour"), "high"),
    ("false alarms (count)", ("families", "all", "false_alarms"), "high"),
)


class GridError(ValueError):
    """The directory is not a generated split."""


def read_manifest(directory: Path, split: str) -> list[str]:
    """The cell folders of a generated split (``split.json``); GridError says what is wrong."""
    path = directory / "split.json"
    if not path.is_file():
        raise GridError(f"{path} is missing: generate the split with "
                        f"'python -m models.evalset.generate {directory} --split {split}'")
    try:
        manifest = json.loads(path.read_text())
        found, cells = str(manifest["split"]), [str(c) for c in manifest["cells"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise GridError(f"{path}: not a split manifest ({exc})") from exc
    if found != split:
        raise GridError(f"{directory} holds the {found!r} split, not {split!r}")
    missing = [c for c in cells if not (directory / c).is_dir()]
    if missing:
        raise GridError(f"{directory}: seed folders missing: {', '.join(missing)}")
    return cells


def _get(fig: dict, path: tuple[str, ...]) -> float | None:
    cur: object = fig
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return float(cur) if isinstance(cur, (int, float)) else None


def summarise(cells: dict[str, dict]) -> dict[str, dict[str, object]]:
    """Per headline figure: mean over the cells that have it, the worst value and the worst cell."""
    out: dict[str, dict[str, object]] = {}
    for label, path, worse in HEADLINE:
        vals = {c: v for c, f in cells.items() if (v := _get(f, path)) is not None}
        if not vals:
            out[label] = {"mean": None, "worst": None, "worst_cell": None}
            continue
        pick = min if worse == "low" else max
        worst_cell = pick(vals, key=lambda c: vals[c])
        out[label] = {"mean": round(statistics.fmean(vals.values()), 4), "worst": vals[worst_cell],
                      "worst_cell": worst_cell}
    return out


def format_grid(cells: dict[str, dict], summary: dict[str, dict[str, object]]) -> str:
    """One row per cell, then the mean and the worst of every column (legend below the table)."""
    cols = [f"{k + 1:>7d}" for k in range(len(HEADLINE))]
    lines = [f"{'cell':18s}" + "".join(cols)]

    def cell(v: object) -> str:
        return f"{'-' if v is None else f'{float(v):.3f}':>7s}"  # type: ignore[arg-type]

    for name, fig in cells.items():
        lines.append(f"{name:18s}" + "".join(cell(_get(fig, path)) for _, path, _ in HEADLINE))
    lines.append(f"{'mean':18s}" + "".join(cell(summary[label]["mean"]) for label, _, _ in HEADLINE))
    lines.append(f"{'worst':18s}" + "".join(cell(summary[label]["worst"]) for label, _, _ in HEADLINE))
    lines.append("columns: " + "; ".join(
        f"{k + 1} {label} (worst in {summary[label]['worst_cell'] or '-'})"
        for k, (label, _, _) in enumerate(HEADLINE)))
    return "\n".join(lines)


def grid_tasks(directory: Path, cells: list[str], phases: tuple[float, ...]
               ) -> tuple[list[tuple[Clip, float, str]], list[str]]:
    tasks: list[tuple[Clip, float, str]] = []
    problems: list[str] = []
    for cell in cells:
        clips, why = load_dir(directory / cell)
        if why is not None:
            problems.append(why)
        for phase in phases:
            tasks += [(clip, phase, f"{cell}@{phase:g}") for clip in clips]
    return tasks, problems


def grid_cli(directory: Path, split: str, report: Path | None, json_out: Path | None, jobs: int | None,
             phases: tuple[float, ...] = PHASES, settings: DetectionSettings | None = None) -> int:
    """Score every (seed, phase) cell of a generated split; print per cell, mean and worst."""
    try:
        cells = read_manifest(directory, split)
    except GridError as exc:
        print(f"gridwatch eval: {exc}", file=sys.stderr)
        return 2
    tasks, problems = grid_tasks(directory, cells, phases)
    if problems:
        for p in problems:
            print(f"gridwatch eval: {p}", file=sys.stderr)
        return 2
    try:
        check_models(settings or DetectionSettings())
    except ModelError as exc:
        print(f"gridwatch eval: {exc}", file=sys.stderr)
        return 2
    jobs = jobs or os.cpu_count() or 1
    results = run_all([], max(1, min(jobs, len(tasks))), tasks=tasks, settings=settings)
    errors = [r for r in results if r.error]
    for r in errors:
        print(f"gridwatch eval: {r.cell} {r.clip.name}: {r.error}", file=sys.stderr)
    by_cell: dict[str, list[ClipResult]] = {}
    for r in results:
        by_cell.setdefault(r.cell, []).append(r)
    figures = {cell: score(rs) for cell, rs in by_cell.items()}
    summary = summarise(figures)
    n_clips = len(tasks) // max(1, len(phases))
    print(f"split {split}: {len(cells)} seeds x {len(phases)} phases = {len(figures)} cells, "
          f"{n_clips} clips per phase")
    print(format_grid(figures, summary))
    if json_out is not None:
        doc = {"split": split, "seeds": cells, "phases": list(phases), "cells": figures, "summary": summary,
               "clips": per_clip_json(results)}
        json_out.write_text(json.dumps(doc, indent=1) + "\n")
    if report is not None:
        from edge.report import write_report

        worst = summary["obstr recall"]["worst_cell"] or next(iter(figures))
        write_report(report, by_cell[str(worst)], figures[str(worst)], f"worst cell {worst}")
        print(f"report (worst cell by obstruction recall, {worst}) written to {report}", file=sys.stderr)
    return 1 if errors and len(errors) == len(results) else 0
