"""Stream readers on real sources on 127.0.0.1: a looping file, an HTTP stream, a dead address."""

from __future__ import annotations

import functools
import itertools
import subprocess
import threading
from collections.abc import Iterator
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from edge.frames import Frame
from edge.sources import StreamReader, is_live, open_options
from tests.edge.procs import collect, wait_for
from tests.support.net import free_port


def test_source_kinds() -> None:
    assert is_live("rtsp://cam/x") and is_live("http://cam/x.mjpg") and not is_live("/data/clip.mp4")
    assert open_options("rtsp://cam/x")["rtsp_transport"] == "tcp"


def test_looping_file_decodes_key_frames_only_and_time_keeps_rising(video_file: Path) -> None:
    # 10 fps, a key frame every second, analysis at 2 fps: key frames alone are not enough.
    reader = StreamReader("cam-a", str(video_file), analysis_fps=2.0, analysis_width=160, reconnect_max_s=1)
    reader.start()
    try:
        frames = collect(reader, 4)
        assert not reader.stats.keyframes_only
    finally:
        reader.stop()
    assert all(f.image.shape == (120, 160, 3) for f in frames)  # scaled once, aspect kept

    # At 1 fps key frames suffice; the 4 s file loops and camera time goes on rising.
    reader = StreamReader("cam-b", str(video_file), analysis_fps=1.0, analysis_width=160, reconnect_max_s=1)
    reader.start()
    try:
        frames = collect(reader, 6, timeout=40)
        assert reader.stats.keyframes_only
        decoded = reader.stats.frames_in
    finally:
        reader.stop()
    ts = [f.t for f in frames]
    assert all(b > a for a, b in itertools.pairwise(ts))
    assert ts[-1] - ts[0] >= 4.0  # beyond the file's length: it looped
    assert decoded < 10 * (ts[-1] - ts[0] + 2) / 3  # far fewer than the 10 fps a full decode needs


def test_rest_of_a_gop_is_not_decoded_when_the_next_key_frame_serves_the_next_slot(tmp_path: Path) -> None:
    # 25 fps with a key frame every 2 s (the benchmark's stream shape), analysed at 1 fps: key frames
    # alone are too few, but after the frame taken mid-GOP the rest of the GOP lies before the next
    # slot, which its key frame serves.
    video = tmp_path / "gop2.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-t", "8", "-c:v", "libx264", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
                    "-bf", "0", "-pix_fmt", "yuv420p", str(video)], check=True)
    reader = StreamReader("cam-g", str(video), analysis_fps=1.0, analysis_width=160, reconnect_max_s=1)
    reader.start()
    try:
        frames = collect(reader, 7, timeout=40)  # 0 .. ~6 s of the first pass (the file is 8 s)
        decoded = reader.stats.frames_in
        assert not reader.stats.keyframes_only
    finally:
        reader.stop()
    rel = [round(f.t - frames[0].t, 2) for f in frames]
    # Every analysis slot served at 1 frame/s (a frame within 5 % before its slot counts) ...
    assert all(0.95 <= b - a <= 1.05 for a, b in itertools.pairwise(rel)), rel
    # ... and once the key interval is known (at the second key frame), every key frame is a slot.
    assert {4.0, 6.0} <= set(rel), rel
    # The first GOP is decoded whole; later ones only up to the frame at 0.96 s (25 of 50 frames):
    # 101 frames by the key frame at 6 s, against 151 for every frame (the bound leaves the reader
    # a second of running on before this test reads its counter).
    assert decoded < 25 * (rel[-1] + 1) * 0.8, (decoded, rel)
    assert all(f.image.shape == (120, 160, 3) and f.image.flags["C_CONTIGUOUS"] for f in frames)


@pytest.fixture
def http_dir(video_file: Path) -> Iterator[str]:
    handler = functools.partial(SimpleHTTPRequestHandler, directory=str(video_file.parent))
    handler.log_message = lambda *a: None  # type: ignore[assignment, attr-defined]
    server = ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/{video_file.name}"
    server.shutdown()
    server.server_close()


def test_http_stream(http_dir: str) -> None:
    reader = StreamReader("cam-h", http_dir, analysis_fps=5.0, analysis_width=320, reconnect_max_s=1)
    reader.start()
    try:
        frames = collect(reader, 2)
    finally:
        reader.stop()
    assert frames[0].image.shape == (240, 320, 3)


def test_dead_stream_is_retried_with_backoff_and_stops() -> None:
    reader = StreamReader("cam-d", f"rtsp://u:pw@127.0.0.1:{free_port()}/cam", analysis_fps=1.0,
                          analysis_width=320, reconnect_max_s=0.5)
    reader.start()
    wait_for(lambda: reader.stats.reconnects >= 3, 20, "reconnect attempts")
    assert "pw@" not in (reader.stats.last_error or "")
    assert reader.stop()  # the thread ends although it was sleeping in a backoff


def test_fast_decoder_options_reach_the_decoder_and_change_the_small_picture_less(tmp_path: Path) -> None:
    import av
    import numpy as np

    from edge.decode import FAST_DECODER_OPTIONS

    # A noisy, low-bitrate 720p clip, where the deblocking filter has block edges to smooth.
    video = tmp_path / "blocky.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25",
                    "-vf", "noise=alls=20:allf=t", "-t", "2", "-c:v", "libx264", "-b:v", "300k", "-g", "50",
                    "-bf", "0", "-pix_fmt", "yuv420p", str(video)], check=True)

    def last_picture(options: dict[str, str]) -> tuple[np.ndarray, np.ndarray]:
        with av.open(str(video)) as c:
            s = c.streams.video[0]
            s.codec_context.options = dict(options)
            vf = list(c.decode(s))[-1]
            return (vf.to_ndarray(format="gray").astype(int),
                    vf.reformat(320, 180, format="gray").to_ndarray().astype(int))

    full_default, small_default = last_picture({})
    full_fast, small_fast = last_picture(FAST_DECODER_OPTIONS)
    assert np.abs(full_fast - full_default).mean() > 0.5    # the filter really was skipped
    assert np.abs(small_fast - small_default).mean() < np.abs(full_fast - full_default).mean()

    reader = StreamReader("cam-f", str(video), analysis_fps=1.0, analysis_width=320, reconnect_max_s=1,
                          decoder_options=FAST_DECODER_OPTIONS)
    reader.start()
    try:
        frames = collect(reader, 2)
    finally:
        reader.stop()
    assert all(f.image.shape == (180, 320, 3) for f in frames)
    assert reader.stats.decode_errors == 0


@pytest.mark.slow
@pytest.mark.rtsp
def test_rtsp_camera_with_a_2s_gop_is_analysed_every_second_decoding_about_half(tmp_path: Path) -> None:
    # A live RTSP camera, 25 fps, a key frame every 2 s: camera time comes from the RTP clock here,
    # the path the files do not take.
    from tests.support.needs import require_rtsp
    from tests.support.rtsp import RtspServer

    require_rtsp()
    server = RtspServer(fps=25, gop=50)
    server.start()
    try:
        reader = StreamReader("cam-r", server.url, analysis_fps=1.0, analysis_width=160, reconnect_max_s=1)
        reader.start()
        try:
            frames = collect(reader, 9, timeout=60)
            packets, decoded = reader.stats.packets_in, reader.stats.frames_in
            assert not reader.stats.keyframes_only
        finally:
            reader.stop()
    finally:
        server.stop()
    gaps = [b.t - a.t for a, b in itertools.pairwise(frames)]
    assert all(0.9 <= g <= 1.1 for g in gaps), gaps          # every slot served, 1 frame/s
    # The first GOP is decoded whole, then 25 of each 50 frames: well under all that arrived.
    assert decoded < 0.8 * packets, (decoded, packets)


def _quiet_then_dense(reader: StreamReader) -> tuple[list[float], list[float], int, int]:
    """Adaptive reader: quiet (key frames only) for 4 frames, then dense for 5. Gaps between the
    frames taken in each stretch, and frames decoded and packets received in the quiet one."""
    reader.want_dense_until(0.0)                      # the analysis says: quiet from the start
    collect(reader, 3, timeout=40)                    # (the first GOP is decoded whole)
    p0, d0 = reader.stats.packets_in, reader.stats.frames_in
    quiet = collect(reader, 4, timeout=40)
    packets, decoded = reader.stats.packets_in - p0, reader.stats.frames_in - d0
    assert reader.stats.quiet
    reader.want_dense_until(quiet[-1].t + 1000.0)     # something happened: dense frames
    dense = collect(reader, 6, timeout=40)[1:]        # (the first may be from the parked GOP)
    assert not reader.stats.quiet
    def gaps(frames: list[Frame]) -> list[float]:
        return [b.t - a.t for a, b in itertools.pairwise(frames)]

    return gaps(quiet), gaps(dense), decoded, packets


def test_adaptive_reader_on_a_file_decodes_key_frames_while_quiet_and_every_slot_when_asked(
        tmp_path: Path) -> None:
    video = tmp_path / "gop2_long.mp4"
    subprocess.run(["ffmpeg", "-loglevel", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
                    "-t", "40", "-c:v", "libx264", "-g", "50", "-keyint_min", "50", "-sc_threshold", "0",
                    "-bf", "0", "-pix_fmt", "yuv420p", str(video)], check=True)
    reader = StreamReader("cam-q", str(video), analysis_fps=1.0, analysis_width=160, reconnect_max_s=1,
                          adaptive=True)
    reader.start()
    try:
        quiet_gaps, dense_gaps, decoded, packets = _quiet_then_dense(reader)
    finally:
        reader.stop()
    assert all(1.9 <= g <= 2.1 for g in quiet_gaps), quiet_gaps  # key frames only, every 2 s
    assert decoded <= len(quiet_gaps) + 2 and packets >= 40 * len(quiet_gaps), (decoded, packets)
    assert all(0.9 <= g <= 1.1 for g in dense_gaps), dense_gaps  # the configured 1 frame/s
    assert reader.stats.parked_dropped > 0 and reader.stats.decode_errors == 0


@pytest.mark.slow
@pytest.mark.rtsp
def test_adaptive_reader_on_an_rtsp_camera(tmp_path: Path) -> None:
    # The same on a live RTSP camera (GStreamer on 127.0.0.1, 25 fps, a key frame every 2 s): camera
    # time from the RTP clock, packets arriving as they are sent.
    from tests.support.rtsp import RtspServer, rtsp_available

    if not rtsp_available():
        pytest.skip("GStreamer RTSP server bindings missing for /usr/bin/python3 (see ENVIRONMENT.md)")
    server = RtspServer(fps=25, gop=50)
    server.start()
    try:
        reader = StreamReader("cam-rq", server.url, analysis_fps=1.0, analysis_width=160, reconnect_max_s=1,
                              adaptive=True)
        reader.start()
        try:
            quiet_gaps, dense_gaps, decoded, packets = _quiet_then_dense(reader)
        finally:
            reader.stop()
    finally:
        server.stop()
    assert all(1.8 <= g <= 2.2 for g in quiet_gaps), quiet_gaps
    assert decoded <= len(quiet_gaps) + 2 and packets >= 40 * len(quiet_gaps), (decoded, packets)
    assert all(0.85 <= g <= 1.15 for g in dense_gaps), dense_gaps
    assert reader.stats.decode_errors == 0
