"""Camera readers: one thread per camera pulls a stream with PyAV and hands analysis frames over.

Each camera has its own thread (decoding releases the GIL), so a slow, stalled or dead camera never
holds up the others. A reader decodes only what analysis needs (``edge.decode.DecodePlan``): once it
has seen two key frames it knows the group of pictures; if key frames alone give the analysis rate it
tells the decoder to skip everything else, and otherwise it skips the rest of a group of pictures
whose last analysis slot is served; the frames it must decode before a slot are decoded in one burst
when the slot's packet arrives (the decoder stays in the CPU caches). Of the frames decoded, only
those due at the analysis rate are converted, in one pass straight to the analysis size (as
``gridwatch analyze`` does, so the edge analyses the pictures the detection evaluation scores).
With the adaptive rate (``adaptive=True``, ``edge.rate``) the analysis says until when it wants
frames at the configured rate (``want_dense_until``); after that, while the scene is quiet, only key
frames are decoded: the other packets are parked undecoded, dropped at the next key packet, or
decoded in one burst when dense frames are asked for again mid-GOP (they are the references).
With a hardware decoder (``edge.hwdecode``) the same plan applies, pictures stay on the device,
and only the frames analysis takes are downloaded, by the same one pass.
Failures (refused, dead, stalled, garbage) reconnect with capped exponential backoff and jitter.
Credentials in stream URLs never reach a log line.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import av
import numpy as np
from av.codec.hwaccel import HWAccel
from av.video.reformatter import VideoReformatter

from edge.backoff import Backoff
from edge.decode import (
    ANALYSIS_INTERPOLATION,
    DecodePlan,
    FrameClock,
    analysis_size,
)
from edge.frames import Frame
from edge.slot import LatestSlot
from gridwatch.logs import redact

log = logging.getLogger("gridwatch.edge.sources")

OPEN_TIMEOUT_S = 8.0
READ_TIMEOUT_S = 5.0
#: Files, packets parked in a quiet scene: let them through up to this early (fewer waits per camera).
PARKED_PACE_S = 0.5


def is_live(url: str) -> bool:
    """rtsp://, rtsps://, http(s):// and similar are live streams; anything else is a local file."""
    return "://" in url and not url.startswith("file://")


def open_options(url: str) -> dict[str, str]:
    """Demuxer options: RTSP over TCP (UDP loses packets on busy links and through NAT)."""
    if url.startswith(("rtsp://", "rtsps://")):
        return {"rtsp_transport": "tcp", "rtsp_flags": "prefer_tcp"}
    return {}


@dataclass
class ReaderStats:
    """Counters a heartbeat reports; written by the reader thread, read by others (plain ints)."""

    packets_in: int = 0         # video packets received (the camera's frame rate, decoded or not)
    frames_in: int = 0          # frames the decoder produced
    frames_out: int = 0         # frames converted and handed to analysis
    decode_errors: int = 0
    reconnects: int = 0
    keyframes_only: bool = False
    quiet: bool = False         # adaptive rate: the scene is quiet now, only key frames are decoded
    parked_dropped: int = 0     # packets never decoded because the scene was quiet (adaptive rate)
    hw_decoding: bool = False   # this connection's decoder runs on the hardware decoder
    last_frame_wall: datetime | None = None
    last_frame_mono: float | None = None
    connected: bool = False
    last_error: str | None = None


class StreamReader:
    """Reads one camera in its own thread; newest analysis frame in ``slot``, counters in ``stats``."""

    def __init__(self, camera_id: str, url: str, analysis_fps: float, analysis_width: int,
                 reconnect_max_s: float, loop_files: bool = True,
                 decoder_options: dict[str, str] | None = None, hwaccel: HWAccel | None = None,
                 adaptive: bool = False) -> None:
        self.camera_id = camera_id
        self.url = url
        self.live = is_live(url)
        self.analysis_fps = analysis_fps
        self.analysis_width = analysis_width
        self.loop_files = loop_files
        # FFmpeg decoder options (e.g. edge.decode.FAST_DECODER_OPTIONS), from the next (re)connect.
        self.decoder_options = dict(decoder_options or {})
        self.hwaccel = hwaccel  # from edge.hwdecode.open_hw_decoder; None = decode on the CPU
        self._said_no_hw = False
        self.slot: LatestSlot[Frame] = LatestSlot()
        self.stats = ReaderStats()
        self.clock = FrameClock(live=self.live, created_mono=time.monotonic())
        self._plan = DecodePlan(analysis_fps, adaptive=adaptive)
        self._reformatter = VideoReformatter()  # the reader thread's; keeps its swscale context
        self._backoff = Backoff(base=0.5, cap=reconnect_max_s)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._live_viewers = 0
        self._live_lock = threading.Lock()
        self._live_frame: av.VideoFrame | None = None

    # -- life ---------------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=f"reader-{self.camera_id}", daemon=True)
        self._thread.start()

    def request_stop(self) -> None:
        """Ask the thread to end without waiting (lets many readers wind down in parallel)."""
        self._stop.set()

    def stop(self, timeout: float = READ_TIMEOUT_S + 2) -> bool:
        """Stop and wait; False if the thread is still stuck in a read after ``timeout``."""
        self._stop.set()
        thread, self._thread = self._thread, None
        if thread is None:
            return True
        thread.join(timeout)
        if thread.is_alive():
            log.warning("camera %s: reader did not stop within %.0f s", self.camera_id, timeout)
            return False
        return True

    def want_dense_until(self, t: float) -> None:
        """Adaptive rate: the analysis wants frames at the configured rate until camera time ``t``
        (``edge.rate``); after it, key frames only. No effect on a reader made without ``adaptive``."""
        self._plan.dense_until = t

    def now_t(self) -> float:
        """Camera time now (for ticks when no frame came): last frame time plus wall time since."""
        return self.clock.now(time.monotonic())

    # -- live view ------------------------------------------------------------------------------

    def add_viewer(self) -> None:
        with self._live_lock:
            self._live_viewers += 1

    def remove_viewer(self) -> None:
        with self._live_lock:
            self._live_viewers = max(0, self._live_viewers - 1)
            if self._live_viewers == 0:
                self._live_frame = None

    def live_frame(self) -> av.VideoFrame | None:
        """Newest decoded picture at stream resolution, kept only while someone watches."""
        return self._live_frame

    # -- the thread -----------------------------------------------------------------------------

    def _run(self) -> None:
        name = redact(self.url)
        while not self._stop.is_set():
            try:
                self._read_once()
                if self._stop.is_set():
                    break
                if not self.live and self.loop_files and not self._stop.is_set():
                    self.clock.new_pass()
                    continue  # a file ended: play it again, time keeps counting forward
                if not self.live:
                    log.info("camera %s: file %s ended", self.camera_id, name)
                    return
                raise EOFError("stream ended")
            except Exception as exc:  # any failure of a camera means: reconnect later
                self.stats.connected = False
                if isinstance(exc, av.error.ExitError):  # PyAV's read/open timeout fired
                    self.stats.last_error = f"stalled: no data within {READ_TIMEOUT_S:.0f} s"
                else:
                    self.stats.last_error = redact(f"{type(exc).__name__}: {exc}")
                if self._stop.is_set():
                    break
                delay = self._backoff.next()
                self.stats.reconnects += 1
                failures = self._backoff.failures
                # Loud on the first failures and then at 4, 8, 16 ... in a row: a camera that is down
                # for a day must not fill the disk with the same line.
                level = logging.WARNING if failures <= 3 or failures & (failures - 1) == 0 else logging.DEBUG
                log.log(level, "camera %s: stream %s failed (%s); reconnect in %.1f s (try %d)",
                        self.camera_id, name, self.stats.last_error, delay, failures)
                self.clock.new_pass()
                self._stop.wait(delay)

    def _read_once(self) -> None:
        container = av.open(self.url, options=open_options(self.url),
                            timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S), hwaccel=self.hwaccel)
        try:
            if not container.streams.video:
                raise ValueError("no video stream")
            stream = container.streams.video[0]
            # Whether the codec has a path on the device; the first frame says whether it took it.
            self.stats.hw_decoding = self.hwaccel is not None and stream.codec_context.is_hwaccel
            stream.codec_context.thread_count = 1  # many cameras per box: one decode thread each
            if self.decoder_options:
                stream.codec_context.options = dict(self.decoder_options)  # applied when it opens
            before = self.stats.frames_in
            self._decode(container, stream)
            if self.stats.frames_in == before and not self._stop.is_set():
                raise EOFError("no frame decoded")
        finally:
            container.close()

    def _decode(self, container: av.container.InputContainer, stream: av.video.stream.VideoStream) -> None:
        rate = stream.average_rate or stream.guessed_rate
        stream_fps = float(rate) if rate else None
        plan = self._plan
        plan.new_pass()
        applied = "DEFAULT"  # the decoder's skip_frame, as opened
        pace_origin: tuple[float, float] | None = None  # files: (pts, monotonic) to play at real time
        announced = False
        held: list[av.Packet] = []  # waiting to be decoded in one burst (DecodePlan.hold), or parked
        pts_s: float | None = None  # stream time of the packet now (None: not known)
        for packet in container.demux(stream):
            if self._stop.is_set():
                return
            if packet.size:
                self.stats.packets_in += 1
            last_pts, pts_s = pts_s, None
            # Switched per packet, before decoding it, so no frame after a key frame is lost.
            plan.packet(packet.is_keyframe)
            ts = packet.pts if packet.pts is not None else packet.dts  # some muxers give dts only
            pts_s = float(ts * packet.time_base) if ts is not None and packet.time_base is not None else None
            watched = self._live_viewers > 0
            if packet.size and plan.park(packet.is_keyframe, pts_s, len(held), watched):
                # A quiet scene (adaptive rate): parked undecoded; files are paced loosely here, so
                # that a call for dense frames finds the packets where a live camera's would be.
                held.append(packet)
                if not self.live and pts_s is not None:
                    pace_origin = self._pace(pts_s, time.monotonic(), pace_origin, PARKED_PACE_S)
                continue
            if packet.size and plan.hold(packet.is_keyframe, pts_s, len(held), watched):
                held.append(packet)
                continue
            if held and plan.drop_parked(packet.is_keyframe, pts_s if packet.size else last_pts, watched,
                                         end=not packet.size):
                self.stats.parked_dropped += len(held)
                held.clear()
            if not self.live and pts_s is not None and (plan.skip_mode == "DEFAULT" or packet.is_keyframe):
                # Files play at their own speed, as a camera's packets would arrive: wait for this
                # packet's time before decoding it (and the held ones before it).
                pace_origin = self._pace(pts_s, time.monotonic(), pace_origin)
                if self._stop.is_set():
                    return
            for pk in (*held, packet):
                if plan.skip_mode != applied:
                    applied = stream.codec_context.skip_frame = plan.skip_mode  # type: ignore[assignment]
                try:
                    frames = pk.decode()
                except av.error.FFmpegError as exc:
                    self.stats.decode_errors += 1
                    log.debug("camera %s: decode error %s", self.camera_id, exc)
                    continue
                if pk.size:
                    plan.decoded(pk.is_keyframe, len(frames))
                for vf in frames:
                    if not announced:
                        announced = True
                        self.stats.connected = True
                        self._backoff.reset()
                        log.info("camera %s: reading %s (%dx%d, %s fps)", self.camera_id, redact(self.url),
                                 vf.width, vf.height, f"{stream_fps:.1f}" if stream_fps else "?")
                        self._check_hw(vf, stream.codec_context.name)
                    self._frame(vf, plan, watched)
            held.clear()

    def _check_hw(self, vf: av.VideoFrame, codec: str) -> None:
        """With a hardware decoder, the connection's first frame tells whether it decodes there: a
        picture in system memory (no ``sw_format``) means FFmpeg fell back to the CPU (a codec or
        profile the engine lacks). Said once per camera, not at every reconnect."""
        if self.hwaccel is None:
            return
        self.stats.hw_decoding = self.stats.hw_decoding and vf.sw_format is not None
        if not self.stats.hw_decoding and not self._said_no_hw:
            self._said_no_hw = True
            log.warning("camera %s: the hardware decoder does not decode this stream (%s, %dx%d); "
                        "decoding it on the CPU", self.camera_id, codec, vf.width, vf.height)

    def _frame(self, vf: av.VideoFrame, plan: DecodePlan, watched: bool) -> None:
        """One decoded frame: its camera time, and to analysis if it is due."""
        now = time.monotonic()
        self.stats.frames_in += 1
        pts_s = float(vf.time) if vf.time is not None else None
        t = self.clock.t(pts_s, now)
        due = plan.frame(t, vf.key_frame, watched, pts_s)
        self.stats.keyframes_only = plan.keyframes_only
        self.stats.quiet = plan.quiet_at(pts_s, watched)
        if watched:
            self._live_frame = vf
        if not due:
            return
        w, h = analysis_size(vf.width, vf.height, self.analysis_width)
        # Converted and shrunk in one swscale pass, straight to the analysis size (contiguous: rows
        # of an odd width come padded).
        image: np.ndarray = np.ascontiguousarray(self._reformatter.reformat(
            vf, w, h, format="bgr24", interpolation=ANALYSIS_INTERPOLATION).to_ndarray())
        wall = datetime.now(UTC)
        self.stats.last_frame_wall = wall
        self.stats.last_frame_mono = time.monotonic()
        self.stats.frames_out += 1
        self.slot.put(Frame(image=image, t=t, wall=wall))

    def _pace(self, t: float, now: float, origin: tuple[float, float] | None,
              slack: float = 0.0) -> tuple[float, float]:
        """Files play at their own speed, as a camera would, not as fast as they decode (``t``: the
        stream time of the packet about to be decoded; up to ``slack`` s early is let through)."""
        if origin is None:
            return (t, now)
        ahead = (t - origin[0]) - (now - origin[1])
        if ahead > 2.0 + slack:
            return (t, now)  # a jump (e.g. odd timestamps): start pacing afresh
        if ahead > slack:
            self._stop.wait(ahead)
        return origin

