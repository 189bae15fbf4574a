"""The one frame type the analysis pipeline consumes, live and offline alike.

Sources scale each decoded picture ONCE to the analysis size, so every detector downstream works on the
same small image and the cost per camera stays fixed whatever the stream's resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np


@dataclass(frozen=True, slots=True)
class Frame:
    """One analysed picture of one camera."""

    image: np.ndarray  # BGR uint8, already scaled once to the analysis size (width = analysis_width)
    t: float  # stream/video time in seconds (monotonic per camera; file pts, or wall-derived for live)
    wall: datetime  # UTC wall-clock time the frame was received

    @property
    def height(self) -> int:
        return int(self.image.shape[0])

    @property
    def width(self) -> int:
        return int(self.image.shape[1])
