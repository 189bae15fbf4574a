"""Command line: render the evaluation set (or a quick subset) into OUT_DIR, clips in parallel.

``python -m models.evalset.generate OUT_DIR [--quick] [--seed N] [--only PATTERN] [--jobs N]``
writes the legacy set: OUT_DIR/<name>.mp4 + OUT_DIR/<name>.json per clip and OUT_DIR/index.json.

``python -m models.evalset.generate OUT_DIR --split dev|test [--quick] [--seeds A,B,C] [--jobs N]``
writes one split for every master seed of its robustness grid (``splits``): OUT_DIR/split.json
(split, seeds, quick) and OUT_DIR/seed-<S>/ per seed, each a plain labelled set with its index.json.
``gridwatch eval OUT_DIR --split test`` scores that directory over seeds x sampling phases.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import cv2

from models.evalset.render import ClipRenderer, ClipSpec
from models.evalset.splits import assets
from models.evalset.textures import Textures
from models.evalset.writer import Mp4Writer

DEFAULT_FOOTAGE = Path(__file__).resolve().parents[2] / "data" / "footage" / "vtest.avi"


_TEXTURES: dict[str, Textures] = {}


def _textures(source: str) -> Textures:
    # made once per worker process and source (the procedural family takes about a second)
    if source not in _TEXTURES:
        _TEXTURES[source] = Textures(source)
    return _TEXTURES[source]


def render_clip(spec: ClipSpec, mp4: Path, label_path: Path | None, footage: Path) -> dict:
    """Render one clip to ``mp4`` (written under a temporary name, then moved) and its labels."""
    renderer = ClipRenderer(spec, _textures(assets(spec.split).textures), footage)
    labels = renderer.label_json()
    labels["video"] = mp4.name
    tmp = mp4.with_name(f".{mp4.stem}.tmp.mp4")
    writer = Mp4Writer(tmp, renderer.size[0], renderer.size[1], spec.fps, crf=spec.crf)
    try:
        for slot, rgb in renderer.frames():
            writer.write(rgb, slot)
    finally:
        writer.close()
    tmp.replace(mp4)
    if label_path is not None:
        label_path.write_text(json.dumps(labels, indent=1) + "\n")
    return labels


def render_to_files(spec: ClipSpec, out_dir: Path, footage: Path) -> dict:
    """Render one clip to OUT_DIR/<name>.mp4 and OUT_DIR/<name>.json; returns the label object."""
    return render_clip(spec, out_dir / f"{spec.name}.mp4", out_dir / f"{spec.name}.json", footage)


def _job(spec: ClipSpec, out_dir: str, footage: str) -> tuple[str, dict, float]:
    # the pool already runs one clip per core; OpenCV's own threads would only fight over them
    cv2.setNumThreads(1)
    t0 = time.monotonic()
    labels = render_to_files(spec, Path(out_dir), Path(footage))
    return spec.name, labels, time.monotonic() - t0


def generate(
    out_dir: Path, specs: list[ClipSpec], footage: Path, jobs: int, merge: bool = False
) -> list[dict]:
    """Render ``specs`` into ``out_dir`` and write its index (``merge``: keep other clips already listed)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    if not footage.is_file() and any(s.scene.startswith("real") for s in specs):
        raise FileNotFoundError(f"real footage {footage} is missing: run scripts/fetch_footage.sh first")
    results: dict[str, dict] = {}
    t0 = time.monotonic()
    # longest first keeps the pool busy to the end
    order = sorted(specs, key=lambda s: -s.duration)

    def report(k: int, name: str, labels: dict, secs: float) -> None:
        results[name] = labels
        kinds = ",".join(e["kind"] for e in labels["events"]) or "-"
        print(
            f"[{k}/{len(specs)}] {name} {labels['duration_s']:.0f}s {kinds} ({secs:.1f}s, "
            f"{time.monotonic() - t0:.0f}s total)",
            file=sys.stderr,
            flush=True,
        )

    if jobs <= 1:
        for k, s in enumerate(order, 1):
            report(k, *_job(s, str(out_dir), str(footage)))
    else:
        # spawn, not fork: a forked child can inherit OpenCV's or the codec's thread locks mid-flight
        ctx = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
            futs = [pool.submit(_job, s, str(out_dir), str(footage)) for s in order]
            for k, fut in enumerate(as_completed(futs), 1):
                report(k, *fut.result())
    index = []
    index_path = out_dir / "index.json"
    if merge and index_path.is_file():
        # a partial run (--only) updates its clips and keeps the others that are still on disk
        try:
            old = json.loads(index_path.read_text()).get("clips", [])
        except (ValueError, AttributeError):
            old = []
        fresh = {s.name for s in specs}
        index = [c for c in old if c.get("name") not in fresh and (out_dir / str(c.get("video"))).is_file()]
    for s in specs:
        lb = results[s.name]
        index.append(
            {
                "name": s.name,
                "video": lb["video"],
                "labels": f"{s.name}.json",
                "duration_s": lb["duration_s"],
                "tags": lb["tags"],
                "kinds": sorted({e["kind"] for e in lb["events"]}),
            }
        )
    hours = sum(x["duration_s"] for x in index) / 3600
    index.sort(key=lambda c: c["name"])
    index_path.write_text(json.dumps({"clips": index, "camera_hours": round(hours, 3)}, indent=1) + "\n")
    print(
        f"wrote {len(index)} clips, {hours:.2f} camera-hours, in {time.monotonic() - t0:.0f}s to {out_dir}",
        file=sys.stderr,
    )
    return index


def generate_split(
    out_dir: Path, split: str, seeds: list[int], quick: bool, footage: Path, jobs: int, only: str | None
) -> int:
    """Every seed of ``split`` into OUT_DIR/seed-<S>/, all clips in one pool; writes OUT_DIR/split.json."""
    from models.evalset.split_catalog import split_catalog

    per_seed: dict[int, list[ClipSpec]] = {}
    for seed in seeds:
        specs = split_catalog(split, seed, quick)
        if only:
            specs = [s for s in specs if fnmatch.fnmatch(s.name, only) or only in s.name]
        per_seed[seed] = specs
    if not any(per_seed.values()):
        print(f"no clip matches {only!r}", file=sys.stderr)
        return 2
    out_dir.mkdir(parents=True, exist_ok=True)
    for seed, specs in per_seed.items():
        generate(out_dir / f"seed-{seed}", specs, footage, jobs, merge=bool(only))
    manifest = {"split": split, "seeds": seeds, "quick": quick,
                "cells": [f"seed-{s}" for s in seeds]}
    (out_dir / "split.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return 0


def main(argv: list[str] | None = None) -> int:
    from models.evalset.catalog import catalog
    from models.evalset.splits import SPLITS

    p = argparse.ArgumentParser(prog="python -m models.evalset.generate", description=__doc__)
    p.add_argument("out_dir", type=Path)
    p.add_argument("--quick", action="store_true", help="a small representative subset (about 12 clips)")
    p.add_argument("--seed", type=int, default=0, help="master seed (default 0)")
    p.add_argument("--only", default=None, help="only clips whose name matches this glob, e.g. 'fault_*'")
    p.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel processes")
    p.add_argument("--footage", type=Path, default=DEFAULT_FOOTAGE, help="path to vtest.avi")
    p.add_argument("--split", choices=sorted(n for n in SPLITS if n != "legacy"), default=None,
                   help="write this split for every seed of its grid into OUT_DIR/seed-<S>/ (default: the "
                        "legacy set, flat)")
    p.add_argument("--seeds", default=None,
                   help="with --split: comma-separated master seeds (default: the split's grid seeds, or "
                        "its quick seed with --quick)")
    args = p.parse_args(argv)
    if args.split is not None:
        a = SPLITS[args.split]
        if args.seeds:
            seeds = [int(x) for x in args.seeds.split(",") if x.strip()]
        else:
            seeds = [a.quick_seed] if args.quick else list(a.seeds)
        try:
            return generate_split(args.out_dir, args.split, seeds, args.quick, args.footage,
                                  max(1, args.jobs), args.only)
        except FileNotFoundError as e:
            print(f"error: {e}", file=sys.stderr)
            return 2
    specs = catalog(args.seed, args.quick)
    if args.only:
        specs = [s for s in specs if fnmatch.fnmatch(s.name, args.only) or args.only in s.name]
        if not specs:
            print(f"no clip matches {args.only!r}", file=sys.stderr)
            return 2
    try:
        generate(args.out_dir, specs, args.footage, max(1, args.jobs), merge=bool(args.only))
    except FileNotFoundError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
