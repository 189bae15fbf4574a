"""H.264 MP4 writing with PyAV, with frame timestamps that may jump (how an offline camera is stored).

Each frame's pts is its slot number at the clip's fps; a camera that went offline simply has no frames
for the missing slots, so the next frame's pts jumps by the outage. Decoders report that jump in
``frame.time``, which is what a live reader would see as "no frames arrived".
"""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np


class Mp4Writer:
    """Writes RGB uint8 frames as yuv420p H.264; ``close()`` flushes and finishes the file."""

    def __init__(
        self, path: Path, width: int, height: int, fps: float, crf: int = 26, gop_s: float = 2.0
    ) -> None:
        self.fps = fps
        self.container = av.open(str(path), mode="w")
        rate = Fraction(fps).limit_denominator(1001)
        self.stream = self.container.add_stream("libx264", rate=rate)
        self.stream.width = width
        self.stream.height = height
        self.stream.pix_fmt = "yuv420p"
        self.stream.codec_context.time_base = 1 / rate
        self.stream.options = {
            "crf": str(crf),
            "preset": "veryfast",
            "g": str(round(gop_s * fps)),
            "threads": "1",
            "bf": "0",
        }
        self.time_base = 1 / rate
        self.frames = 0

    def write(self, rgb: np.ndarray, slot: int) -> None:
        frame = av.VideoFrame.from_ndarray(rgb, format="rgb24")
        frame.pts = slot
        frame.time_base = self.time_base
        for packet in self.stream.encode(frame):
            self.container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self.stream.encode():
            self.container.mux(packet)
        self.container.close()
