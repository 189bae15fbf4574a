"""The bench's test streams: 720p25 H.264 clips made once with ffmpeg from the real footage.

data/footage/vtest.avi (people walking over a road crossing), replayed 2.5x fast so there is plenty
of motion, with sensor-like noise, ~2 Mbit/s, no B-frames (as IP cameras send), a key frame every
``gop_s`` seconds; four variants (as is, mirrored, two crops) so cameras do not all show one picture.
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._common import DATA, ROOT

FOOTAGE = ROOT / "data" / "footage" / "vtest.avi"
VARIANTS = {
    "a": "scale=1280:720",
    "b": "hflip,scale=1280:720",
    "c": "crop=640:480:0:96,scale=1280:720",
    "d": "crop=640:480:128:0,scale=1280:720",
}
STREAM_FPS = 25
CLIP_S = 60


def clip_path(variant: str, gop_s: float) -> Path:
    return DATA / f"cam720_g{gop_s:g}s_{variant}.mp4"


def make_clip(variant: str, gop_s: float) -> Path:
    """One 60 s 720p25 H.264 clip with a key frame every ``gop_s`` seconds (made once)."""
    out = clip_path(variant, gop_s)
    if out.exists():
        return out
    if not FOOTAGE.exists():
        raise SystemExit(f"{FOOTAGE} is missing: run scripts/fetch_footage.sh first")
    DATA.mkdir(parents=True, exist_ok=True)
    gop = str(round(gop_s * STREAM_FPS))
    tmp = out.with_suffix(".part.mp4")
    vf = f"setpts=0.4*PTS,{VARIANTS[variant]},fps={STREAM_FPS},noise=alls=6:allf=t"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", "-stream_loop", "2", "-i", str(FOOTAGE),
         "-vf", vf, "-t", str(CLIP_S), "-c:v", "libx264", "-preset", "veryfast", "-b:v", "2M",
         "-maxrate", "2M", "-bufsize", "4M", "-bf", "0", "-g", gop, "-keyint_min", gop,
         "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart", str(tmp)],
        check=True,
    )
    tmp.rename(out)
    return out


def ensure_clips(gop_s: float) -> list[Path]:
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda v: make_clip(v, gop_s), VARIANTS))
