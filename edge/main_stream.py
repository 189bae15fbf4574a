"""Snapshots and clips from a camera's main stream, while analysis reads its sub-stream.

Analysis needs a small picture (``analysis_width``, 320 px by default), which a camera's sub-stream
gives at a fraction of the main stream's decoding cost. The people who judge an event want the full
picture. So where a camera has a sub-stream, the main stream is used only around events:

- ``on_demand`` (the default): the main stream is opened when an onset is raised; its packets from the
  first key frame on are kept for ``clip_post_s`` seconds and remuxed (not re-encoded: no decoding
  but the one key frame the snapshot is made of) into the onset's MP4 clip. The clip then shows the
  event from its onset on; the seconds before it exist only in the analysis frames.
- ``ring``: the main stream is read all the time (demuxed, not decoded) and the last
  ``clip_pre_s + clip_post_s`` seconds of packets (from a key frame) are kept, so the clip also shows
  the seconds before the onset. Costs a connection and the ring's memory (a few MB at 2 Mbit/s).

A clip that cannot be made (the main stream does not open, or the clip would be larger than the wire
allows) leaves the alert to the analysis frames' clip (``edge.camera_group``).
"""

from __future__ import annotations

import base64
import io
import logging
import threading
import time
from collections import deque
from dataclasses import dataclass

import av
import numpy as np

from edge.snapshot import draw_snapshot
from edge.sources import OPEN_TIMEOUT_S, READ_TIMEOUT_S, open_options
from gridwatch.config.schema import Roi
from gridwatch.logs import redact
from gridwatch.wire import MAX_CLIP_BYTES, MAX_SNAPSHOT_BYTES, OBSTRUCTION_KINDS, Alert

log = logging.getLogger("gridwatch.edge.main_stream")

#: Extra seconds an on-demand recording may take beyond ``clip_post_s`` (connecting, the first key frame).
CONNECT_SLACK_S = OPEN_TIMEOUT_S + 4.0


@dataclass
class MainTaken:
    """What the main stream gave for one event: an MP4 clip and the first key frame (BGR)."""

    clip: bytes | None
    image: np.ndarray | None

    def with_snapshot(self, alert: Alert, rois: list[Roi], original: Alert) -> Alert:
        """``alert`` with its snapshot drawn on the main stream's picture (if there is one that fits)."""
        if self.image is None:
            return alert
        region = rois if original.kind in OBSTRUCTION_KINDS else []
        jpeg = draw_snapshot(self.image, region, original.bbox,
                             f"{original.camera_id} {original.kind.value} {original.phase.value}")
        if len(jpeg) > MAX_SNAPSHOT_BYTES:
            return alert
        return Alert.model_validate({**alert.model_dump(), "snapshot_jpeg": base64.b64encode(jpeg).decode()})


def remux_mp4(stream: av.video.stream.VideoStream, packets: list[av.Packet]) -> bytes | None:
    """An MP4 of ``packets`` (starting at a key frame) as they are, timestamps from 0."""
    packets = [p for p in packets if p.pts is not None and p.size]
    if not packets or not packets[0].is_keyframe:
        return None
    buf = io.BytesIO()
    t0 = packets[0].pts or 0
    with av.open(buf, mode="w", format="mp4") as out:
        ost = out.add_stream_from_template(stream)
        last = None
        for p in packets:
            if p.pts is None:
                continue
            pts = p.pts - t0
            if last is not None and pts <= last:
                continue  # mp4 needs rising timestamps (B-frames are not sent by the cameras we read)
            last = pts
            q = av.Packet(bytes(p))  # a copy: a ring's packets may go into later clips too
            q.pts = q.dts = pts
            q.time_base = p.time_base
            q.is_keyframe = p.is_keyframe
            q.stream = ost
            out.mux(q)
    return buf.getvalue()


def first_image(stream: av.video.stream.VideoStream, packets: list[av.Packet]) -> np.ndarray | None:
    """The key frame at the head of ``packets``, decoded (BGR), by a decoder of its own."""
    ctx = av.CodecContext.create(stream.codec_context.name, "r")
    if stream.codec_context.extradata:
        ctx.extradata = stream.codec_context.extradata
    for p in packets[:3]:
        try:
            for vf in ctx.decode(p):  # type: ignore[attr-defined]
                return np.ascontiguousarray(vf.to_ndarray(format="bgr24"))
        except av.error.FFmpegError:
            continue
    return None


class MainStreamClips:
    """One camera's main stream for events: ``request`` at an onset, ``take`` when its clip is due."""

    def __init__(self, camera_id: str, url: str, pre_s: float, post_s: float, ring: bool = False) -> None:
        self.camera_id, self.url = camera_id, url
        self.pre_s, self.post_s = pre_s, post_s
        self.ring = ring
        self.busy: set[str] = set()              # event ids being recorded
        self._done: dict[str, MainTaken] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._wanted: list[tuple[str, float | None]] = []  # ring: (event id, stream time asked)
        self._latest_s: float | None = None      # ring: stream time of the newest packet
        self.opened = 0                          # times the main stream was opened (tests, logs)

    def start(self) -> None:
        if self.ring:
            self._spawn(self._ring_loop, "ring")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(READ_TIMEOUT_S + 2)
        self._threads = []

    def request(self, event_id: str) -> None:
        """An onset was raised: record its clip from the main stream."""
        with self._lock:
            if event_id in self.busy or event_id in self._done:
                return
            self.busy.add(event_id)
            if self.ring:
                self._wanted.append((event_id, self._latest_s))
                return
        self._spawn(lambda: self._record(event_id), event_id[:8])

    def take(self, event_id: str) -> MainTaken | None:
        """The event's clip and picture, if recorded (None: use the analysis frames)."""
        with self._lock:
            self.busy.discard(event_id)
            self._wanted = [w for w in self._wanted if w[0] != event_id]
            return self._done.pop(event_id, None)

    def _spawn(self, target: object, name: str) -> None:
        self._threads = [t for t in self._threads if t.is_alive()]
        thread = threading.Thread(target=target, name=f"main-{self.camera_id}-{name}", daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _finish(self, event_id: str, taken: MainTaken) -> None:
        with self._lock:
            if event_id in self.busy:
                self._done[event_id] = taken
                self.busy.discard(event_id)

    def _open(self) -> av.container.InputContainer:
        self.opened += 1
        return av.open(self.url, options=open_options(self.url), timeout=(OPEN_TIMEOUT_S, READ_TIMEOUT_S))

    def _record(self, event_id: str) -> None:
        """On demand: open, keep ``post_s`` of packets from the first key frame, remux, close."""
        taken = MainTaken(None, None)
        try:
            with self._open() as container:
                stream = container.streams.video[0]
                kept: list[av.Packet] = []
                deadline = time.monotonic() + self.post_s + CONNECT_SLACK_S
                for packet in container.demux(stream):
                    if self._stop.is_set() or time.monotonic() > deadline:
                        break
                    if not kept and not packet.is_keyframe:
                        continue
                    if packet.size and packet.pts is not None:
                        kept.append(packet)
                    if kept and _span_s(kept) >= self.post_s:
                        break
                taken = self._make(stream, kept)
        except Exception as exc:  # the analysis frames' clip is used instead
            log.warning("camera %s: main stream %s for event %s: %s", self.camera_id, redact(self.url),
                        event_id[:8], redact(str(exc)))
        self._finish(event_id, taken)

    def _ring_loop(self) -> None:
        """Ring: demux the main stream all the time, keep the last seconds, cut clips when due. Time
        is the stream's (packet pts), so a ring thread that runs late still cuts the right seconds."""
        while not self._stop.is_set():
            try:
                with self._open() as container:
                    stream = container.streams.video[0]
                    ring: deque[tuple[float, av.Packet]] = deque()
                    keep_s = self.pre_s + self.post_s + 5.0
                    for packet in container.demux(stream):
                        if self._stop.is_set():
                            return
                        if not packet.size or packet.pts is None or packet.time_base is None:
                            continue
                        at = float(packet.pts * packet.time_base)
                        if ring and at < ring[-1][0] - 1.0:
                            ring.clear()  # the stream started again (new timestamps)
                        ring.append((at, packet))
                        self._latest_s = at
                        while ring and at - ring[0][0] > keep_s:
                            ring.popleft()
                        self._cut_due(stream, ring, at)
            except Exception as exc:
                log.warning("camera %s: main stream ring %s: %s", self.camera_id, redact(self.url),
                            redact(str(exc)))
            self._latest_s = None
            self._stop.wait(2.0)

    def _cut_due(self, stream: av.video.stream.VideoStream, ring: deque[tuple[float, av.Packet]],
                 now_s: float) -> None:
        with self._lock:
            self._wanted = [(e, now_s if at is None else at) for e, at in self._wanted]
            due = [(e, at) for e, at in self._wanted if at is not None and now_s >= at + self.post_s]
            self._wanted = [w for w in self._wanted if w not in due]
        for event_id, asked in due:
            start = asked - self.pre_s
            keys = [i for i, (at, p) in enumerate(ring) if p.is_keyframe and at <= start]
            any_key = next((i for i, (_, p) in enumerate(ring) if p.is_keyframe), len(ring))
            first = keys[-1] if keys else any_key
            window = [p for at, p in list(ring)[first:] if at <= asked + self.post_s]
            self._finish(event_id, self._make(stream, window))

    @staticmethod
    def _make(stream: av.video.stream.VideoStream, packets: list[av.Packet]) -> MainTaken:
        if not packets:
            return MainTaken(None, None)
        clip = remux_mp4(stream, packets)
        if clip is not None and len(clip) > MAX_CLIP_BYTES:
            clip = None
        return MainTaken(clip, first_image(stream, packets))


def _span_s(packets: list[av.Packet]) -> float:
    first, last = packets[0], packets[-1]
    if first.pts is None or last.pts is None or first.time_base is None:
        return 0.0
    return float((last.pts - first.pts) * first.time_base)
