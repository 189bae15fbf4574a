"""The error answers of the hub's operations, declared once, so the OpenAPI schema lists every status
a client can get and what its body looks like (checked by schemathesis against a running hub:
tests/properties/test_openapi_schemathesis.py).

Every refusal from the hub's own routes is ``{"detail": "why"}``; 422 is FastAPI's list of
validation errors or one such message (see ``central.app._declare_message_422``). Open311 routes
answer the GeoReport v2 error list instead (``central.open311``).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
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
    428: "A precondition the operation requires is missing (If-Match: the version edited).",
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


#: An RFC 3339 date-time (what the OpenAPI schema's ``format: date-time`` means): date, time and offset
#: all present. Query parameters declared with that format are parsed with :func:`rfc3339`, so that the
#: hub accepts exactly what its schema says (a bare number or a date alone is refused).
_DATE_TIME = re.compile(
    r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})", re.ASCII
)


def rfc3339(text: str) -> datetime:
    """The UTC time of an RFC 3339 date-time; ValueError for anything else."""
    if not _DATE_TIME.fullmatch(text):
        raise ValueError(text)
    # fromisoformat (3.11) takes at most 6 digits of fractions; RFC 3339 allows more
    head, dot, rest = text.partition(".")
    if dot:
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:min(digits, 6)]}{rest[digits:]}"
    try:
        return datetime.fromisoformat(text.upper().replace("Z", "+00:00")).astimezone(UTC)
    except OverflowError:
        raise ValueError(text) from None
