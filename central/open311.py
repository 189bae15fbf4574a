"""Grid workers' reports through Open311 GeoReport v2, so existing Open311 clients work unchanged.

Field names follow the spec exactly (service_request_id, service_code, lat, long, address_string,
media_url, ...). POST is form-encoded (or multipart with a ``media`` photo) and needs ``api_key``: a
grid_worker or admin token. Errors are ``[{"code": ..., "description": ...}]``. JSON only (no XML).
Each report becomes a work order routed by its service's kind and located by lat/long or address; its
source is ``grid_worker`` when a grid worker filed it, else ``public``.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from sqlalchemy import ColumnElement, select
from starlette.datastructures import FormData, UploadFile

from central import order_store
from central.api.contract import rfc3339
from central.api.deps import hub_of
from central.auth import authenticate
from central.context import Hub
from central.media import BadMedia, check_jpeg, media_url
from central.order_lifecycle import State
from central.roles import GRID_WORKER
from central.routing import locate, route
from central.tables import Incident, WorkOrder

router = APIRouter(prefix="/open311/v2", tags=["open311"])
REPORTERS = frozenset({GRID_WORKER, "admin"})
MAX_DESCRIPTION = 4000
MAX_RESULTS = 1000


class Open311Error(Exception):
    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code, self.description = code, description


def _error(code: int, description: str) -> JSONResponse:
    return JSONResponse([{"code": code, "description": description}], status_code=code)


# ---- the contract, as OpenAPI declares it (GeoReport v2 field names) -------------------------------


class ErrorItem(BaseModel):
    code: int = Field(description="The HTTP status again, as GeoReport v2 wants it.")
    description: str = Field(description="What was wrong.")


class ServiceOut(BaseModel):
    service_code: str
    service_name: str
    description: str
    metadata: bool
    type: str
    keywords: str
    group: str


class RequestOut(BaseModel):
    """One service request (a work order, as Open311 sees it)."""

    service_request_id: str
    status: str = Field(description="open or closed.")
    status_notes: str | None
    service_name: str
    service_code: str
    description: str | None
    agency_responsible: str | None
    service_notice: str | None
    requested_datetime: str
    updated_datetime: str
    expected_datetime: str
    address: str | None
    address_id: str | None
    zipcode: str | None
    lat: float | None
    long: float | None
    media_url: str | None


class Created(BaseModel):
    service_request_id: str
    service_notice: str
    account_id: str | None


ERROR_MEANING = {
    400: "A field is missing or malformed (the description says which).",
    401: "No api_key (or bearer token).",
    403: "The api_key is not valid, or its role may not file reports.",
    404: "Not found (the description says what).",
    413: "The body or the media photo is too large.",
}


def _errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    return {c: {"model": list[ErrorItem], "description": ERROR_MEANING[c]} for c in codes}


#: Text: no NUL, and (where required) not blank, as ``_text`` reads it.
_NO_NUL = "^[^\\x00]*$"
_NOT_BLANK = "^[^\\x00]*[^\\x00\\s][^\\x00]*$"
_REPORT: dict[str, Any] = {
    "type": "object",
    "required": ["service_code"],
    "properties": {
        "api_key": {"type": "string", "maxLength": 512, "pattern": _NO_NUL,
                    "description": "A grid_worker or admin token (or send it as a bearer token)."},
        "service_code": {"type": "string", "maxLength": 64, "pattern": _NOT_BLANK,
                         "description": "From services.json."},
        "lat": {"type": "number", "minimum": -90, "maximum": 90, "description": "With long."},
        "long": {"type": "number", "minimum": -180, "maximum": 180, "description": "With lat."},
        "address_string": {"type": "string", "maxLength": 512, "pattern": _NOT_BLANK,
                           "description": "Where, in words (when lat/long are not given)."},
        "description": {"type": "string", "maxLength": MAX_DESCRIPTION, "pattern": _NO_NUL},
        "media_url": {"type": "string", "maxLength": 1024, "pattern": "^https?://[^\\x00]*$",
                      "description": "A photo elsewhere (or upload one as `media`, multipart)."},
    },
    "anyOf": [{"required": ["lat", "long"]}, {"required": ["address_string"]}],
    "dependentRequired": {"lat": ["long"], "long": ["lat"]},
}
_IDS = "^ *([0-9]{1,18} *)?(, *([0-9]{1,18} *)?)*$"
_STATUSES = "^ *((open|closed) *)?(, *((open|closed) *)?)*$"


def _query(name: str, description: str, **schema: Any) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": {"type": "string", **schema}}


_LIST_QUERY = [
    _query("service_request_id", "Comma-separated ids (at most 1000); the others are then ignored.",
           pattern=_IDS, maxLength=1999),
    _query("service_code", "Comma-separated service codes.", maxLength=2000),
    _query("start_date", "Earliest requested_datetime (ISO 8601); default 90 days ago.", format="date-time"),
    _query("end_date", "Latest requested_datetime (ISO 8601).", format="date-time"),
    _query("status", "open, closed, or both comma-separated.", pattern=_STATUSES, maxLength=200),
]


def _check_query(q: Any) -> None:
    """The list's query parameters against the very limits the schema declares (``_LIST_QUERY``)."""
    for param in _LIST_QUERY:
        value, schema = q.get(param["name"]), param["schema"]
        if value is None:
            continue
        if len(value) > schema.get("maxLength", len(value)):
            raise Open311Error(400, f"{param['name']} is longer than {schema['maxLength']} characters")
        if "pattern" in schema and not re.fullmatch(schema["pattern"], value):
            raise Open311Error(400, f"{param['name']}: {param['description']}")


@router.get("/services.json", response_model=list[ServiceOut])
def services(request: Request) -> list[dict[str, Any]]:
    return [
        {
            "service_code": s.code,
            "service_name": s.name,
            "description": s.description,
            "metadata": False,
            "type": "realtime",
            "keywords": s.keywords,
            "group": s.group,
        }
        for s in hub_of(request).town.services
    ]


@router.post(
    "/requests.json",
    response_model=None,
    responses={200: {"model": list[Created], "description": "The new request's id."},
               **_errors(400, 401, 403, 404, 413)},
    openapi_extra={"requestBody": {"required": True, "content": {
        "application/x-www-form-urlencoded": {"schema": _REPORT},
        "multipart/form-data": {"schema": _REPORT},
    }}},
    description="File a report. Form-encoded, or multipart with a JPEG photo as the file field `media` "
                "(up to the town's hub.max_snapshot_bytes). A location is lat and long, or address_string.",
)
async def post_request(request: Request) -> Any:
    hub = hub_of(request)
    try:
        form = await request.form(max_files=2, max_fields=50)
    except Exception as exc:  # malformed multipart/urlencoded body
        status = getattr(exc, "status_code", 400)
        return _error(
            413 if status == 413 else 400, f"could not read the form: {getattr(exc, 'detail', exc)}"
        )
    try:
        media_bytes = await _media_upload(form, hub.town.hub.max_snapshot_bytes)
        return await run_in_threadpool(_create, hub, request, form, media_bytes)
    except Open311Error as exc:
        return _error(exc.code, exc.description)
    finally:
        await form.close()


async def _media_upload(form: FormData, limit: int) -> bytes | None:
    upload = form.get("media")
    if upload is None or isinstance(upload, str):
        return None
    if not isinstance(upload, UploadFile):
        raise Open311Error(400, "media must be a file upload")
    data = await upload.read(limit + 1)
    if len(data) > limit:
        raise Open311Error(413, f"media is larger than {limit} bytes")
    try:
        check_jpeg(data)
    except BadMedia as exc:
        raise Open311Error(400, f"media: {exc}") from None
    return data


def _text(form: FormData, name: str, max_len: int = 512) -> str | None:
    value = form.get(name)
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    if not isinstance(value, str):
        raise Open311Error(400, f"{name} must be a text field")
    if len(value) > max_len:
        raise Open311Error(400, f"{name} is longer than {max_len} characters")
    if "\x00" in value:
        raise Open311Error(400, f"{name} must not contain NUL characters")
    return value.strip()


def _coord(form: FormData, name: str, lo: float, hi: float) -> float | None:
    raw = _text(form, name, 32)
    if raw is None:
        return None
    try:
        value = float(raw)
    except ValueError:
        raise Open311Error(400, f"{name} must be a number") from None
    if not lo <= value <= hi:
        raise Open311Error(400, f"{name} must be between {lo} and {hi}")
    return value


def _create(hub: Hub, request: Request, form: FormData, media_bytes: bytes | None) -> Any:
    key = _text(form, "api_key", 512)
    header = request.headers.get("authorization") or (f"Bearer {key}" if key else None)
    who = authenticate(hub.db, hub.town, header)
    if who is None:
        return _error(
            401 if key is None and header is None else 403,
            "api_key is required" if header is None else "api_key is not valid",
        )
    if who.role not in REPORTERS:
        return _error(403, f"role {who.role!r} may not file reports (grid_worker or admin)")
    code = _text(form, "service_code", 64)
    if code is None:
        raise Open311Error(400, "service_code is required")
    service = next((s for s in hub.town.services if s.code == code), None)
    if service is None:
        raise Open311Error(404, f"service_code {code!r} not found")
    lat, lon = _coord(form, "lat", -90, 90), _coord(form, "long", -180, 180)
    address = _text(form, "address_string", 512)
    if (lat is None) != (lon is None):
        raise Open311Error(400, "lat and long must be given together")
    if lat is None and address is None:
        raise Open311Error(400, "a location is required: lat and long, or address_string")
    description = _text(form, "description", MAX_DESCRIPTION) or ""
    link = _text(form, "media_url", 1024)
    if link is not None and not link.startswith(("http://", "https://")):
        raise Open311Error(400, "media_url must be an http(s) URL")
    grid, village = locate(hub.town, lat, lon, address)
    now = hub.now()
    routing = route(hub.town, service.kind, grid, village, now)
    saved = hub.media.save(media_bytes, "jpg") if media_bytes is not None else None
    try:
        with hub.db.write() as s:
            wo = order_store.create(
                s,
                hub.town,
                routing,
                now,
                source=report_source(who.role),
                actor=who.name,
                role=who.role,
                description=description,
                service_code=service.code,
                address=address,
                lat=lat,
                lon=lon,
                media=link or (media_url(saved) if saved else None),
            )
            if saved:
                wo.media_url = media_url(saved)
            order_id = wo.id
    except BaseException:
        hub.media.delete(saved)
        raise
    notice = f"routed to {routing.department_id}" + (f", grid {grid}" if grid else ", grid to be assigned")
    return [{"service_request_id": str(order_id), "service_notice": notice, "account_id": None}]


def report_source(role: str) -> str:
    """A grid worker's own report is ``grid_worker``; any other reporter's (an admin entering a
    citizen's call, a public app's key) is ``public``."""
    return GRID_WORKER if role == GRID_WORKER else "public"


def _is_id(text: str) -> bool:
    """ASCII digits that fit a BIGINT ("²".isdigit() is True, yet int("²") fails)."""
    return text.isascii() and text.isdigit() and int(text) < 2**63


def _parse_date(value: str | None, name: str) -> datetime | None:
    """GeoReport v2 names the W3C profile of ISO 8601, which comes to RFC 3339."""
    if value is None:
        return None
    try:
        return rfc3339(value)
    except ValueError:
        raise Open311Error(400, f"{name} must be an RFC 3339 date-time, e.g. 2026-05-01T08:00:00+08:00") \
            from None


def _status(state: str) -> str:
    return "closed" if state in (State.CLOSED.value, State.REJECTED.value) else "open"


def _as_request(hub: Hub, request: Request, wo: WorkOrder, snapshot: str | None) -> dict[str, Any]:
    dep = next((d for d in hub.town.departments if d.id == wo.department_id), None)
    service = next((s for s in hub.town.services if s.code == wo.service_code), None)
    cam = hub.cameras.get(wo.camera_id or "")
    link = wo.media_url or media_url(snapshot)
    if link and link.startswith("/"):
        link = str(request.base_url).rstrip("/") + link
    return {
        "service_request_id": str(wo.id),
        "status": _status(wo.state),
        "status_notes": wo.status_notes or None,
        "service_name": service.name if service else wo.kind,
        "service_code": wo.service_code or wo.kind,
        "description": wo.description,
        "agency_responsible": dep.name if dep else wo.department_id,
        "service_notice": None,
        "requested_datetime": wo.created_at.isoformat(),
        "updated_datetime": wo.updated_at.isoformat(),
        "expected_datetime": wo.close_by.isoformat(),
        "address": wo.address or (cam.name if cam else None),
        "address_id": None,
        "zipcode": None,
        "lat": wo.lat if wo.lat is not None else (cam.lat if cam else None),
        "long": wo.lon if wo.lon is not None else (cam.lon if cam else None),
        "media_url": link,
    }


@router.get(
    "/requests.json",
    response_model=None,
    responses={200: {"model": list[RequestOut], "description": "Newest first, at most 1000."},
               **_errors(400)},
    openapi_extra={"parameters": _LIST_QUERY},
)
def get_requests(request: Request) -> Any:
    hub = hub_of(request)
    q = request.query_params
    try:
        _check_query(q)
        start, end = (
            _parse_date(q.get("start_date"), "start_date"),
            _parse_date(q.get("end_date"), "end_date"),
        )
        conds: list[ColumnElement[bool]] = []
        ids = [x.strip() for x in (q.get("service_request_id") or "").split(",") if x.strip()]
        if ids:
            if not all(_is_id(x) for x in ids) or len(ids) > 1000:
                raise Open311Error(400, "service_request_id must be numbers")
            conds.append(WorkOrder.id.in_([int(x) for x in ids]))
        else:
            if start is None and end is None:
                start = hub.now() - timedelta(days=90)
            if start is not None:
                conds.append(WorkOrder.created_at >= start)
            if end is not None:
                conds.append(WorkOrder.created_at <= end)
        codes = [x.strip() for x in (q.get("service_code") or "").split(",") if x.strip()]
        if codes:
            conds.append(WorkOrder.service_code.in_(codes))
        statuses = [x.strip() for x in (q.get("status") or "").split(",") if x.strip()]
        if any(x not in ("open", "closed") for x in statuses):
            raise Open311Error(400, "status must be open or closed")
        closed = [State.CLOSED.value, State.REJECTED.value]
        if statuses == ["open"]:
            conds.append(WorkOrder.state.not_in(closed))
        elif statuses == ["closed"]:
            conds.append(WorkOrder.state.in_(closed))
    except Open311Error as exc:
        return _error(exc.code, exc.description)
    with hub.db.read() as s:
        rows = list(
            s.execute(
                select(WorkOrder, Incident.snapshot)
                .outerjoin(Incident, Incident.id == WorkOrder.incident_id)
                .where(*conds)
                .order_by(WorkOrder.created_at.desc())
                .limit(MAX_RESULTS)
            )
        )
    return [_as_request(hub, request, wo, snap) for wo, snap in rows]


@router.get(
    "/requests/{request_id}.json",
    response_model=None,
    responses={200: {"model": list[RequestOut], "description": "The one request."}, **_errors(404)},
)
def get_request(request_id: str, request: Request) -> Any:
    hub = hub_of(request)
    if not _is_id(request_id):
        return _error(404, f"service_request_id {request_id!r} not found")
    with hub.db.read() as s:
        row = s.execute(
            select(WorkOrder, Incident.snapshot)
            .outerjoin(Incident, Incident.id == WorkOrder.incident_id)
            .where(WorkOrder.id == int(request_id))
        ).first()
    if row is None:
        return _error(404, f"service_request_id {request_id!r} not found")
    return [_as_request(hub, request, row[0], row[1])]
