"""Hardware decoding: open the box's video engine once at start-up, or refuse to start.

Decoding the H.264 frames analysis needs is most of what an edge box spends its CPU on
(BENCHMARKS.md section 1). A box with a GPU can hand that to the GPU's video engine (NVDEC through
FFmpeg's ``cuda`` hwaccel). The device is opened here once, before any camera: a box configured for
it that cannot open it (no driver, wrong index, an FFmpeg without that device type) must say so and
stop, not quietly decode everything on the CPU at several times the cost its sizing assumed.

Decoded pictures stay on the device (``is_hw_owned``): the reader downloads only the frames analysis
takes (one swscale pass does the download and the shrink), not the references decoded for them.
A stream the engine cannot decode (a codec or profile it lacks: an MJPEG sub-stream, say) is decoded
on the CPU; the reader notes it per camera (``ReaderStats.hw_decoding``) and logs it.
"""

from __future__ import annotations

import av
from av.codec import Codec
from av.codec.hwaccel import HWAccel, hwdevices_available

from gridwatch.config.schema import HardwareDecoding

__all__ = ["HardwareDecodeError", "open_hw_decoder"]


class HardwareDecodeError(RuntimeError):
    """The configured hardware decoder cannot be used on this box. ``str()`` says why."""


def open_hw_decoder(setting: HardwareDecoding, codec: str = "h264") -> HWAccel:
    """Check that ``setting`` opens on this box for ``codec``; return the accelerator the readers
    pass to ``av.open`` (each decoder then shares the device's primary context)."""
    kind = setting.device_type
    available = hwdevices_available()
    if kind not in available:
        # PyAV maps an unknown name to "no type", and then takes the codec's first hardware config:
        # a typo would silently select another device. Refuse it by name instead.
        raise HardwareDecodeError(
            f"hardware device type {kind!r} is not in this FFmpeg (PyAV {av.__version__} offers: "
            f"{', '.join(available) or 'none'})")
    where = f"{kind} device {setting.device}" if setting.device else f"default {kind} device"
    try:
        accel = HWAccel(kind, device=setting.device, allow_software_fallback=True, is_hw_owned=True)
        accel.create(Codec(codec, "r"))  # opens the device once, then lets it go
    except NotImplementedError as exc:
        raise HardwareDecodeError(f"FFmpeg's {codec} decoder has no {kind} path in this build") from exc
    except (av.error.FFmpegError, OSError, ValueError) as exc:
        raise HardwareDecodeError(
            f"cannot open the {where}: {exc} (is its driver installed, and the device visible to this "
            f"process?)") from exc
    return accel
