"""Request bodies read as their JSON schema says: a JSON ``0`` is not ``false``, ``"1.5"`` is not a
number, while ``1.0`` is an integer (JSON Schema counts a number without a fraction as one). FastAPI
validates a body in pydantic's lax (Python) mode, which converts the first two; the schema the hub
publishes does not, so a request the schema calls invalid must be refused (422) too. A route adds
``Depends(strict_json(Model))`` beside its body parameter (which still gives the schema and the
value)."""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError


def strict_json(model: Any) -> Callable[[Request], Awaitable[None]]:
    """A dependency that checks the request's JSON body against ``model`` in strict JSON mode."""
    adapter: TypeAdapter[Any] = TypeAdapter(model)

    async def check(request: Request) -> None:
        try:
            doc = json.loads(await request.body(), parse_float=_number)
        except ValueError:
            return  # not JSON: FastAPI's own parsing of the body refuses it
        try:
            adapter.validate_json(json.dumps(doc), strict=True)
        except ValidationError as exc:
            raise RequestValidationError(
                [{"type": e["type"], "loc": ("body", *e["loc"]), "msg": e["msg"]} for e in exc.errors()]
            ) from None

    return check


def _number(text: str) -> float | int:
    """A JSON number with a fraction or exponent: an int when it has no fraction (``1.0``, ``1e3``)."""
    value = float(text)
    return int(value) if math.isfinite(value) and value.is_integer() else value
