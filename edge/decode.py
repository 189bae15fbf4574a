"""Decoding decisions and frame conversion: decode only what analysis needs, scale once.

Pure logic kept apart from the stream I/O in ``edge.sources`` so it can be tested without a camera:
whether key frames alone are enough for the analysis rate, which decoded frames are due for analysis,
how a frame's time is derived (stream pts, or wall clock when pts cannot be trusted, shifted so a
looping file keeps counting forward), and the one resize to the analysis width.
"""

from __future__ import annotations

import cv2
import numpy as np


class KeyframeGate:
    """Whether decoding key frames alone still gives the analysis rate.

    Learns the stream time between key frames from the frames it is shown (every frame while
    decoding everything, key frames only while skipping), so it also notices when a camera is
    reconfigured to a longer group of pictures and goes back to decoding everything. What it learned
    is kept across reconnects; until it knows, everything is decoded (always right, only dearer).
    """

    def __init__(self, analysis_fps: float) -> None:
        self.period = 1.0 / analysis_fps
        self.interval: float | None = None
        self._last_key_t: float | None = None

    def new_pass(self) -> None:
        """The stream was reopened: a gap across the break says nothing about its key frames."""
        self._last_key_t = None

    def observe(self, t: float, key_frame: bool) -> None:
        if not key_frame:
            return
        if self._last_key_t is not None and t > self._last_key_t:
            self.interval = t - self._last_key_t
        self._last_key_t = t

    @property
    def suffices(self) -> bool:
        return self.interval is not None and self.interval <= self.period * 1.05

    def key_by(self, deadline: float) -> bool:
        """Whether the next key frame is expected by ``deadline``: if so, the frames between now and
        it need not be decoded, because that key frame can serve the next analysis slot."""
        return (self.interval is not None and self._last_key_t is not None
                and self._last_key_t + self.interval <= deadline)


def analysis_size(width: int, height: int, analysis_width: int) -> tuple[int, int]:
    """Target (w, h) for analysis: ``analysis_width`` wide, aspect kept, never upscaled."""
    if width <= analysis_width:
        return width, height
    return analysis_width, max(2, round(height * analysis_width / width))


def scale_bgr(image: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize once with area averaging (the right filter for shrinking); no copy when already there."""
    if (image.shape[1], image.shape[0]) == size:
        return image
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


class Sampler:
    """Picks frames at ``fps`` from a stream of frame times: the first frame at or after each slot."""

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    def due(self, t: float) -> bool:
        # 5 % slack, so key frames exactly one period apart are not missed to rounding in their pts.
        if self._next is None or t >= self._next - 0.05 * self.period or t < self._next - 10 * self.period:
            # The last clause re-arms after a jump back in time (stream restarted with new pts).
            self._next = t + self.period
            return True
        return False


class FrameClock:
    """Turns decoder timestamps into a per-camera time that never goes backwards.

    Files: pts seconds, plus an offset that grows each time the file loops, so a looping demo file
    presents ever increasing time. Live streams: pts is only trusted while it moves forward at about
    the pace of the wall clock; otherwise (missing pts, resets after reconnects, wild jumps) the wall
    clock since the camera was first opened is used. Either way ``t`` is monotonic.
    """

    def __init__(self, live: bool, created_mono: float) -> None:
        self.live = live
        self._created = created_mono  # before the first frame, camera time is wall time since this
        self._offset = 0.0          # added to pts (file loops; live resyncs)
        self._last = -1.0           # last t handed out
        self._last_wall: float | None = None

    def new_pass(self) -> None:
        """The source was reopened (file loop or reconnect): its pts will start again anywhere."""
        self._resync = True

    _resync = True

    def now(self, wall_mono: float) -> float:
        """Camera time now, for a moment with no frame: the last frame's time plus wall time since."""
        return self._wall_t(wall_mono)

    def t(self, pts_s: float | None, wall_mono: float) -> float:
        if pts_s is None:
            t = self._wall_t(wall_mono)
        else:
            if self._resync:
                # Files continue right after the last pass; live streams continue by the wall clock,
                # so an outage shows up as a gap in camera time, as it was.
                start = self._wall_t(wall_mono) if self.live or self._last < 0 else self._last + 1e-3
                self._offset = start - pts_s
                self._resync = False
            t = pts_s + self._offset
            if self.live and self._last_wall is not None:
                drift = (t - self._last) - (wall_mono - self._last_wall)
                if t <= self._last or abs(drift) > 10.0:
                    # pts jumped or went backwards: follow the wall clock and resync to the stream.
                    t = self._wall_t(wall_mono)
                    self._offset = t - pts_s
        if t <= self._last:
            t = self._last + 1e-3
        self._last = t
        self._last_wall = wall_mono
        return t

    def _wall_t(self, wall_mono: float) -> float:
        if self._last_wall is None:
            return max(wall_mono - self._created, 0.0)
        return self._last + max(wall_mono - self._last_wall, 1e-3)
