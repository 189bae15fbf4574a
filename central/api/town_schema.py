"""The OpenAPI schema as this hub's town makes it: ids that requests must name, as enums.

A camera must name a grid, a village of that grid and an edge node the town has; a work-order action
names a department or a grid worker of the town. The pydantic models cannot know the town, so the
schema FastAPI builds from them says "a string"; this narrows it, each time the schema is asked for,
to the town the hub runs now (the registry can change it while the hub runs), so that a request the
schema calls valid is one the hub accepts (tests/properties/test_openapi_schemathesis.py).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI

from gridwatch.config import Town


def narrow(schema: dict[str, Any], town: Town) -> dict[str, Any]:
    """A copy of ``schema`` with the town's ids as enums where requests name them."""
    out = copy.deepcopy(schema)
    models = out.get("components", {}).get("schemas", {})
    for name in ("Camera", "CameraPatch"):
        camera = models.get(name)
        if camera is None:
            continue
        props = camera["properties"]
        props["node"]["enum"] = sorted(n.id for n in town.nodes)
        if "grid" in props:  # (a patch does not move a camera to another grid: PUT does)
            props["grid"]["enum"] = sorted(g.id for g in town.grids)
            props["village"]["enum"] = sorted(v.id for v in town.villages)
            # the village is one of its grid's
            camera["anyOf"] = [
                {"properties": {"grid": {"const": g.id}, "village": {"enum": list(g.villages)}}}
                               for g in sorted(town.grids, key=lambda g: g.id)]
    departments = sorted(d.id for d in town.departments)
    workers = sorted({g.worker.id for g in town.grids})
    for name in ("DispatchBody", "ReassignBody"):
        body = models.get(name)
        if body is None:
            continue
        for field, ids in (("department", departments), ("assignee", workers)):
            for branch in body["properties"][field].get("anyOf", []):
                if branch.get("type") == "string":
                    branch["enum"] = ids
    return out


def install(app: FastAPI, town: Callable[[], Town]) -> None:
    """Serve the narrowed schema (``town``: the town the hub runs now)."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        return narrow(build(), town())

    app.openapi = openapi  # type: ignore[method-assign]
