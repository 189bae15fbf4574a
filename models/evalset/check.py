"""Validate a generated set: every label well formed and every video as long as its label says.

``python -m models.evalset.check OUT_DIR`` prints a summary (clips, camera-hours, events per kind, tags)
and one line per problem; exit status 1 if there is any. Videos are only demuxed (no decoding), so it
takes seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

import av

from gridwatch.config import parse_roi
from gridwatch.wire import EventKind

KINDS = frozenset(k.value for k in EventKind)


def label_problems(lb: dict, warmup_s: float = 20.0) -> list[str]:
    """What is wrong with one label object (empty when it is fine)."""
    out: list[str] = []
    dur = lb.get("duration_s")
    if not isinstance(dur, (int, float)) or dur <= 0:
        return [f"bad duration_s {dur!r}"]
    if not isinstance(lb.get("fps"), (int, float)) or lb["fps"] <= 0:
        out.append(f"bad fps {lb.get('fps')!r}")
    tags = lb.get("tags") or []
    if not tags or tags[0] not in ("day", "dusk", "night"):
        out.append(f"first tag must be day/dusk/night, got {tags[:1]}")
    for roi in lb.get("rois", []):
        try:
            parse_roi(roi)
        except ValueError as e:
            out.append(str(e))
    for ev in lb.get("events", []):
        if ev.get("kind") not in KINDS:
            out.append(f"unknown kind {ev.get('kind')!r}")
        start, end = ev.get("start_s"), ev.get("end_s")
        if not isinstance(start, (int, float)) or not warmup_s <= start < dur:
            out.append(f"{ev.get('kind')}: start_s {start!r} not within {warmup_s}..{dur}")
        elif end is not None and not start < end <= dur:
            out.append(f"{ev.get('kind')}: end_s {end!r} not within start_s..{dur}")
        box = ev.get("bbox")
        if box is not None and not (
            len(box) == 4 and 0 <= box[0] < box[2] <= 1 and 0 <= box[1] < box[3] <= 1
        ):
            out.append(f"{ev.get('kind')}: bad bbox {box!r}")
    return out


def video_span(path: Path) -> tuple[int, float]:
    """(frames, time just after the last frame) by demuxing only."""
    with av.open(str(path)) as c:
        st = c.streams.video[0]
        n, last = 0, 0.0
        for pkt in c.demux(st):
            if pkt.pts is None:
                continue
            n += 1
            last = max(last, float(pkt.pts * pkt.time_base))
        rate = float(st.average_rate or 10)
    return n, last + 1.0 / rate


def check_dir(out_dir: Path) -> tuple[list[str], dict]:
    problems: list[str] = []
    index = json.loads((out_dir / "index.json").read_text())
    kinds: Counter[str] = Counter()
    tags: Counter[str] = Counter()
    hours = 0.0
    for clip in index["clips"]:
        name = clip["name"]
        lb = json.loads((out_dir / clip["labels"]).read_text())
        problems += [f"{name}: {p}" for p in label_problems(lb)]
        n, span = video_span(out_dir / lb["video"])
        if abs(span - lb["duration_s"]) > 1.5 / lb["fps"]:
            problems.append(f"{name}: video spans {span:.2f}s, label says {lb['duration_s']}s")
        if n == 0:
            problems.append(f"{name}: no frames")
        kinds.update(e["kind"] for e in lb["events"])
        if not lb["events"]:
            kinds["(negative)"] += 1
        tags.update(lb["tags"])
        hours += lb["duration_s"] / 3600
    summary = {
        "clips": len(index["clips"]),
        "camera_hours": round(hours, 3),
        "events": dict(kinds),
        "tags": dict(tags),
    }
    return problems, summary


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m models.evalset.check", description=__doc__)
    p.add_argument("out_dir", type=Path)
    args = p.parse_args(argv)
    if not (args.out_dir / "index.json").is_file():
        print(f"error: {args.out_dir}/index.json not found (generate the set first)", file=sys.stderr)
        return 2
    problems, summary = check_dir(args.out_dir)
    print(json.dumps(summary, indent=1, sort_keys=True))
    for line in problems:
        print(line, file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
