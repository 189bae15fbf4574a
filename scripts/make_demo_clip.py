"""Make the demo's clip: a village road where a landslide blocks the road, stays, and is cleared.

``python scripts/make_demo_clip.py OUT.mp4 [--seed N]`` writes OUT.mp4 (640x360, 100 s) and OUT.json
(the labels, also printed on stderr). Played in a loop, the demo raises and clears the event each lap.
The clip is made by :mod:`gridwatch.democlip` (run-time packages only); ``gridwatch demo`` calls it too.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from gridwatch.democlip import make_demo_clip


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("out", type=Path, help="output .mp4")
    p.add_argument("--seed", type=int, default=3)
    args = p.parse_args(argv)
    if args.out.suffix != ".mp4":
        print("error: the output must be an .mp4 file", file=sys.stderr)
        return 2
    args.out.parent.mkdir(parents=True, exist_ok=True)
    labels = make_demo_clip(args.out, seed=args.seed)
    print(json.dumps(labels), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
