"""Hardware decoding: a box that cannot open its configured decoder refuses to start, saying why; on a
box that can (a GPU with NVDEC: run by hand there, skipped elsewhere) the reader takes the same frames
as the CPU decoder, from pictures that stay on the device until one is taken."""

from __future__ import annotations

import logging
from pathlib import Path

import av
import numpy as np
import pytest
from av.codec import Codec
from av.codec.hwaccel import HWAccel, hwdevices_available
from pydantic import ValidationError

from edge.frames import Frame
from edge.hwdecode import HardwareDecodeError, open_hw_decoder
from edge.sources import StreamReader
from gridwatch.cli import main
from gridwatch.config.schema import EdgeNode, HardwareDecoding
from tests.edge.procs import collect
from tests.edge.town import NODE, write_town


def cuda_opens() -> bool:
    try:
        open_hw_decoder(HardwareDecoding(device_type="cuda"))
    except HardwareDecodeError:
        return False
    return True


def test_the_setting_is_checked_when_the_config_is_read() -> None:
    assert EdgeNode(id="e", hw_decode={"device_type": "cuda", "device": "0"}).hw_decode == HardwareDecoding(
        device_type="cuda", device="0")
    with pytest.raises(ValidationError, match="device_type"):
        EdgeNode(id="e", hw_decode={"device_type": "CUDA; rm -rf"})
    with pytest.raises(ValidationError, match="extra"):
        EdgeNode(id="e", hw_decode={"device_type": "cuda", "gpu": 0})


def test_a_device_type_this_ffmpeg_lacks_is_refused_by_name() -> None:
    # PyAV would map an unknown name to "any": it must not quietly pick another device.
    with pytest.raises(HardwareDecodeError, match=r"'nvdek' is not in this FFmpeg .*offers: .*cuda"):
        open_hw_decoder(HardwareDecoding(device_type="nvdek"))


def test_a_device_that_does_not_open_is_refused() -> None:
    with pytest.raises(HardwareDecodeError, match="cannot open the cuda device 97"):
        open_hw_decoder(HardwareDecoding(device_type="cuda", device="97"))  # no box has 98 GPUs
    with pytest.raises(HardwareDecodeError, match="cannot open the cuda device gpu0"):
        open_hw_decoder(HardwareDecoding(device_type="cuda", device="gpu0"))
    if not cuda_opens():
        with pytest.raises(HardwareDecodeError, match="cannot open the default cuda device"):
            open_hw_decoder(HardwareDecoding(device_type="cuda"))


def test_a_device_type_without_an_h264_path_is_refused() -> None:
    h264 = {c.device_type.name for c in Codec("h264", "r").hardware_configs}
    other = sorted(set(hwdevices_available()) - h264)
    if not other:
        pytest.skip("every device type of this FFmpeg decodes H.264")
    with pytest.raises(HardwareDecodeError, match=f"no {other[0]} path"):
        open_hw_decoder(HardwareDecoding(device_type=other[0]))


def test_the_edge_refuses_to_start_on_a_box_without_its_decoder(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    town = tmp_path / "town.yaml"
    write_town(town, ["/nonexistent.mp4"], "http://127.0.0.1:9",
               node={"hw_decode": {"device_type": "cuda", "device": "97"}})
    code = main(["edge", "--config", str(town), "--node", NODE, "--data-dir", str(tmp_path / "edge")])
    err = capsys.readouterr().err
    assert code == 2
    assert f"nodes.{NODE}.hw_decode: cannot open the cuda device 97" in err
    assert not (tmp_path / "edge" / "outbox.sqlite3").exists()  # refused before anything was made


def test_a_stream_the_engine_cannot_decode_is_decoded_on_the_cpu_and_said_so(
        tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    # FFV1 has no hardware path in FFmpeg: the context is made without the device (so this runs on
    # any machine), the frames come from the CPU, and the reader says so once.
    video = tmp_path / "ffv1.mkv"
    with av.open(str(video), "w") as out:
        s = out.add_stream("ffv1", rate=10)
        s.width, s.height, s.pix_fmt = 320, 240, "yuv420p"
        for i in range(30):
            image = np.full((240, 320, 3), (i * 8) % 255, dtype=np.uint8)
            out.mux(s.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(s.encode(None))
    accel = HWAccel("cuda", allow_software_fallback=True, is_hw_owned=True)  # not opened: never reached
    reader = StreamReader("cam-v", str(video), analysis_fps=2.0, analysis_width=160, reconnect_max_s=1,
                          hwaccel=accel)
    with caplog.at_level(logging.WARNING, logger="gridwatch.edge.sources"):
        frames = take(reader, 8)
    assert frames[-1].t - frames[0].t >= 3.0  # the 3 s file was opened again (looped)
    assert not reader.stats.hw_decoding
    assert all(f.image.shape == (120, 160, 3) for f in frames)
    said = [r.getMessage() for r in caplog.records if "does not decode this stream" in r.getMessage()]
    assert said == ["camera cam-v: the hardware decoder does not decode this stream (ffv1, 320x240); "
                    "decoding it on the CPU"]  # once, though the 3 s file looped


def take(reader: StreamReader, n: int) -> list[Frame]:
    """Start the reader, take its first ``n`` analysis frames, stop it."""
    reader.start()
    try:
        return collect(reader, n, timeout=60)
    finally:
        reader.stop()


def gop2_clip(path: Path, seconds: int = 6) -> Path:
    """720p25 H.264, a key frame every 2 s, no B-frames (the benchmark's stream shape), made with
    PyAV's own encoder so that a GPU box without the ffmpeg program can run this too."""
    rng = np.random.default_rng(7)
    base = rng.integers(0, 255, (720 // 8, 1280 // 8, 3), dtype=np.uint8).repeat(8, 0).repeat(8, 1)
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"g": "50", "keyint_min": "50", "sc_threshold": "0",
                                                        "bf": "0", "preset": "veryfast"})
        s.width, s.height, s.pix_fmt = 1280, 720, "yuv420p"
        for i in range(seconds * 25):
            image = np.roll(base, 6 * i, axis=1)  # a moving picture: P frames carry real motion
            image[100:200, (i * 10) % 1100:(i * 10) % 1100 + 100] = 255
            out.mux(s.encode(av.VideoFrame.from_ndarray(image, format="bgr24")))
        out.mux(s.encode(None))
    return path


@pytest.mark.skipif(not cuda_opens(), reason="no CUDA device with NVDEC on this machine")
def test_the_gpu_decoder_takes_the_same_frames_as_the_cpu(tmp_path: Path) -> None:
    video = gop2_clip(tmp_path / "gop2.mp4")
    accel = open_hw_decoder(HardwareDecoding(device_type="cuda"))
    cpu = StreamReader("cam-c", str(video), analysis_fps=1.0, analysis_width=320, reconnect_max_s=1,
                       loop_files=False)
    gpu = StreamReader("cam-g", str(video), analysis_fps=1.0, analysis_width=320, reconnect_max_s=1,
                       loop_files=False, hwaccel=accel)
    a, b = take(cpu, 6), take(gpu, 6)  # every slot of the 6 s file; nothing is decoded after the last
    assert gpu.stats.hw_decoding and not cpu.stats.hw_decoding
    assert [round(f.t - a[0].t, 2) for f in a] == [round(f.t - b[0].t, 2) for f in b]  # the same slots
    assert gpu.stats.frames_in == cpu.stats.frames_in  # the same decoding plan: the rest of each GOP skipped
    for x, y in zip(a, b, strict=True):
        assert x.image.shape == y.image.shape == (180, 320, 3)
        diff = np.abs(x.image.astype(int) - y.image.astype(int))
        assert diff.mean() < 0.5 and diff.max() <= 8  # H.264 decodes bit-exact; only conversion rounding
