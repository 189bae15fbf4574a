"""schemathesis hooks for the live run (``SCHEMATHESIS_HOOKS=tests.properties.st_hooks``): what a
valid request holds that JSON Schema cannot say, put into the generated *positive* requests only.

The hub's schema says all it can (enums of the town's ids, patterns, lengths, ranges, a village of its
grid, each region name once); these are the checks beyond a JSON schema, each named in the schema's
own descriptions:

- a photo (``photos``, ``evidence``) is a base64 *JPEG* the hub decodes (``contentMediaType:
  image/jpeg``): generated base64 text becomes a real small JPEG;
- a region's polygon encloses some area and its edges do not cross: a generated one has its vertices
  put in order around their centre (which uncrosses them), or, when that leaves no area, becomes a
  triangle; and a camera names each region once (but ``mask``): later regions of a name are left out
  (JSON Schema's ``contains``/``maxContains`` could say it, but schemathesis cannot generate from it);
- a camera ledger upload is a spreadsheet of cameras: a generated file becomes a one-row CSV ledger of a
  camera in the town;
- a camera replaced with PUT keeps its id (the URL names it): the body's ``id`` is set to the URL's.

Negative requests (schema-invalid on purpose) are left as generated, so every check still sees them;
no check is turned off or widened.
"""

from __future__ import annotations

import base64
import io
import math
from typing import Any

import schemathesis
from schemathesis.transport.serialization import Binary

from gridwatch.config.schema import validate_polygon

TRIANGLE = [[0.1, 0.1], [0.9, 0.1], [0.5, 0.9]]


def _jpeg() -> str:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (32, 24), (90, 110, 80)).save(buf, format="JPEG", quality=80)
    return base64.b64encode(buf.getvalue()).decode()


JPEG = _jpeg()
LEDGER = (b"id,name,village,grid,lon,lat,node,main_url\n"
          b"st-ledger-1,schemathesis ledger camera,v-yongshan,g-01,120.1,30.1,edge-01,rtsp://10.0.0.1/live\n")


def _simple(points: list[list[float]]) -> list[list[float]]:
    """The polygon's vertices in order around their centre, or a triangle when that is no polygon."""
    if len(points) < 3:
        return points  # (shorter is schema-invalid: not a positive request)
    cx = sum(p[0] for p in points) / len(points)
    cy = sum(p[1] for p in points) / len(points)
    ordered = sorted(points, key=lambda p: math.atan2(p[1] - cy, p[0] - cx))
    try:
        validate_polygon([(float(x), float(y)) for x, y in ordered])
    except (ValueError, TypeError):
        return [list(p) for p in TRIANGLE]
    return ordered


def _repair(body: Any) -> None:
    if not isinstance(body, dict):
        return
    if isinstance(body.get("photos"), list):
        body["photos"] = [JPEG for _ in body["photos"]]
    if isinstance(body.get("evidence"), str):
        body["evidence"] = JPEG
    if isinstance(body.get("rois"), list):
        seen: set[Any] = set()
        rois = []
        for roi in body["rois"]:
            if isinstance(roi, dict) and isinstance(roi.get("polygon"), list):
                roi["polygon"] = _simple(roi["polygon"])
            name = roi.get("name") if isinstance(roi, dict) else None
            if name != "mask" and name in seen:
                continue
            seen.add(name)
            rois.append(roi)
        body["rois"] = rois
    if isinstance(body.get("file"), Binary):
        body["file"] = Binary(LEDGER)
    elif isinstance(body.get("file"), str):  # the same type as generated: the case stays schema-valid
        body["file"] = LEDGER.decode()


@schemathesis.hook
def before_call(context: Any, case: Any, kwargs: Any) -> None:
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive:
        return
    if any(info.mode.is_negative for info in meta.components.values()):
        return  # some part is invalid on purpose: leave the case as it is
    _repair(case.body)
    camera_id = (getattr(case, "path_parameters", None) or {}).get("camera_id")
    if case.method.upper() == "PUT" and isinstance(case.body, dict) and "id" in case.body and camera_id:
        case.body["id"] = camera_id
