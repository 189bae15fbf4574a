"""Decoding alone, one stream unpaced: where the edge worker's CPU goes (``edge_cost --phase decode``).

Every frame, key frames only, and what the reader decodes (``DecodePlan`` at the analysis rate), with
FFmpeg's default options and without the deblocking filter; the conversion of a taken frame; and, with
a hardware decoder, the same on the GPU with how far its pictures differ from the CPU decoder's.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from bench._common import ROOT, cpu_seconds
from bench._edge_streams import CLIP_S, STREAM_FPS, clip_path


def decode_pass(clip: Path, mode: str, fps: float, options: dict[str, str] | None = None,
                hwaccel: Any = None, width: int | None = None) -> tuple[dict[str, Any], list[Any]]:
    """Decode one clip alone, unpaced: ``mode`` "all_frames", "key_frames", or "reader_plan" (what
    the reader decodes: ``DecodePlan`` at ``fps``); with ``width``, each taken frame is also
    converted to the analysis size (and returned). CPU time per camera-second, and the frames."""
    import av
    from av.video.reformatter import VideoReformatter

    from edge.decode import ANALYSIS_INTERPOLATION, DecodePlan, analysis_size

    plan, rf = DecodePlan(fps), VideoReformatter()
    frames, taken, images = 0, 0, []
    c0, w0 = cpu_seconds(), time.monotonic()
    with av.open(str(clip), hwaccel=hwaccel) as c:
        s = c.streams.video[0]
        s.codec_context.thread_count = 1
        s.codec_context.options = dict(options or {})
        used_hw = s.codec_context.is_hwaccel
        applied = s.codec_context.skip_frame = "NONKEY" if mode == "key_frames" else "DEFAULT"
        for packet in c.demux(s):
            if mode == "reader_plan":
                plan.packet(packet.is_keyframe)
                if plan.skip_mode != applied:
                    applied = s.codec_context.skip_frame = plan.skip_mode
            for vf in packet.decode():
                frames += 1
                if mode == "key_frames" and width is not None:  # every key frame taken, as when quiet
                    w, h = analysis_size(vf.width, vf.height, width)
                    rf.reformat(vf, w, h, format="bgr24", interpolation=ANALYSIS_INTERPOLATION).to_ndarray()
                    taken += 1
                if mode == "reader_plan" and plan.frame(float(vf.time), vf.key_frame):
                    taken += 1
                    if width is not None:
                        w, h = analysis_size(vf.width, vf.height, width)
                        images.append(rf.reformat(vf, w, h, format="bgr24",
                                                  interpolation=ANALYSIS_INTERPOLATION).to_ndarray())
                    if plan.skip_mode != applied:
                        applied = s.codec_context.skip_frame = plan.skip_mode
    cpu, wall = cpu_seconds() - c0, time.monotonic() - w0
    out = {"frames": frames, "cpu_s": round(cpu, 3), "wall_s": round(wall, 3), "hw_decoding": used_hw,
           "cpu_per_camera_s": cpu / CLIP_S, "ms_per_frame": 1000 * cpu / frames,
           "decoded_per_camera_s": frames / CLIP_S}
    if mode == "reader_plan" or width is not None:
        out["taken"] = taken
    return out, images


def phase_decode(args: argparse.Namespace) -> dict[str, Any]:
    """Decoding alone, one stream, unpaced: every frame, key frames only, and what the reader decodes
    (``DecodePlan`` at the analysis rate), each with FFmpeg's default options (the reader's default)
    and with ``FAST_DECODER_OPTIONS`` (no deblocking filter); plus the conversion of a taken frame."""
    import av
    from av.video.reformatter import VideoReformatter

    from edge.decode import ANALYSIS_INTERPOLATION, FAST_DECODER_OPTIONS, analysis_size, scale_bgr
    from gridwatch.config import load_town

    detection = load_town(ROOT / "configs" / "yongshan").detection
    out: dict[str, Any] = {}
    clip = clip_path("a", args.gop)
    for opts_name, opts in (("", {}), ("_no_deblock", FAST_DECODER_OPTIONS)):
        for mode in ("all_frames", "key_frames", "reader_plan"):
            out[mode + opts_name] = decode_pass(clip, mode, detection.analysis_fps, opts)[0]
    # The floor: key frames only, on each scene and size the worker runs read.
    for scene in ("busy", "quiet"):
        for height in (720, 360):
            out[f"key_frames_{scene}_{height}"] = decode_pass(clip_path("a", args.gop, height, scene),
                                                              "key_frames", detection.analysis_fps)[0]
    # The floor with what a quiet worker must add to it: each key frame converted to the analysis size.
    out["key_frames_converted_quiet_720"] = decode_pass(clip_path("a", args.gop, 720, "quiet"), "key_frames",
                                                        detection.analysis_fps,
                                                        width=detection.analysis_width)[0]
    if args.hw_decode:
        out.update(decode_hw(args.hw_decode, clip, detection.analysis_fps, detection.analysis_width))
    # The conversion of an analysis frame: before (bgr24 at 720p, then cv2 area resize) and now (one
    # swscale pass to the analysis size).
    with av.open(str(clip)) as c:
        frames_1fps = [vf for i, vf in enumerate(c.decode(video=0)) if i % STREAM_FPS == 0]
    size = analysis_size(frames_1fps[0].width, frames_1fps[0].height, detection.analysis_width)
    c0 = cpu_seconds()
    for vf in frames_1fps:
        scale_bgr(vf.to_ndarray(format="bgr24"), size)
    full_then_resize = (cpu_seconds() - c0) / len(frames_1fps)
    rf = VideoReformatter()
    c0 = cpu_seconds()
    for vf in frames_1fps:
        rf.reformat(vf, size[0], size[1], format="bgr24", interpolation=ANALYSIS_INTERPOLATION).to_ndarray()
    one_pass = (cpu_seconds() - c0) / len(frames_1fps)
    out["convert_ms_per_frame"] = {"bgr24_720p_then_resize": round(1000 * full_then_resize, 3),
                                   "one_swscale_pass": round(1000 * one_pass, 3)}
    return out


def decode_hw(kind: str, clip: Path, fps: float, width: int) -> dict[str, Any]:
    """The reader's decoding (``DecodePlan``) on the hardware decoder and on the CPU, one stream
    unpaced: CPU time per camera-second, including taking each due frame to the analysis size (on
    the GPU path that is the download too), and how far the taken pictures differ."""
    import numpy as np

    from edge.hwdecode import open_hw_decoder
    from gridwatch.config.schema import HardwareDecoding

    accel = open_hw_decoder(HardwareDecoding(device_type=kind))
    out: dict[str, Any] = {}
    taken_by: dict[str, list[Any]] = {}
    for name, mode, hw in (("reader_plan_cpu_with_conversion", "reader_plan", None),
                           ("reader_plan_hw_with_conversion", "reader_plan", accel),
                           ("all_frames_hw", "all_frames", accel)):
        out[name], taken_by[name] = decode_pass(clip, mode, fps, hwaccel=hw, width=width)
    a, b = taken_by["reader_plan_cpu_with_conversion"], taken_by["reader_plan_hw_with_conversion"]
    diffs = [np.abs(x.astype(np.int16) - y.astype(np.int16)) for x, y in zip(a, b, strict=False)]
    out["hw_vs_cpu_pictures"] = {
        "frames_compared": len(diffs), "same_count": len(a) == len(b),
        "identical_frames": sum(int(d.max() == 0) for d in diffs),
        "max_abs_diff": int(max(d.max() for d in diffs)) if diffs else None,
        "mean_abs_diff": float(np.mean([d.mean() for d in diffs])) if diffs else None}
    return out
