"""Live view: answers WebRTC offers (aiortc) with a camera's video, for the hub to relay.

An aiohttp web server (aiortc's own examples use it) on an event loop of its own, in one thread:
``POST /offer?camera_id=ID`` with ``{"sdp": ..., "type": "offer"}`` answers
``{"sdp": ..., "type": "answer"}``; ``GET /health`` answers ``{"ok": true}``; every error answers
``{"detail": ...}``. Each peer connection is owned by the server and closed on ``stop()`` or when
the peer goes away. While someone watches a camera its reader decodes every frame (not only key
frames), and the track sends the newest decoded picture, at stream resolution (capped to 1280 wide).

Offers must carry ``Authorization: Bearer KEY``, where KEY is a secret this process makes at start
and reports to its hub in every heartbeat (``live_key``): the hub checks the viewer's token and role,
then presents the key when it relays. Anyone else who reaches the port gets 401. The key travels in
clear HTTP like the rest of the node's traffic: keep the edge-to-hub network private (VPN or TLS).
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import secrets
import socket
import threading
from collections.abc import Awaitable, Callable
from fractions import Fraction

import av
import numpy as np
from aiohttp import web
from aiortc import RTCPeerConnection, RTCSessionDescription, VideoStreamTrack

from edge.sources import StreamReader

log = logging.getLogger("gridwatch.edge.live")

MAX_BODY = 64_000
MAX_WIDTH = 1280


class BadOffer(ValueError):
    """The viewer's SDP cannot be used (a client error, answered 400)."""


class CameraTrack(VideoStreamTrack):
    """One viewer's video: the reader's newest picture, re-stamped at the track's own clock."""

    def __init__(self, reader: StreamReader) -> None:
        super().__init__()
        self.reader = reader
        reader.add_viewer()
        self._released = False
        self._last: av.VideoFrame | None = None

    async def recv(self) -> av.VideoFrame:
        pts, time_base = await self.next_timestamp()
        src = self.reader.live_frame()
        if src is not None:
            w, h = src.width, src.height
            if w > MAX_WIDTH:
                w, h = MAX_WIDTH, round(h * MAX_WIDTH / w) // 2 * 2
            self._last = src.reformat(width=w, height=h, format="yuv420p")
        if self._last is None:
            # Nothing decoded yet: a black picture keeps the session alive until frames come.
            self._last = av.VideoFrame.from_ndarray(np.zeros((240, 320, 3), np.uint8), format="bgr24")
        out = av.VideoFrame.from_ndarray(self._last.to_ndarray(), format=self._last.format.name)
        out.pts, out.time_base = pts, time_base if isinstance(time_base, Fraction) else Fraction(time_base)
        return out

    def stop(self) -> None:
        if not self._released:
            self._released = True
            self.reader.remove_viewer()
        super().stop()


class LiveServer:
    """The signalling endpoint and the peer connections it made; ``start()``/``stop()``."""

    def __init__(self, reader_of: Callable[[str], StreamReader | None], host: str = "127.0.0.1",
                 port: int = 0) -> None:
        self.reader_of = reader_of
        self.host, self.port = host, port
        #: What an offer must present (``Authorization: Bearer <key>``); reported to the hub only.
        self.key = secrets.token_urlsafe(32)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None
        self._pcs: set[RTCPeerConnection] = set()
        self._ready = threading.Event()
        self._error: BaseException | None = None

    @property
    def url(self) -> str:
        """The base URL announced to the hub (a wildcard bind is announced by this host's name)."""
        host = socket.getfqdn() if self.host in ("0.0.0.0", "::", "") else self.host
        return f"http://{host}:{self.port}"

    @property
    def sessions(self) -> int:
        return len(self._pcs)

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="live", daemon=True)
        self._thread.start()
        self._ready.wait(15)
        if self._error is not None:
            self._thread.join(5)
            self._thread, self._loop = None, None
            raise RuntimeError(f"live view could not listen on {self.host}:{self.port}: {self._error}")

    def stop(self) -> None:
        loop = self._loop
        if loop is None or self._thread is None:
            return
        fut = asyncio.run_coroutine_threadsafe(self._shutdown(), loop)
        try:
            fut.result(15)
        except Exception:
            log.exception("live view: shutdown failed")
        loop.call_soon_threadsafe(loop.stop)
        self._thread.join(15)
        self._thread = None

    # -- inside the loop ------------------------------------------------------------------------

    def _app(self) -> web.Application:
        app = web.Application(client_max_size=MAX_BODY, middlewares=[_json_errors])
        app.router.add_get("/health", self._health)
        app.router.add_post("/offer", self._offer)
        return app

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._runner = web.AppRunner(self._app(), access_log=None, handle_signals=False)
            loop.run_until_complete(self._runner.setup())
            site = web.TCPSite(self._runner, self.host, self.port)
            loop.run_until_complete(site.start())
            self.port = self._runner.addresses[0][1]  # the port the OS picked for port 0
        except OSError as exc:
            self._error = exc
            self._ready.set()
            if self._runner is not None:
                loop.run_until_complete(self._runner.cleanup())
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        await asyncio.gather(*(pc.close() for pc in list(self._pcs)), return_exceptions=True)
        self._pcs.clear()
        if self._runner is not None:
            await self._runner.cleanup()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _health(self, request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "sessions": self.sessions})

    async def _offer(self, request: web.Request) -> web.Response:
        given = request.headers.get("Authorization", "").encode()
        if not hmac.compare_digest(given, f"Bearer {self.key}".encode()):
            return _error(401, "offers must carry this node's live key (Authorization: Bearer); "
                               "ask the hub, which relays them")
        camera_id = request.query.get("camera_id", "")
        cam_reader = self.reader_of(camera_id)
        if cam_reader is None:
            return _error(404, f"camera {camera_id!r} is not served by this node")
        try:
            offer = json.loads(await request.read())
            sdp, kind = offer["sdp"], offer["type"]
            if kind != "offer" or not isinstance(sdp, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return _error(400, 'body must be {"sdp": "...", "type": "offer"}')
        try:
            return web.json_response(await self._answer(camera_id, cam_reader, sdp))
        except BadOffer as exc:
            return _error(400, f"unusable offer: {exc}")
    async def _answer(self, camera_id: str, cam_reader: StreamReader, sdp: str) -> dict[str, object]:
        pc = RTCPeerConnection()
        self._pcs.add(pc)
        track = CameraTrack(cam_reader)

        @pc.on("connectionstatechange")
        async def _on_state() -> None:
            log.info("live view: camera %s peer %s", camera_id, pc.connectionState)
            if pc.connectionState in ("failed", "closed"):
                track.stop()
                self._pcs.discard(pc)
                await pc.close()

        try:
            pc.addTrack(track)
            try:
                await pc.setRemoteDescription(RTCSessionDescription(sdp=sdp, type="offer"))
                # an offer aiortc parses but cannot answer (no media it can send) fails here
                await pc.setLocalDescription(await pc.createAnswer())
            except ValueError as exc:
                raise BadOffer(str(exc) or "SDP not understood") from None
        except Exception:
            track.stop()
            self._pcs.discard(pc)
            await pc.close()
            raise
        log.info("live view: answered an offer for camera %s", camera_id)
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}


def _error(status: int, detail: str) -> web.Response:
    return web.json_response({"detail": detail}, status=status)


@web.middleware
async def _json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """aiohttp's own refusals (no such path, wrong method, body too large) as ``{"detail": ...}``
    like ours; an unexpected failure is logged and answered 500."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status == 413:
            return _error(413, f"offer larger than {MAX_BODY} bytes")
        return web.json_response({"detail": exc.reason}, status=exc.status, headers=_allow(exc))
    except Exception as exc:
        log.exception("live view: request failed")
        return _error(500, f"live view failed: {type(exc).__name__}")


def _allow(exc: web.HTTPException) -> dict[str, str]:
    allow = exc.headers.get("Allow")
    return {"Allow": allow} if allow else {}
