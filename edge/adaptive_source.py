"""Offline frames at the adaptive rate: ``gridwatch analyze --adaptive`` decodes a file as a reader would.

The same :class:`edge.decode.DecodePlan` the live reader (``edge.sources``) applies, packet by
packet: key frames only while the analysis says the scene is quiet (their non-key packets parked,
then dropped at the next key packet), frames at the configured rate while it wants them dense (the
parked packets decoded first: they are the references). The consumer analyses each frame before the
next is decoded, so its answer (``dense_until``) is always current: offline, the switch to dense
frames happens at the very next packet, as it does live when analysis keeps up. Pictures are
converted exactly as ``edge.analyze.frames_of`` converts them, so both paths score the same pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import av
import numpy as np

from edge.decode import DecodePlan
from edge.frames import Frame

_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)  # the same fixed wall clock as edge.analyze


class AdaptiveVideoError(RuntimeError):
    """The video cannot be opened or decoded."""


@dataclass
class AdaptiveStats:
    """What the adaptive pass decoded, for the summary and the tests."""

    packets: int = 0
    decoded: int = 0
    taken: int = 0
    quiet_taken: int = 0      # frames taken while the scene was quiet (key frames)
    parked_dropped: int = 0   # packets never decoded


def adaptive_frames(video: Path, width: int, fps: float, dense_until: Callable[[], float],
                    stats: AdaptiveStats | None = None) -> Iterator[Frame]:
    """Frames of ``video`` scaled to ``width``, at ``fps`` while ``dense_until()`` (stream seconds)
    lies ahead, key frames only after it; t from the file's pts, starting at 0."""
    st = stats if stats is not None else AdaptiveStats()
    try:
        container = av.open(str(video))
    except (av.error.FFmpegError, OSError) as exc:
        raise AdaptiveVideoError(f"cannot open video {video}: {exc}") from exc
    with container:
        if not container.streams.video:
            raise AdaptiveVideoError(f"{video} has no video stream")
        stream = container.streams.video[0]
        stream.codec_context.thread_count = 1
        plan = DecodePlan(fps, adaptive=True)
        applied: str = "DEFAULT"
        held: list[av.Packet] = []
        t0: float | None = None
        height: int | None = None
        pts_s: float | None = None
        try:
            for packet in container.demux(stream):
                plan.dense_until = dense_until()
                plan.packet(packet.is_keyframe)
                last_pts = pts_s
                ts = packet.pts if packet.pts is not None else packet.dts
                tb = packet.time_base
                pts_s = float(ts * tb) if ts is not None and tb is not None else None
                if packet.size:
                    st.packets += 1
                if packet.size and (plan.park(packet.is_keyframe, pts_s, len(held))
                                    or plan.hold(packet.is_keyframe, pts_s, len(held))):
                    held.append(packet)
                    continue
                if held and plan.drop_parked(packet.is_keyframe, pts_s if packet.size else last_pts,
                                             end=not packet.size):
                    st.parked_dropped += len(held)
                    held.clear()
                batch, held = [*held, packet], []
                for pk in batch:
                    if plan.skip_mode != applied:
                        stream.codec_context.skip_frame = plan.skip_mode  # type: ignore[assignment]
                        applied = plan.skip_mode
                    out = pk.decode()
                    if pk.size:
                        plan.decoded(pk.is_keyframe, len(out))
                    for vf in out:
                        if vf.pts is None or vf.time_base is None:
                            continue
                        st.decoded += 1
                        raw = float(vf.pts * vf.time_base)
                        if t0 is None:
                            t0 = min(0.0, raw)
                        t = raw - t0
                        quiet = plan.quiet_at(raw)
                        if not plan.frame(t, vf.key_frame, pts_s=raw):
                            continue
                        if height is None:
                            height = max(2, round(vf.height * width / vf.width / 2) * 2)
                        img = vf.reformat(width=width, height=height, format="bgr24").to_ndarray()
                        st.taken += 1
                        st.quiet_taken += quiet
                        yield Frame(image=np.ascontiguousarray(img), t=t,
                                    wall=_EPOCH + timedelta(seconds=t))
                        plan.dense_until = dense_until()
        except av.error.FFmpegError as exc:
            raise AdaptiveVideoError(f"cannot decode {video}: {exc}") from exc
