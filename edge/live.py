"""Live view: answers WebRTC offers (aiortc) with a camera's video, for the hub to relay.

The edge needs no web framework for one endpoint, so this is a small HTTP/1.1 server on asyncio:
``POST /offer?camera_id=ID`` with ``{"sdp": ..., "type": "offer"}`` answers
``{"sdp": ..., "type": "answer"}``; ``GET /health`` answers ``{"ok": true}``. It runs its own event
loop in one thread; each peer connection is owned by the server and closed on ``stop()`` or when
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
from collections.abc import Callable
from fractions import Fraction
from urllib.parse import parse_qs, urlsplit

import av
import numpy as np
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
        self._server: asyncio.Server | None = None
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

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, self.host, self.port))
            self.port = self._server.sockets[0].getsockname()[1]
        except OSError as exc:
            self._error = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        await asyncio.gather(*(pc.close() for pc in list(self._pcs)), return_exceptions=True)
        self._pcs.clear()
        pending = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            status, body = await self._serve(reader)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, ValueError):
            status, body = 400, {"detail": "malformed HTTP request"}
        except Exception as exc:
            log.exception("live view: request failed")
            status, body = 500, {"detail": f"live view failed: {type(exc).__name__}"}
        data = json.dumps(body).encode()
        reason = {200: "OK", 400: "Bad Request", 401: "Unauthorized", 404: "Not Found",
                  405: "Method Not Allowed", 413: "Payload Too Large",
                  500: "Internal Server Error"}.get(status, "Error")
        writer.write(f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
                     f"Content-Length: {len(data)}\r\nConnection: close\r\n\r\n".encode() + data)
        try:
            await writer.drain()
        finally:
            writer.close()

    async def _serve(self, reader: asyncio.StreamReader) -> tuple[int, dict[str, object]]:
        request_line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1").strip()
        method, target, _ = request_line.split(" ", 2)
        headers: dict[str, str] = {}
        while True:
            line = (await asyncio.wait_for(reader.readline(), 10)).decode("latin-1").strip()
            if not line:
                break
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        url = urlsplit(target)
        if url.path == "/health" and method == "GET":
            return 200, {"ok": True, "sessions": self.sessions}
        if url.path != "/offer":
            return 404, {"detail": f"no such endpoint {url.path}"}
        if method != "POST":
            return 405, {"detail": "use POST"}
        if not hmac.compare_digest(headers.get("authorization", "").encode(), f"Bearer {self.key}".encode()):
            return 401, {"detail": "offers must carry this node's live key (Authorization: Bearer); "
                                   "ask the hub, which relays them"}
        length = int(headers.get("content-length", "0"))
        if length > MAX_BODY:
            return 413, {"detail": f"offer larger than {MAX_BODY} bytes"}
        raw = await asyncio.wait_for(reader.readexactly(length), 10)
        camera_id = (parse_qs(url.query).get("camera_id") or [""])[0]
        cam_reader = self.reader_of(camera_id)
        if cam_reader is None:
            return 404, {"detail": f"camera {camera_id!r} is not served by this node"}
        try:
            offer = json.loads(raw)
            sdp, kind = offer["sdp"], offer["type"]
            if kind != "offer" or not isinstance(sdp, str):
                raise ValueError
        except (ValueError, KeyError, TypeError):
            return 400, {"detail": 'body must be {"sdp": "...", "type": "offer"}'}
        try:
            return 200, await self._answer(camera_id, cam_reader, sdp)
        except BadOffer as exc:
            return 400, {"detail": f"unusable offer: {exc}"}

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
            except ValueError as exc:
                raise BadOffer(str(exc) or "SDP not understood") from None
            answer = await pc.createAnswer()
            await pc.setLocalDescription(answer)
        except Exception:
            track.stop()
            self._pcs.discard(pc)
            await pc.close()
            raise
        log.info("live view: answered an offer for camera %s", camera_id)
        return {"sdp": pc.localDescription.sdp, "type": pc.localDescription.type}
