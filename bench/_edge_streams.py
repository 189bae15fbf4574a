"""The bench's test streams: 720p25 H.264 clips made once with ffmpeg from the real footage.

data/footage/vtest.avi (people walking over a road crossing), replayed 2.5x fast so there is plenty
of motion, with sensor-like noise, ~2 Mbit/s, no B-frames (as IP cameras send), a key frame every
``gop_s`` seconds; four variants (as is, mirrored, two crops) so cameras do not all show one picture.
Also at 360p (a camera's sub-stream: 640x360 at a quarter of the bitrate), same footage and settings,
and a quiet scene (one picture of the footage held still, with the same noise: an empty road).
"""

from __future__ import annotations

import subprocess
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench._common import DATA, ROOT

FOOTAGE = ROOT / "data" / "footage" / "vtest.avi"
VARIANTS = {
    "a": "",
    "b": "hflip,",
    "c": "crop=640:480:0:96,",
    "d": "crop=640:480:128:0,",
}
STREAM_FPS = 25
CLIP_S = 60
#: Bitrate at 720p; other heights get it scaled by their pixels (a 360p sub-stream: 0.5 Mbit/s).
BITRATE_720P = 2_000_000


#: A quiet scene (an empty village road, most of a town's cameras most of the day): one picture of
#: the footage held still (what stands in it stands for good), with the same sensor-like noise.
QUIET_AT_S = 2.0


def clip_path(variant: str, gop_s: float, height: int = 720, scene: str = "busy") -> Path:
    tag = "" if scene == "busy" else f"{scene}_"
    return DATA / f"cam{height}_g{gop_s:g}s_{tag}{variant}.mp4"


def make_clip(variant: str, gop_s: float, height: int = 720, scene: str = "busy") -> Path:
    """One 60 s H.264 clip, 25 fps, 16:9 at ``height`` lines, with a key frame every ``gop_s`` seconds
    (made once). ``scene`` "busy": the footage replayed fast (people and bicycles crossing all the
    time); "quiet": one picture of it held still, noise only."""
    out = clip_path(variant, gop_s, height, scene)
    if out.exists():
        return out
    if not FOOTAGE.exists():
        raise SystemExit(f"{FOOTAGE} is missing: run scripts/fetch_footage.sh first")
    DATA.mkdir(parents=True, exist_ok=True)
    gop = str(round(gop_s * STREAM_FPS))
    tmp = out.with_suffix(".part.mp4")
    width = round(height * 16 / 9 / 2) * 2
    rate = round(BITRATE_720P * (height / 720) ** 2)
    noise = f"{VARIANTS[variant]}scale={width}:{height},fps={STREAM_FPS},noise=alls=6:allf=t"
    if scene == "quiet":
        source = ["-ss", str(QUIET_AT_S), "-i", str(FOOTAGE)]
        vf = f"trim=end_frame=1,loop=loop=-1:size=1:start=0,setpts=N/{STREAM_FPS}/TB,{noise}"
    else:
        source = ["-stream_loop", "2", "-i", str(FOOTAGE)]
        vf = f"setpts=0.4*PTS,{noise}"
    subprocess.run(
        ["ffmpeg", "-hide_banner", "-loglevel", "error", "-y", *source,
         "-vf", vf, "-t", str(CLIP_S), "-c:v", "libx264", "-preset", "veryfast", "-b:v", str(rate),
         "-maxrate", str(rate), "-bufsize", str(2 * rate), "-bf", "0", "-g", gop, "-keyint_min", gop,
         "-sc_threshold", "0", "-pix_fmt", "yuv420p", "-an", "-movflags", "+faststart", str(tmp)],
        check=True,
    )
    tmp.rename(out)
    return out


def variants(scene: str) -> list[str]:
    """Variants of a scene: four of the busy one; two (as is, mirrored) of the still quiet one."""
    return list(VARIANTS) if scene == "busy" else ["a", "b"]


def ensure_clips(gop_s: float, height: int = 720, scene: str = "busy") -> list[Path]:
    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(lambda v: make_clip(v, gop_s, height, scene), variants(scene)))
