"""Console login: a bearer token traded for an HttpOnly cookie, read back as if it were the header.

The browser console cannot keep a bearer token safely in JavaScript (any injected script could read
it), and ``EventSource`` and ``<img>`` cannot send headers at all. So ``POST /api/v1/session`` checks
the token once and puts it in an HttpOnly, SameSite=Strict cookie, and :class:`SessionCookieAuth`
turns that cookie back into an ``Authorization: Bearer`` header before any route sees the request.
Every route therefore judges console requests exactly like API clients, by one rule. The token is
not stored anywhere new: several hub processes need no shared session table, and revoking the token
ends the session.

Cross-site requests: SameSite=Strict keeps the cookie off requests that other sites start, and a
cookie only counts for a write (POST, PUT, PATCH, DELETE) when the request also carries the
``X-Gridwatch-Console: 1`` header, which a cross-site form cannot send and a cross-site script cannot
send without a CORS preflight that the hub never grants. A request that brings its own
``Authorization`` header is judged by that header alone.
"""

from __future__ import annotations

import dataclasses
import re
from typing import Any, TypeVar, cast
from urllib.parse import quote, unquote

from fastapi import Request, Response
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Receive, Scope, Send

#: Cookie holding the bearer token.
SESSION_COOKIE = "gw_session"
#: Cookie holding the display name typed at login (shown in the console's top bar).
NAME_COOKIE = "gw_name"
#: Header every cookie-authenticated write must carry.
CONSOLE_HEADER = "x-gridwatch-console"
#: How long the browser keeps the session (a 12-hour shift plus margin); the token itself lives on.
SESSION_MAX_AGE_S = 14 * 3600
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
MAX_NAME_CHARS = 64
#: request.state key set when a request was authenticated by the session cookie.
STATE_KEY = "console_session"
_TOKEN_RE = re.compile(r"^[A-Za-z0-9._~+/=-]{1,512}$")


def valid_token_shape(token: str) -> bool:
    return bool(_TOKEN_RE.fullmatch(token))


def cookie_credentials(method: str, headers: dict[str, str], cookies: dict[str, str]) -> str | None:
    """The ``Authorization`` value the session cookie stands for, or None when it must not count.

    Pure, so the rule is testable without a server: no cookie, an ``Authorization`` header already
    present, a malformed cookie, or a write without the console header all give None.
    """
    if headers.get("authorization"):
        return None
    token = cookies.get(SESSION_COOKIE, "")
    if not valid_token_shape(token):
        return None
    if method.upper() not in SAFE_METHODS and headers.get(CONSOLE_HEADER) != "1":
        return None
    return f"Bearer {token}"


class SessionCookieAuth:
    """ASGI middleware: a request with a valid session cookie and no header gets the header."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            raw = scope.get("headers", [])
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in raw}
            cookies = cookie_parser(headers.get("cookie", ""))
            value = cookie_credentials(scope.get("method", "GET"), headers, cookies)
            if value is not None:
                scope = dict(scope)
                scope["headers"] = [*raw, (b"authorization", value.encode("latin-1"))]
                state = dict(scope.get("state") or {})
                state[STATE_KEY] = {"display_name": clean_name(unquote(cookies.get(NAME_COOKIE, ""))) or None}
                scope["state"] = state
        await self.app(scope, receive, send)


def display_name(request: Request) -> str | None:
    """The name typed at login, when this request runs on the session cookie."""
    session = (request.scope.get("state") or {}).get(STATE_KEY)  # (request.state raises when absent)
    return session.get("display_name") if isinstance(session, dict) else None


P = TypeVar("P", bound=Any)
#: Longest actor name the history keeps (work_order_history.actor is VARCHAR(128)).
MAX_ACTOR_CHARS = 128


def with_display_name(principal: P, request: Request) -> P:
    """The caller, named "<name typed at login> (<token's name>)" on a named console session.

    A shared desk token is then still told apart in the audit trail by who was on shift; the token's
    own name stays in brackets, because the typed name is the person's word, not a credential.
    """
    name = display_name(request)
    if not name or not dataclasses.is_dataclass(principal):
        return principal
    named: Any = principal  # a dataclass instance with a ``name`` (is_dataclass cannot say so)
    return cast(P, dataclasses.replace(named, name=f"{name} ({named.name})"[:MAX_ACTOR_CHARS]))


def clean_name(name: str | None) -> str:
    """A display name fit to show: printable, one line, at most 64 characters."""
    if not name:
        return ""
    text = "".join(ch for ch in name if ch.isprintable()).strip()
    return text[:MAX_NAME_CHARS]


def set_session(response: Response, request: Request, token: str, name: str) -> None:
    """Set the session cookies on ``response`` (Secure when the request came over HTTPS)."""
    secure = _is_https(request)
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_MAX_AGE_S,
        path="/",
        httponly=True,
        samesite="strict",
        secure=secure,
    )
    if name:
        response.set_cookie(
            NAME_COOKIE,
            quote(name, safe=""),
            max_age=SESSION_MAX_AGE_S,
            path="/",
            httponly=True,
            samesite="strict",
            secure=secure,
        )
    else:
        response.delete_cookie(NAME_COOKIE, path="/", httponly=True, samesite="strict", secure=secure)


def clear_session(response: Response, request: Request) -> None:
    secure = _is_https(request)
    for cookie in (SESSION_COOKIE, NAME_COOKIE):
        response.delete_cookie(cookie, path="/", httponly=True, samesite="strict", secure=secure)


def _is_https(request: Request) -> bool:
    forwarded = request.headers.get("x-forwarded-proto", "")
    return request.url.scheme == "https" or forwarded.split(",")[0].strip() == "https"
