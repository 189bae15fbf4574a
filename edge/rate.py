"""The adaptive analysis rate: key frames while a scene is quiet, dense frames while it is not.

Decoding, not detection, sets an edge box's cost (BENCHMARKS.md section 1): one frame per second
from a stream with a key frame every 2 s means decoding half of every group of pictures, while its
key frames alone cost about a sixth of that. Most cameras watch empty roads most of the day. So a
camera whose last analysed frame showed nothing that could become an event is analysed on its key
frames only; as soon as one shows something (the scene still being learned, a camera-fault condition,
anomalous blocks on or beside the road, material moving on the slope, an event building up or
standing), it is analysed at the configured rate again until the scene has been quiet for
``hold_s`` of stream time.

Pure logic, no video: the pipeline describes what a frame showed (:class:`Activity`), this module
answers "dense frames until stream time T", and the reader (``edge.decode.DecodePlan``) decodes
accordingly. Event timing (persistence, clearing, "came to rest") is in stream seconds in the
detectors, so they judge the same way at either rate; dense frames only make that judgement as
fine-grained as the configured rate wherever something may happen.
"""

from __future__ import annotations

from dataclasses import dataclass

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
