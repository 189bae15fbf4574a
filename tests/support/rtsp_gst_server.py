"""GStreamer RTSP server serving generated H.264, run by Debian's /usr/bin/python3 (which has ``gi``).

Usage: rtsp_gst_server.py PORT [USER PASSWORD] [--fps N] [--gop FRAMES] [--scene ball|quiet]
[--main WxH] [--image PNG] [--noise SHARE]. Serves rtsp://127.0.0.1:PORT/cam (and /cam2 ...,
any path under /cam): 320x240 H.264 baseline (no B-frames, as IP cameras send), 10 fps with a key
frame every 10 frames unless told otherwise; with --main also /main, the same scene at WxH (a
camera's main stream beside its sub-stream /cam). Scene "ball": a ball moving all the time;
"quiet": a still picture (a test card, or --image) with faint sensor-like noise (an empty road).
With --file VIDEO the picture is that video (real footage, in real time, scaled; at its end the
stream ends and a client that connects again gets it from the start) instead of a scene.
Prints "READY" on stdout once listening. Stopped by SIGTERM.
"""

import argparse
import signal
import sys

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstRtspServer", "1.0")
from gi.repository import GLib, Gst, GstRtspServer  # noqa: E402

_RAW = "video/x-raw,width={w},height={h},framerate={fps}/1 "
#: scene name -> (the source up to the encoder, further branches)
SCENES = {
    "ball": ("videotestsrc is-live=true pattern=ball ! " + _RAW, ""),
    "quiet": ("{still} ! " + _RAW + "! compositor name=mix sink_1::alpha={noise} ! " + _RAW,
              "videotestsrc is-live=true pattern=snow ! " + _RAW + "! mix. "),
}
#: The quiet scene's still picture: a test card, or a PNG (--image) held still.
TEST_CARD = "videotestsrc is-live=true pattern=smpte"
IMAGE = ("filesrc location={path} ! pngdec ! imagefreeze is-live=true ! videoconvert ! videoscale "
         "! videorate")
PIPELINE = (
    "( {scene}"
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=800 "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 {extra})"
)
FILE_PIPELINE = (
    "( filesrc location={path} ! decodebin ! videoconvert ! videoscale ! videorate "
    "! video/x-raw,width={w},height={h},framerate={fps}/1 "
    "! x264enc tune=zerolatency speed-preset=ultrafast key-int-max={gop} bitrate=800 "
    "! video/x-h264,profile=baseline ! rtph264pay name=pay0 pt=96 config-interval=1 )"
)


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("port")
    ap.add_argument("credentials", nargs="*", help="USER PASSWORD")
    ap.add_argument("--fps", type=int, default=10)
    ap.add_argument("--gop", type=int, default=10, help="frames from one key frame to the next")
    ap.add_argument("--scene", choices=sorted(SCENES), default="ball")
    ap.add_argument("--main", default=None, help="WxH of a main stream served at /main")
    ap.add_argument("--image", default=None, help="quiet scene: this PNG held still (else a test card)")
    ap.add_argument("--noise", type=float, default=0.03, help="quiet scene: share of noise mixed in")
    ap.add_argument("--file", default=None, help="a video to serve instead of a scene")
    args = ap.parse_args()
    port, fps, gop = args.port, args.fps, args.gop
    user, password = args.credentials if len(args.credentials) == 2 else (None, None)
    width, height = 320, 240
    Gst.init(None)
    server = GstRtspServer.RTSPServer()
    server.set_address("127.0.0.1")
    server.set_service(port)
    mounts = {"/cam": (width, height)}
    if args.main:
        mw, mh = (int(v) for v in args.main.split("x"))
        mounts["/main"] = (mw, mh)
    factories = {}
    for path, (w, h) in mounts.items():
        factory = GstRtspServer.RTSPMediaFactory()
        still = IMAGE.format(path=args.image) if args.image else TEST_CARD
        head, extra = (part.format(w=w, h=h, fps=fps, still=still, noise=args.noise)
                       for part in SCENES[args.scene])
        if args.file:
            factory.set_launch(FILE_PIPELINE.format(path=args.file, w=w, h=h, fps=fps, gop=gop))
        else:
            factory.set_launch(PIPELINE.format(scene=head, extra=extra, gop=gop))
        factory.set_shared(True)
        factories[path] = factory
    if user is not None:
        auth = GstRtspServer.RTSPAuth()
        token = GstRtspServer.RTSPToken()
        token.set_string(GstRtspServer.RTSP_TOKEN_MEDIA_FACTORY_ROLE, "viewer")
        auth.add_basic(GstRtspServer.RTSPAuth.make_basic(user, password), token)
        server.set_auth(auth)
        for factory in factories.values():
            factory.add_role_from_structure(
                Gst.Structure.from_string(
                    "viewer, media.factory.access=(boolean)true, media.factory.construct=(boolean)true")[0])
    for path, factory in factories.items():
        server.get_mount_points().add_factory(path, factory)
    if server.attach(None) == 0:
        print("FAILED to bind", flush=True)
        return 1
    loop = GLib.MainLoop()
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGTERM, loop.quit)
    GLib.unix_signal_add(GLib.PRIORITY_DEFAULT, signal.SIGINT, loop.quit)
    print("READY", flush=True)
    loop.run()
    return 0


if __name__ == "__main__":
    sys.exit(main())
