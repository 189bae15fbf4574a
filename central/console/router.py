"""Routes of the console: the page at ``/`` (behind login), the login page, its static files, the
session endpoints, and where the live feed stands now.

Every page and file goes out with a strict Content-Security-Policy: scripts and styles only from the
hub itself, no inline code, nothing fetched from elsewhere (the centre may have no internet at all).
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Request, Response
from fastapi.responses import FileResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import func, select
from starlette.types import Scope

from central.api.contract import AUTH, BODY, errors
from central.auth import USER_ROLES, Principal, authenticate, require
from central.security import check_login_allowed, note_login_failure
from central.sessions import (
    SESSION_COOKIE,
    SessionCookieAuth,
    clean_name,
    clear_session,
    display_name,
    set_session,
    valid_token_shape,
)
from central.tables import FeedEvent

STATIC_DIR = Path(__file__).resolve().parent / "static"
STATIC_PREFIX = "/console/static"

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
    "media-src 'self' blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
}


class SessionRequest(BaseModel):
    """What the login form sends."""

    model_config = ConfigDict(extra="forbid")
    token: str = Field(
        min_length=1,
        max_length=512,
        pattern=r"^[A-Za-z0-9._~+/=-]+$",
        description="Bearer token from `gridwatch token create`.",
    )
    name: str | None = Field(default=None, max_length=200, description="Display name of the person on shift.")


class SessionInfo(BaseModel):
    role: str = Field(description="The token's role.")
    name: str = Field(description="The token's name.")
    display_name: str | None = Field(default=None, description="The name typed at login.")


class FeedHead(BaseModel):
    last_event_id: int = Field(description="Id of the newest feed event; 0 when there is none.")


class _ConsoleStatic(StaticFiles):
    """Static files with the console's security headers; revalidated so an upgrade shows at once."""

    async def get_response(self, path: str, scope: Scope) -> Response:
        response = await super().get_response(path, scope)
        response.headers.update(SECURITY_HEADERS)
        response.headers["Cache-Control"] = "no-cache"
        return response


def _page(name: str) -> FileResponse:
    return FileResponse(
        STATIC_DIR / name,
        media_type="text/html; charset=utf-8",
        headers={**SECURITY_HEADERS, "Cache-Control": "no-store"},
    )


def _console_user(request: Request) -> Principal | None:
    hub = request.app.state.hub
    principal = authenticate(hub.db, hub.town, request.headers.get("authorization"))
    if principal is None or principal.role not in USER_ROLES:
        return None
    return principal


def page_router() -> APIRouter:
    router = APIRouter(include_in_schema=False)

    @router.get("/")
    def console_page(request: Request) -> Response:
        if _console_user(request) is None:
            return RedirectResponse("/login", status_code=303)
        return _page("index.html")

    @router.get("/login")
    def login_page() -> Response:
        return _page("login.html")

    @router.get("/m")
    def phone_redirect() -> Response:
        return RedirectResponse("/m/", status_code=308)

    @router.get("/m/")
    def phone_page() -> Response:
        # The phone view signs in on its own page (it must also open offline from the phone's cache
        # of its data, so it cannot depend on a redirect to /login).
        return _page("m/index.html")

    return router


def session_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["console"])

    @router.post(
        "/session",
        response_model=SessionInfo,
        summary="Log the console in: check a user token and keep it in an HttpOnly cookie",
        responses=errors(
            *AUTH, *BODY, 429,
            e401="Unknown or revoked token.",
            e403="An edge node's token: it cannot log in to the console.",
            e429="Too many failed logins from this address; `Retry-After` says when to try again.",
        ),
    )
    def login(body: SessionRequest, request: Request, response: Response) -> SessionInfo:
        check_login_allowed(request)  # 429 after too many failures from this address (central.security)
        token = body.token.strip()
        if not valid_token_shape(token):
            note_login_failure(request)
            raise HTTPException(
                status_code=422, detail="that is not a gridwatch token (letters, digits, -_.~+/=)"
            )
        hub = request.app.state.hub
        principal = authenticate(hub.db, hub.town, f"Bearer {token}")
        if principal is None:
            note_login_failure(request)
            raise HTTPException(status_code=401, detail="unknown or revoked token")
        if principal.role not in USER_ROLES:
            raise HTTPException(status_code=403, detail="edge node tokens cannot log in to the console")
        name = clean_name(body.name)
        set_session(response, request, token, name)
        return SessionInfo(role=principal.role, name=principal.name, display_name=name or None)

    @router.get("/session", response_model=SessionInfo, summary="Who the console is logged in as",
                responses=errors(*AUTH))
    def whoami(request: Request, principal: Principal = Depends(require(*USER_ROLES))) -> SessionInfo:
        return SessionInfo(role=principal.role, name=principal.name, display_name=display_name(request))

    @router.delete("/session", status_code=204, summary="Log the console out (clears the cookies)")
    def logout(request: Request) -> Response:
        response = Response(status_code=204)
        if SESSION_COOKIE in request.cookies:
            clear_session(response, request)
        return response

    return router


def feed_router() -> APIRouter:
    router = APIRouter(prefix="/api/v1/console", tags=["console"])

    @router.get(
        "/feed-head",
        summary="Id of the newest feed event (the console replays a little before it)",
        response_model=FeedHead,
        responses=errors(*AUTH),
    )
    def feed_head(
        request: Request, _: Principal = Depends(require("dispatcher", "maintainer", "admin"))
    ) -> dict[str, int]:
        with request.app.state.hub.db.read() as s:
            head = s.execute(select(func.max(FeedEvent.id))).scalar_one_or_none()
        return {"last_event_id": int(head or 0)}

    return router


def install_console(app: FastAPI) -> None:
    """Add the console to the hub app (which must keep its :class:`central.context.Hub` in state.hub)."""
    app.include_router(page_router())
    app.include_router(session_router())
    app.include_router(feed_router())
    app.add_middleware(SessionCookieAuth)
    app.mount(STATIC_PREFIX, _ConsoleStatic(directory=STATIC_DIR), name="console-static")
