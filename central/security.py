"""Browser-facing protections of the hub: security headers, closed CORS, and a login rate limiter.

Why each:
- Security headers on every response (the console's pages, its JSON, the API): a strict
  Content-Security-Policy means injected markup cannot run script or phone home; ``nosniff`` stops a
  JPEG being run as script; ``DENY`` / ``frame-ancestors 'none'`` stop click-jacking of the dispatch
  buttons; ``no-referrer`` keeps work-order URLs out of other sites' logs. A route that sets its own
  header (the console sets its own, equally strict CSP) keeps it. The OpenAPI pages (/docs, /redoc)
  are FastAPI's, which load their script from a CDN, so they get a CSP that allows only that.
- CORS is closed: no CORS middleware at all unless ``town.hub.cors_origins`` names origins, so a
  foreign page's preflight gets no ``Access-Control-Allow-Origin`` and its script cannot read replies.
- Login failures are rate-limited per client address over a sliding window. The limiter is kept in
  process memory, not in the database, on purpose: counting failures in the database would turn every
  bad guess into a write (a cheap way to load the hub), and tokens are 256-bit random strings, so the
  limit is there to stop hammering, not to make guessing possible. With ``--workers N`` each worker
  counts alone, so the real limit is N times the setting; that is stated, not hidden.
  The client address is the socket peer (``X-Forwarded-For`` is not trusted: anyone can send it).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable

from fastapi import FastAPI, HTTPException, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = (
    "default-src 'self'; img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; "
    "script-src 'self'; style-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
#: FastAPI's Swagger UI and ReDoc pages load their code from jsDelivr and run an inline bootstrap.
DOCS_CSP = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "img-src 'self' data: https://fastapi.tiangolo.com https://cdn.redoc.ly; "
    "font-src 'self' https://fonts.gstatic.com; worker-src 'self' blob:; connect-src 'self'; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)
DOCS_PATHS = frozenset({"/docs", "/docs/oauth2-redirect", "/redoc"})
PERMISSIONS_POLICY = (
    "camera=(), microphone=(), geolocation=(), payment=(), usb=(), serial=(), "
    "accelerometer=(), gyroscope=(), magnetometer=(), interest-cohort=()"
)
BASE_HEADERS: tuple[tuple[str, str], ...] = (
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "no-referrer"),
    ("x-frame-options", "DENY"),
    ("permissions-policy", PERMISSIONS_POLICY),
)

#: Failed logins from one address allowed within the window before 429.
LOGIN_MAX_FAILURES = 10
LOGIN_WINDOW_S = 300.0


class SecurityHeaders:
    """ASGI middleware: add the security headers to every HTTP response that lacks them."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        csp = DOCS_CSP if scope.get("path") in DOCS_PATHS else CSP

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers") or [])
                present = {k.lower() for k, _ in headers}
                for name, value in (("content-security-policy", csp), *BASE_HEADERS):
                    if name.encode() not in present:
                        headers.append((name.encode(), value.encode()))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


class FailureLimiter:
    """Sliding-window count of failures per key (a client address); thread-safe, in memory.

    ``retry_after(key)`` is 0 while the key may try again, else the seconds until its oldest failure
    in the window expires. Memory is bounded: at most ``max_keys`` addresses are remembered, the ones
    idle longest are forgotten first.
    """

    def __init__(
        self,
        max_failures: int = LOGIN_MAX_FAILURES,
        window_s: float = LOGIN_WINDOW_S,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 10_000,
    ) -> None:
        if max_failures < 1 or window_s <= 0:
            raise ValueError("max_failures must be >= 1 and window_s > 0")
        self.max_failures, self.window_s = max_failures, window_s
        self._clock = clock
        self._max_keys = max_keys
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self.refused = 0  # requests answered 429, for the record

    def _trim(self, key: str, now: float) -> deque[float] | None:
        marks = self._failures.get(key)
        if marks is None:
            return None
        while marks and marks[0] <= now - self.window_s:
            marks.popleft()
        if not marks:
            del self._failures[key]
            return None
        return marks

    def retry_after(self, key: str) -> float:
        with self._lock:
            now = self._clock()
            marks = self._trim(key, now)
            if marks is None or len(marks) < self.max_failures:
                return 0.0
            self.refused += 1
            return max(0.0, marks[-self.max_failures] + self.window_s - now)

    def failed(self, key: str) -> None:
        with self._lock:
            now = self._clock()
            marks = self._trim(key, now)
            if marks is None:
                if len(self._failures) >= self._max_keys:
                    self._failures.pop(next(iter(self._failures)))
                marks = self._failures[key] = deque()
            else:  # move to the end: the dict's order is least recently failed first
                self._failures[key] = self._failures.pop(key)
            marks.append(now)
            while len(marks) > self.max_failures:
                marks.popleft()


def client_key(request: Request) -> str:
    """The socket peer's address (proxies' X-Forwarded-For is not trusted)."""
    return request.client.host if request.client else "unknown"


def login_limiter(request: Request) -> FailureLimiter:
    """The app's limiter (made by :func:`install_security`)."""
    limiter = getattr(request.app.state, "login_limiter", None)
    if limiter is None:
        raise RuntimeError("install_security(app) was not called; the login limiter is missing")
    return limiter


def check_login_allowed(request: Request) -> None:
    """Raise 429 (with Retry-After) when this client has failed too often lately."""
    wait = login_limiter(request).retry_after(client_key(request))
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail=f"too many failed logins from this address; try again in {int(wait) + 1} s",
            headers={"Retry-After": str(int(wait) + 1)},
        )


def note_login_failure(request: Request) -> None:
    login_limiter(request).failed(client_key(request))


def install_security(
    app: FastAPI,
    cors_origins: Iterable[str] = (),
    login_max_failures: int = LOGIN_MAX_FAILURES,
    login_window_s: float = LOGIN_WINDOW_S,
) -> None:
    """Headers on every response, the login limiter in ``app.state``, CORS only for listed origins."""
    app.state.login_limiter = FailureLimiter(login_max_failures, login_window_s)
    origins = [o for o in cors_origins if o]
    if origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=origins,
            allow_methods=["GET", "POST"],
            allow_headers=["Authorization", "Content-Type", "Last-Event-ID"],
            allow_credentials=False,
        )
    app.add_middleware(SecurityHeaders)
