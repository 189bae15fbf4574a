"""A real HTTP receiver on 127.0.0.1 for outbound notifications: records every request, answers
what it is told to, and can go down (connections refused) and come back on the same port.

    with Receiver() as rx:
        ... point a channel at rx.url("/hook") ...
        rx.wait_for(lambda reqs: len(reqs) >= 1, 30)
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.support.net import free_port

ROBOT_OK = b'{"errcode":0,"errmsg":"ok"}'


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


Answer = Callable[[Received], tuple[int, bytes]]


class Receiver:
    def __init__(self, answer: Answer | None = None) -> None:
        self.port = free_port()
        self.answer: Answer = answer or (lambda _r: (200, ROBOT_OK))
        self._lock = threading.Lock()
        self._requests: list[Received] = []
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    @property
    def requests(self) -> list[Received]:
        with self._lock:
            return list(self._requests)

    def up(self) -> Receiver:
        if self._server is not None:
            return self
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                req = Received(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                with owner._lock:
                    owner._requests.append(req)
                status, answer = owner.answer(req)
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_POST = do_PUT = do_GET = _handle

            def log_message(self, *_args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        return self

    def down(self) -> None:
        """Stop listening: connections are refused until :meth:`up`."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(10)
            self._thread = None

    def wait_for(
        self, cond: Callable[[list[Received]], bool], timeout: float, what: str = ""
    ) -> list[Received]:
        deadline = time.monotonic() + timeout
        while True:
            reqs = self.requests
            if cond(reqs):
                return reqs
            if time.monotonic() > deadline:
                raise AssertionError(f"receiver: timed out waiting for {what or 'requests'}; got {len(reqs)}")
            time.sleep(0.02)

    def __enter__(self) -> Receiver:
        return self.up()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.down()
