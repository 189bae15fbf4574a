"""Make the demo's bundled clip: a village road where a landslide blocks the road, stays, and is cleared.

``python scripts/make_demo_clip.py OUT.mp4 [--seed N]`` writes OUT.mp4 (640x360, about 90 s) and OUT.json
(the labels, also printed on stderr). Played in a loop, the demo raises and clears the event each lap.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models.evalset.generate import DEFAULT_FOOTAGE, render_clip
from models.evalset.render import ClipSpec


def demo_spec(seed: int, duration: float = 90.0) -> ClipSpec:
    """~22 s of traffic, material slides for 3 s, rests about 45 s, is cleared, 20 s of normal road again."""
    t = 22.0
    event = {
        "kind": "landslide",
        "t": t,
        "motion_s": 3.0,
        "cover": 0.85,
        "length": 10.0,
        "slope_m": 3.5,
        "rgb": (0.5, 0.38, 0.26),
        "material": "gravel",
        "boulders": 9,
        "pos": 0.45,
        "end": t + 3.0 + 45.0,
    }
    return ClipSpec(
        name="demo_landslide",
        duration=duration,
        scene="across",
        seed=seed,
        period="day",
        clouds=0.2,
        traffic=5.0,
        people=1.0,
        events=[event],
        crf=28,
        tags=["demo", "across", "traffic", "clouds"],
    )


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path, help="output .mp4")
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)
    if args.out.suffix != ".mp4":
        print("error: the output must be an .mp4 file", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    labels = render_clip(demo_spec(args.seed), args.out, args.out.with_suffix(".json"), DEFAULT_FOOTAGE)
    print(json.dumps(labels), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
