"""Authentication for the two endpoints a browser reaches without headers (EventSource, ``<img>``).

Browsers' EventSource and image tags cannot set ``Authorization``, so these endpoints also accept
the bearer token as ``?token=``; everything else takes the header only (:func:`central.auth.require`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool

from central.api.deps import hub_of
from central.auth import Principal, authenticate


def require_header_or_query(*roles: str, what: str) -> Callable[..., Awaitable[Principal]]:
    """FastAPI dependency: the caller by its ``Authorization`` header or its ``?token=``; 401 without
    a valid token, 403 (``role .. may not <what>``) when its role is not one of ``roles``."""
    allowed = frozenset(roles)

    async def dependency(
        request: Request,
        token: str | None = Query(None, description="Bearer token, for clients that cannot set headers."),
    ) -> Principal:
        hub = hub_of(request)
        header = request.headers.get("authorization") or (f"Bearer {token}" if token else None)
        who = await run_in_threadpool(authenticate, hub.db, hub.town, header)
        if who is None:
            raise HTTPException(
                401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"}
            )
        if who.role not in allowed:
            raise HTTPException(403, f"role {who.role!r} may not {what}")
        return who

    return dependency
