"""Shared bits of the routers: the hub of this app, role sets (central.roles), JPEG-from-base64."""

from __future__ import annotations

import base64
import binascii
from typing import Annotated

from fastapi import HTTPException, Path, Request

from central.context import Hub
from central.media import BadMedia, check_jpeg
from central.roles import DESK, OPS, USERS
from central.roles import EDGES as EDGE

__all__ = ["DESK", "EDGE", "MAX_ID", "OPS", "USERS", "IdPath", "hub_of", "jpeg_from_base64"]
#: Largest id or offset accepted in a URL (a BIGINT; larger would be a database error, not a 404).
MAX_ID = 2**63 - 1
IdPath = Annotated[int, Path(ge=1, le=MAX_ID, description="Numeric id.")]


def hub_of(request: Request) -> Hub:
    return request.app.state.hub  # type: ignore[no-any-return]


def jpeg_from_base64(value: str, field: str, limit: int) -> bytes:
    """Decode and check a base64 JPEG; 413 when too big, 422 when not a JPEG."""
    if len(value) > (limit * 4) // 3 + 4:
        raise HTTPException(413, f"{field} is larger than {limit} bytes")
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise HTTPException(422, f"{field} is not valid base64") from None
    if len(raw) > limit:
        raise HTTPException(413, f"{field} is larger than {limit} bytes")
    try:
        check_jpeg(raw)
    except BadMedia as exc:
        raise HTTPException(422, f"{field}: {exc}") from None
    return raw
