"""Idempotent writes for clients on flaky links: a POST that carries an ``Idempotency-Key`` header is
answered once; the same key from the same caller gets that first answer back, and nothing is done
again.

A grid worker's phone in a village loses its link in the middle of a request and cannot know whether
the hub applied it. The phone view therefore gives every action a key when the person taps, keeps it
with the queued action, and replays it until an answer arrives. The hub stores each successful (2xx)
answer with its key; a replay returns that answer with ``Idempotent-Replay: true`` instead of a 409
for a transition already made. An answer that failed is not stored: the replay is judged afresh.

Keys are scoped to the caller (a hash of the ``Authorization`` value, which the console's session
cookie has already become by the time this middleware runs), so one caller's keys never answer
another's, and one key used for two different requests is refused (422) rather than silently mixed up.
The rule is a plain ASGI middleware over the routes named in :data:`IDEMPOTENT_ROUTES`, so the
routes themselves need not know about it.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from datetime import datetime, timedelta

import anyio
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from central.db import Database
from central.tables import IdempotentReply

HEADER = "idempotency-key"
REPLAY_HEADER = b"idempotent-replay"
#: Writes that may carry a key: work-order actions (the phone view's only writes).
IDEMPOTENT_ROUTES = (re.compile(r"^/api/v1/work-orders/\d+/actions$"),)
#: What a key may look like: a UUID, or any 8-128 URL-safe characters.
KEY_RE = re.compile(r"^[A-Za-z0-9_.:-]{8,128}$")
#: How long an answer is kept: longer than a phone stays offline in practice (a long weekend).
KEEP = timedelta(days=7)
#: The longest answer kept (an order with its history); a longer one is answered but not kept.
MAX_BODY_BYTES = 1_000_000


def caller_of(authorization: str | None) -> str | None:
    """A stable, non-secret name for the credential (None without one: nothing is kept)."""
    if not authorization:
        return None
    return hashlib.sha256(authorization.strip().encode()).hexdigest()


def request_of(method: str, path: str) -> str:
    return f"{method.upper()} {path}"[:256]


class IdempotencyKeys:
    """ASGI middleware applying the rule above; needs the hub's database and clock."""

    def __init__(self, app: ASGIApp, db: Callable[[], Database], clock: Callable[[], datetime]) -> None:
        self.app = app
        self._db = db
        self._clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope.get("method") != "POST":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        if not any(route.match(path) for route in IDEMPOTENT_ROUTES):
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        key = headers.get(HEADER)
        caller = caller_of(headers.get("authorization"))
        if key is None or caller is None:  # no key: an ordinary write; no credential: the route says 401
            await self.app(scope, receive, send)
            return
        if not KEY_RE.match(key):
            await _send_json(send, 422, {"detail": "Idempotency-Key: 8-128 of A-Z a-z 0-9 _ . : -"})
            return
        what = request_of("POST", path)
        stored = await anyio.to_thread.run_sync(self._find, caller, key)
        if stored is not None:
            if stored.request != what:
                detail = f"Idempotency-Key {key!r} was used for another request"
                await _send_json(send, 422, {"detail": detail})
                return
            await _send(send, stored.status, stored.content_type, stored.body.encode(), replay=True)
            return

        answer = _Recorder(send)
        await self.app(scope, receive, answer.send)
        if 200 <= answer.status < 300 and answer.complete and len(answer.body) <= MAX_BODY_BYTES:
            await anyio.to_thread.run_sync(self._keep, caller, key, what, answer)

    def _find(self, caller: str, key: str) -> IdempotentReply | None:
        with self._db().read() as s:
            return s.execute(
                select(IdempotentReply).where(IdempotentReply.caller == caller, IdempotentReply.key == key)
            ).scalar_one_or_none()

    def _keep(self, caller: str, key: str, what: str, answer: _Recorder) -> None:
        now = self._clock()
        try:
            with self._db().write() as s:
                s.execute(delete(IdempotentReply).where(IdempotentReply.at < now - KEEP))
                body = answer.body.decode("utf-8", "replace")
                s.add(IdempotentReply(caller=caller, key=key, request=what, status=answer.status,
                                      content_type=answer.content_type, body=body, at=now))
        except IntegrityError:
            pass  # two copies of one request raced: the first answer kept is the one replayed


class _Recorder:
    """Passes the answer through to the client and keeps a copy of it."""

    def __init__(self, send: Send) -> None:
        self._send = send
        self.status = 0
        self.content_type = "application/json"
        self.body = b""
        self.complete = False

    async def send(self, message: Message) -> None:
        if message["type"] == "http.response.start":
            self.status = int(message["status"])
            for k, v in message.get("headers", []):
                if k.lower() == b"content-type":
                    self.content_type = v.decode("latin-1")[:128]
        elif message["type"] == "http.response.body":
            if len(self.body) <= MAX_BODY_BYTES:
                self.body += message.get("body", b"")
            self.complete = not message.get("more_body", False)
        await self._send(message)


async def _send(send: Send, status: int, content_type: str, body: bytes, replay: bool = False) -> None:
    headers = [
        (b"content-type", content_type.encode("latin-1")),
        (b"content-length", str(len(body)).encode()),
    ]
    if replay:
        headers.append((REPLAY_HEADER, b"true"))
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


async def _send_json(send: Send, status: int, content: dict[str, str]) -> None:
    await _send(send, status, "application/json", json.dumps(content).encode())
