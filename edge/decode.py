"""Decoding decisions and frame conversion: decode only what analysis needs, scale once.

Pure logic kept apart from the stream I/O in ``edge.sources`` so it can be tested without a camera:
whether key frames alone are enough for the analysis rate, which decoded frames are due for analysis,
how a frame's time is derived (stream pts, or wall clock when pts cannot be trusted, shifted so a
looping file keeps counting forward), and the one resize to the analysis width.
"""

from __future__ import annotations

import cv2
import numpy as np

# Decoder options that trade picture for CPU, NOT used by default: without the H.264/HEVC deblocking
# filter decoding costs ~20 % less (1.65 -> 1.29 ms per 720p frame of the bench stream), and at
# 320 px the block edges mostly average away, but the detector is not indifferent to them: on the
# 98-clip evaluation set it changed the outcome of 4 clips (one new false alarm on a negative clip,
# two extra fault events, one kind; recall the same; BENCHMARKS.md section 1). The edge analyses the
# pictures ``gridwatch eval`` scores, so this is only worth switching on together with the
# evaluation (edge.analyze) and a re-run of it. ``StreamReader(decoder_options=...)`` takes them.
FAST_DECODER_OPTIONS: dict[str, str] = {"skip_loop_filter": "all"}

# swscale's interpolation for the one conversion to the analysis size (yuv -> bgr24 and shrink in
# one pass): the same as ``gridwatch analyze`` and the detection evaluation use. Shrinking, swscale
# widens the bilinear kernel to the scale factor, so it averages rather than picks pixels.
ANALYSIS_INTERPOLATION = "BILINEAR"


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
        """Whether the next key frame is expected by ``deadline`` (the next slot, see
        :meth:`Sampler.skip_deadline`): if so, no frame before it is due, and it needs none of them
        to be decoded, so the decoder may skip the rest of the group of pictures."""
        return (self.interval is not None and self._last_key_t is not None
                and self._last_key_t + self.interval <= deadline)


class DecodePlan:
    """Per camera: what its decoder may skip and which decoded frames analysis takes.

    Pure decisions, applied by the reader (``edge.sources``) to the decoder's ``skip_frame``:
    - key frames only, for good, while they alone give the analysis rate (a key frame every second
      at 1 frame/s);
    - otherwise, after a frame is taken, the rest of its group of pictures when the next key frame
      serves the next slot (a key frame every 2 s at 1 frame/s: the key frame and the frame one
      second later are taken, the 24 frames after that are not decoded); decoding resumes at the key
      frame's packet, so no frame after it is lost;
    - with ``adaptive`` (``edge.rate``): key frames only while the camera's time is past
      ``dense_until`` (a quiet scene), their other packets parked (see :meth:`quiet_at`);
    - everything while someone watches the camera live (the viewer needs every frame).
    Before its first frame ``skip_mode`` is "DEFAULT" (decode everything), which is always right.

    Packets whose frames must be decoded but cannot be due yet may also wait (``hold``) and be
    decoded in one burst with the packet of the next due frame: one camera's decoder then runs while
    its reference pictures are still in the CPU's caches, instead of one frame per packet with many
    other cameras' decoders in between. Held packets are always decoded, in order, before any later
    one, so this moves work in time and changes no picture.
    """

    MAX_HELD = 100  # packets: a bound on what waits (4 s at 25 fps), whatever the timestamps say
    #: Adaptive rate: the longest key-frame interval for which key frames alone watch a quiet scene
    #: (a camera with a longer one is analysed at the configured rate all the time).
    MAX_QUIET_INTERVAL_S = 4.5
    #: Adaptive rate: a bound on the packets parked while quiet (a GOP of 4.5 s at 60 fps).
    MAX_PARKED = 300

    def __init__(self, analysis_fps: float, adaptive: bool = False) -> None:
        self.fps = analysis_fps
        self.gate = KeyframeGate(analysis_fps)  # what it learned is kept across reconnects
        self.sampler = Sampler(analysis_fps)
        self.keyframes_only = False
        self.rest_of_gop = False
        self._offset: float | None = None  # camera time - pts of the last decoded frame
        # Adaptive rate (edge.rate): camera time until which frames are analysed at the configured
        # rate; after it only key frames are, while the scene stays quiet. Set by the analysis
        # (another thread: one float, written whole). +inf: always dense (the fixed rate).
        self.adaptive = adaptive
        self.dense_until = float("inf")
        # A key packet went into the decoder and its frame has not come out yet (a stream with
        # B-frames holds it back until later packets arrive): nothing is parked until it does.
        self._key_pending = False
        # The decoder was seen to hold frames back (B-frames: a packet decoded, no frame out). Such a
        # stream is analysed densely all the time: a frame it still holds when the parked packets
        # are dropped would reach the analysis too late to call them back. Kept across reconnects.
        self.reorders = False

    def new_pass(self) -> None:
        """The stream was (re)opened with a fresh decoder, which decodes everything."""
        self.gate.new_pass()
        self.sampler = Sampler(self.fps)
        self.keyframes_only = False
        self.rest_of_gop = False
        self._offset = None
        self._key_pending = False

    @property
    def skip_mode(self) -> str:
        """The decoder's ``skip_frame`` now: "NONKEY" or "DEFAULT"."""
        return "NONKEY" if self.keyframes_only or self.rest_of_gop else "DEFAULT"

    def quiet_at(self, pts_s: float | None, watched: bool = False) -> bool:
        """Adaptive rate: whether a packet at stream time ``pts_s`` falls in a quiet stretch, where
        only key frames are decoded. Its non-key packets are parked (not decoded) until the next key
        packet, which drops them, or until the analysis asks for dense frames again, which has them
        decoded in one burst (they are the references of the frames it then wants). Never while the
        key interval is unknown or too long, while someone watches live, or while key frames alone
        already give the configured rate."""
        if (not self.adaptive or watched or pts_s is None or self._offset is None or self.keyframes_only
                or self.reorders or self.gate.interval is None
                or self.gate.interval > self.MAX_QUIET_INTERVAL_S):
            return False
        return pts_s + self._offset >= self.dense_until

    def park(self, key_frame: bool, pts_s: float | None, parked: int, watched: bool = False) -> bool:
        """Adaptive rate: whether a packet waits undecoded because the scene is quiet (see
        :meth:`quiet_at`). Not after the rest of a GOP was skipped (its references are gone: those
        packets are skipped by the decoder instead), not before the last key packet's frame came
        out of the decoder (B-frames delay it), and at most ``MAX_PARKED``."""
        return (not key_frame and not self.rest_of_gop and not self._key_pending and parked < self.MAX_PARKED
                and self.quiet_at(pts_s, watched))

    def drop_parked(self, key_frame: bool, pts_s: float | None, watched: bool = False,
                    end: bool = False) -> bool:
        """At a key packet in a quiet stretch (or at the end of the stream, ``pts_s`` then the last
        parked packet's) the parked packets are never needed: drop them."""
        return (key_frame or end) and self.quiet_at(pts_s, watched)

    def decoded(self, key_frame: bool, frames_out: int) -> None:
        """After a packet went through the decoder with ``frames_out`` frames coming out: a packet
        decoded in full (not skipped) that gave no frame means the decoder reorders (B-frames)."""
        if frames_out == 0 and (key_frame or self.skip_mode == "DEFAULT"):
            self.reorders = True

    def packet(self, key_frame: bool) -> None:
        """Before a packet is decoded: a key frame ends the skipped rest of a GOP."""
        if key_frame:
            self.rest_of_gop = False
            self._key_pending = True

    def hold(self, key_frame: bool, pts_s: float | None, held: int, watched: bool = False) -> bool:
        """Whether a packet (stream time ``pts_s``, ``held`` packets already waiting) may wait for
        the next one instead of being decoded now: only a non-key packet of a known group of
        pictures, decoded for the references it carries, whose frame comes before the next slot's
        window, while nobody watches live."""
        if (key_frame or watched or pts_s is None or self._offset is None or held >= self.MAX_HELD
                or self.keyframes_only or self.rest_of_gop or self.gate.interval is None):
            return False
        nxt = self.sampler.next_slot
        return nxt is not None and pts_s + self._offset < nxt - 2 * Sampler.SLACK * self.sampler.period

    def frame(self, t: float, key_frame: bool, watched: bool = False, pts_s: float | None = None) -> bool:
        """A decoded frame at camera time ``t`` (stream time ``pts_s``): whether analysis takes it."""
        self._offset = None if pts_s is None else t - pts_s
        if key_frame:
            self._key_pending = False
        self.gate.observe(t, key_frame)
        self.keyframes_only = self.gate.suffices and not watched
        if watched:
            self.rest_of_gop = False
        if not self.sampler.due(t, key_frame):
            return False
        deadline = self.sampler.skip_deadline()
        if not self.keyframes_only and not watched and deadline is not None:
            self.rest_of_gop = self.gate.key_by(deadline)
        return True


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
    """Picks frames at ``fps`` on a fixed grid of slots: the first frame at or after each slot.

    The next slot is the last one plus a period, not the frame taken plus a period: on a 25 fps
    stream the 5 % slack below would otherwise take every 24th frame (1.04 per second) and let the
    slots creep through the groups of pictures. On a grid the rate is exact and the slots keep their
    phase. The grid starts at the first frame, which is a key frame, and a key frame that comes a
    little before its slot (``KEY_LEAD`` of a period) is taken in its place and moves the grid onto
    it: with a key frame every 2 s at 1 frame/s every key frame is then a slot, so a reader can stop
    decoding after the GOP's last slot (see :meth:`KeyframeGate.key_by`).
    """

    SLACK = 0.05     # of a period: key frames exactly one period apart are not missed to pts rounding
    KEY_LEAD = 0.25  # of a period: how early a key frame may stand in for its slot

    def __init__(self, fps: float) -> None:
        self.period = 1.0 / fps
        self._next: float | None = None

    @property
    def next_slot(self) -> float | None:
        """Camera time of the next slot (None before the first frame)."""
        return self._next

    def due(self, t: float, key_frame: bool = False) -> bool:
        p, nxt = self.period, self._next
        if nxt is None or t < nxt - 10 * p:
            # First frame, or a jump back in time (stream restarted with new pts): start afresh.
            self._next = t + p
            return True
        if key_frame and t >= nxt - self.KEY_LEAD * p:
            self._next = t + p  # the grid moves onto the key frame
            return True
        if t >= nxt - self.SLACK * p:
            # One period on; after a stall (frame long past its slot) the grid restarts at the frame,
            # so a late stream is not analysed in a burst of catch-up slots.
            self._next = nxt + p if t < nxt + 0.5 * p else t + p
            return True
        return False

    def skip_deadline(self) -> float | None:
        """If the next key frame comes by this time, the frames before it need not be decoded: none
        of them is due (the key frame serves the next slot, at most ``SLACK`` of a period late)."""
        return None if self._next is None else self._next + self.SLACK * self.period


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
