"""The adaptive analysis rate: key frames while a scene is quiet, dense frames while it is not.

Decoding, not detection, sets an edge box's cost (BENCHMARKS.md section 1): one frame per second
from a stream with a key frame every 2 s means decoding half of every group of pictures, while its
key frames alone cost about a sixth of that. Most cameras watch empty roads most of the day. So a
camera whose last analysed frame showed nothing that could become an event is analysed on its key
frames only; as soon as one shows something (the scene still being learned, a camera-fault condition,
anomalous blocks on or beside the road, material moving on the slope, an event building up or
standing), it is analysed at the configured rate again until the scene has been quiet for
``hold_s`` of stream time.

A quiet camera's key frames that show nothing new are not even analysed (:class:`SkipGate`).

Pure logic, no video: the pipeline describes what a frame showed (:class:`Activity`), this module
answers "dense frames until stream time T", and the reader (``edge.decode.DecodePlan``) decodes
accordingly. Event timing (persistence, clearing, "came to rest") is in stream seconds in the
detectors, so they judge the same way at either rate; dense frames only make that judgement as
fine-grained as the configured rate wherever something may happen.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

#: Stream seconds the scene must stay quiet before a camera goes back to key frames only: long
#: enough that something that stopped for a moment (and may start again) is still watched densely.
HOLD_S = 10.0


@dataclass(frozen=True, slots=True)
class Activity:
    """What one analysed frame showed that could become an event (all False: a quiet scene)."""

    learning: bool = False           # the scene's reference is still being learned
    fault_candidate: bool = False    # a camera-fault condition holds, or a fault event stands
    near_road: bool = False          # anomalous blocks on the road or beside it
    slope_motion: bool = False       # anomalous blocks on the slope (material may be coming down)
    event_pending: bool = False      # an event is building up (persistence) or standing

    @property
    def quiet(self) -> bool:
        return not (self.learning or self.fault_candidate or self.near_road or self.slope_motion
                    or self.event_pending)


class RatePolicy:
    """Per camera: from each analysed frame's :class:`Activity`, until when frames must be dense.

    ``dense_until`` is a stream time: the reader analyses every frame due at the configured rate
    while its frames are older than it, and key frames only after it. It starts at +inf (dense
    until the first frame says otherwise) and never moves backwards while something happens.
    """

    def __init__(self, hold_s: float = HOLD_S) -> None:
        if hold_s < 0:
            raise ValueError("hold_s must not be negative")
        self.hold_s = hold_s
        self.dense_until = float("inf")
        self._last_t: float | None = None

    def judge(self, t: float, activity: Activity) -> float:
        """One analysed frame at stream time ``t`` showed ``activity``: the new ``dense_until``."""
        if self._last_t is not None and t < self._last_t:
            self.dense_until = float("inf")  # time went back (a new pass): start afresh, densely
        self._last_t = t
        if not activity.quiet:
            self.dense_until = t + self.hold_s
        elif self.dense_until == float("inf"):
            self.dense_until = t  # the first frames were quiet: key frames from now on
        return self.dense_until

    def dense_at(self, t: float) -> bool:
        """Whether a frame at stream time ``t`` falls in the dense stretch."""
        return t < self.dense_until


class SkipGate:
    """While a camera is quiet, a key frame that shows nothing new is not analysed at all.

    Key frames alone still cost the pipeline ~5 ms each, as much again as decoding them. So in a
    quiet stretch each frame is first compared with the last one analysed, at the cost of a grey
    conversion and a block average (~0.1 ms), and skipped when: the picture's overall light moved
    by less than ``LIGHT``; no block's mean moved by ``CHANGE`` grey levels (that light change taken
    out); the sensor still moves some pixels since the frame before (a frozen picture does not: it
    is left to the pipeline, at dense frames, ``still_picture``); and the last analysed frame is
    less than ``MAX_SKIP_S`` old. Blocks are compared with the last analysed frame, not the previous
    one, so a slow drift (dusk, a slowly covered lens) adds up until it is analysed. Dense frames
    are always analysed. Not a detector: it only decides what the detectors need not see again.
    """

    BLOCK = 8            # px at the analysis size (the obstruction detector's block)
    CHANGE = 4.0         # grey levels a block's mean may move unnoticed (noise averages out in 64 px)
    FROZEN_SHARE = 0.01  # under this share of pixels moved by more than one level, maybe frozen
    MAX_SKIP_S = 8.0     # the pipeline sees a frame at least this often (health figures, references)
    LIGHT = 1.2          # the picture as a whole this much lighter or darker: analysed

    def __init__(self) -> None:
        self._blocks: np.ndarray | None = None
        self._t: float | None = None
        self._prev: np.ndarray | None = None  # the frame before, analysed or not
        self.still_picture = False  # the last frame hardly differs from the one before (frozen?)
        self.skipped = 0

    def skip(self, t: float, image: np.ndarray, dense: bool) -> bool:
        """Whether the frame at stream time ``t`` (BGR at the analysis size) may go unanalysed."""
        grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY)
        h, w = grey.shape
        blocks = cv2.resize(grey, (max(1, w // self.BLOCK), max(1, h // self.BLOCK)),
                            interpolation=cv2.INTER_AREA).astype(np.float32)
        prev, self._prev = self._prev, grey
        same = prev is not None and prev.shape == grey.shape
        moved = np.count_nonzero(cv2.absdiff(grey, prev) > 1) if prev is not None and same else grey.size
        self.still_picture = bool(prev is not None and moved < self.FROZEN_SHARE * grey.size)
        if not dense and self._unchanged(t, grey, blocks, prev):
            self.skipped += 1
            return True
        self._blocks, self._t = blocks, t
        return False

    def _unchanged(self, t: float, grey: np.ndarray, blocks: np.ndarray, prev: np.ndarray | None) -> bool:
        ref_blocks, ref_t = self._blocks, self._t
        if ref_blocks is None or ref_t is None or prev is None or ref_blocks.shape != blocks.shape:
            return False
        if prev.shape != grey.shape or not 0.0 < t - ref_t < self.MAX_SKIP_S:
            return False
        gain = float(blocks.mean()) / max(1.0, float(ref_blocks.mean()))
        if self.still_picture or abs(np.log(max(gain, 1e-3))) > np.log(self.LIGHT):
            return False
        return float(np.abs(blocks - ref_blocks * gain).max()) <= self.CHANGE
