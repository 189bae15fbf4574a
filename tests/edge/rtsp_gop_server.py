"""A GStreamer RTSP camera with a chosen frame rate and key-frame interval, for the reader's GOP tests.

Run by Debian's /usr/bin/python3 (which has ``gi``): rtsp_gop_server.py PORT FPS GOP_FRAMES. Serves
rtsp://127.0.0.1:PORT/cam, H.264 baseline (no B-frames, as IP cameras send), a key frame every
GOP_FRAMES frames. Prints "READY" once listening; stopped by SIGTERM.
"""

import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

PIPELINE = (
    "( videotestsrc is-live=true pattern=ball ! video/x-raw,width=320,height=240,framerate={fps}/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=600 "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def main() -> int:
    port, fps, gop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    factory = GstRtspServer.RTSPMediaFactory()
    factory.set_launch(PIPELINE.format(fps=fps, gop=gop))
    factory.set_shared(True)
    server.get_mount_points().add_factory("/cam", factory)
    if server.attach(None) == 0:
        print("FAILED to bind", flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
