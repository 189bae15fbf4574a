"""Short MP4 clips around an event's onset, from a small per-camera ring of analysis frames.

The ring holds the frames the analysis loop already has (analysis size, analysis rate), so clips
cost no extra decoding. Memory is bounded and easy to state: per camera at most
``ceil((clip_pre_s + clip_post_s) * analysis_fps) + 2`` frames of ``analysis_width`` x h x 3 bytes;
at the defaults (5 s + 5 s, 1 fps, 320x240) that is 12 x 230 kB = 2.8 MB per camera, 55 MB for 20.
Clips are H.264 (yuv420p) in MP4, encoded in memory with PyAV.
"""

from __future__ import annotations

import io
import math
from collections import deque
from fractions import Fraction

import av
import numpy as np

from edge.frames import Frame


class FrameRing:
    """The last few analysis frames of one camera, oldest first."""

    def __init__(self, seconds: float, fps: float) -> None:
        self.capacity = max(2, math.ceil(seconds * fps) + 2)
        self._frames: deque[Frame] = deque(maxlen=self.capacity)

    def add(self, frame: Frame) -> None:
        self._frames.append(frame)

    @property
    def latest_t(self) -> float | None:
        return self._frames[-1].t if self._frames else None

    def window(self, t0: float, t1: float) -> list[Frame]:
        return [f for f in self._frames if t0 <= f.t <= t1]


def encode_mp4(frames: list[Frame], fps: float, crf: int = 28) -> bytes | None:
    """H.264 MP4 of the frames, played at ``fps``; None when there is nothing to show."""
    if not frames:
        return None
    h, w = frames[-1].image.shape[:2]
    w, h = w - w % 2, h - h % 2
    buf = io.BytesIO()
    rate = Fraction(fps).limit_denominator(1000) or Fraction(1)
    with av.open(buf, mode="w", format="mp4") as out:
        stream = out.add_stream("libx264", rate=rate)
        stream.width, stream.height, stream.pix_fmt = w, h, "yuv420p"
        stream.options = {"preset": "veryfast", "crf": str(crf), "threads": "1"}
        for i, frame in enumerate(frames):
            image = frame.image
            if image.shape[0] != h or image.shape[1] != w:
                image = np.ascontiguousarray(image[:h, :w])
                if image.shape[:2] != (h, w):
                    continue  # the stream changed size mid-clip; keep the frames that fit
            vf = av.VideoFrame.from_ndarray(image, format="bgr24")
            vf.pts = i
            for packet in stream.encode(vf):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return buf.getvalue()
