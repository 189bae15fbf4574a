"""The error answers of the hub's operations, declared once, so the OpenAPI schema lists every status
a client can get and what its body looks like (checked by schemathesis against a running hub:
tests/properties/test_openapi_schemathesis.py).

Every refusal from the hub's own routes is ``{"detail": "why"}``; 422 is FastAPI's list of
validation errors or one such message (see ``central.app._declare_message_422``). Open311 routes
answer the GeoReport v2 error list instead (``central.open311``).
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Refusal(BaseModel):
    """Why the hub did not do what was asked."""

    detail: str = Field(description="One line for a person: what was wrong.")


#: What each error status means on this hub (a route may say more about its own).
MEANING: dict[int, str] = {
    400: "The body could not be read: not JSON, or not UTF-8 text.",
    401: "No bearer token, or an unknown or revoked one (`WWW-Authenticate: Bearer`).",
    403: "The token's role, or its edge node, may not do this.",
    404: "No such thing.",
    409: "The thing changed meanwhile; read it again.",
    413: "The body, or a picture in it, is larger than the hub accepts.",
    429: "Too many failed attempts from this address; `Retry-After` says when to try again.",
    502: "The edge node behind this request could not be reached or refused.",
    503: "The hub cannot do this now (starting, stopping, database unavailable); `Retry-After`.",
}
#: Every operation that reads a JSON body can be answered these, besides its own.
BODY = (400, 413)
#: Every operation behind :func:`central.auth.require`.
AUTH = (401, 403)


def errors(*codes: int, **why: str) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for a route: each status with the :class:`Refusal` body and its meaning;
    ``why`` (``e404="no such camera"``) says what it means for this route."""
    return {c: {"model": Refusal, "description": why.get(f"e{c}", MEANING[c])} for c in sorted(set(codes))}
