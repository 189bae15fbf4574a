"""The camera registry over HTTP: read and edit cameras with versions, the audit trail, a node's
configuration for its edge (ETag), and the camera-ledger upload.

Writes (maintainer, admin) name the version they edit in ``If-Match`` (the ``ETag`` a read gave, e.g.
``"3"``); a stale one answers 409 with the camera as it is now, a missing one 428. Invalid documents
answer 422 with FastAPI's list of ``{loc, msg, type}`` (``loc`` is the field path in the body).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, cast

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from central import registry
from central.api.contract import AUTH, BODY, Refusal, errors
from central.api.deps import MAX_ID, OPS, hub_of
from central.api.strict_body import strict_json
from central.auth import EDGE, Principal, require
from central.ledger import TEMPLATE, LedgerError, parse_ledger
from central.registry_live import LiveRegistry
from gridwatch.config.schema import SECRET_NAME, Camera, CameraDetection, CameraDevice, Roi

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])

EDITORS = ("maintainer", "admin")
#: Largest ledger upload (a 280-row spreadsheet is ~30 kB; a county's tens of thousands fit).
MAX_LEDGER_BYTES = 20_000_000

#: What ``If-Match`` may hold: one camera version, as its ETag gives it (``"3"``, ``W/"3"`` or ``3``).
IF_MATCH = r'^(W/)?"?[0-9]{1,9}"?$'
#: The header as the OpenAPI schema declares it: required, and its form. The handlers read it
#: themselves, so that a missing one is 428 (RFC 6585) and a malformed one 400, not FastAPI's 422.
IF_MATCH_PARAMETER = {"parameters": [{
    "name": "If-Match", "in": "header", "required": True,
    "description": 'The camera version this write edits, e.g. "3" (its ETag). Missing: 428; '
                   "not a version: 400; not the camera's current version: 409.",
    "schema": {"type": "string", "pattern": IF_MATCH}}]}
#: The Problem-style answers of the writes (``detail``: one line, or the 422 list).
WRITE_ERRORS = errors(*AUTH, *BODY, 404, 409, e403="Only maintainers and admins edit the registry.",
                      e404="No camera with that id.",
                      e409="Stale If-Match: the body's ``current`` has the camera as it is now.")
VERSION_ERRORS = errors(400, 428, e400="The body could not be read, or If-Match is not a camera version.",
                        e428="No If-Match: name the version you edit.")


class StaleRefusal(Refusal):
    current: dict[str, Any] | None = Field(
        default=None, description="The camera as it is now (with its version), on a stale If-Match.")


#: PUT and PATCH: a stale version answers 409 with the camera as it is now.
EDIT_ERRORS = WRITE_ERRORS | VERSION_ERRORS | {
    409: {"model": StaleRefusal, "description": "Stale If-Match: ``current`` has the camera as it is now."}}


class Deleted(BaseModel):
    deleted: str = Field(description="The camera's id.")
    revision: int = Field(description="The registry's revision after the delete.")


class LedgerInvalid(BaseModel):
    detail: str | list[dict[str, Any]] = Field(
        description="What was wrong, in one line (or FastAPI's list, for a form that is not one).")
    errors: list[dict[str, Any]] = Field(default_factory=list,
                                         description="Every bad row: row number, column, reason.")


class CameraOut(BaseModel):
    camera: dict[str, Any] = Field(description="The camera as its cameras.yaml entry holds it.")
    version: int = Field(description="Raised by each write of this camera; send it back in If-Match.")
    updated_at: str
    updated_by: str
    revision: int = Field(description="The registry's revision after this answer.")


def _no_default(schema: dict[str, Any]) -> None:
    schema.pop("default", None)


def _unless_given(**kw: Any) -> Any:
    """A key a patch may leave out but not set to null (the camera must keep one)."""
    return Field(default=None, json_schema_extra=_no_default, **kw)


class StreamsPatch(BaseModel):
    """Streams in a merge patch: ``null`` removes the sub-stream or the secret's name."""

    model_config = ConfigDict(extra="forbid")
    main: str = _unless_given(description="Main stream URL.")
    sub: str | None = Field(default=None, description="Sub stream URL; null removes it.")
    password_ref: str | None = Field(default=None, pattern=SECRET_NAME,
                                     description="Secret that fills {password}; null removes it.")


class CameraPatch(BaseModel):
    """A JSON merge patch of a camera (RFC 7396): the keys given replace the camera's, ``null`` removes
    an optional key. The id, grid and village do not change this way: a camera moves to another grid
    and village with PUT."""

    model_config = ConfigDict(extra="forbid")
    name: str = _unless_given(description="Name shown to the centre.")
    node: str = _unless_given(description="Edge node id.")
    lat: float = _unless_given(ge=-90, le=90)
    lon: float = _unless_given(ge=-180, le=180)
    road: str | None = None
    streams: StreamsPatch = _unless_given()
    rois: list[Roi] | None = None
    detection: CameraDetection | None = None
    enabled: bool | None = None
    device: CameraDevice | None = None


def _live(request: Request) -> LiveRegistry:
    return request.app.state.registry  # type: ignore[no-any-return]


def _actor(who: Principal) -> registry.Actor:
    return registry.Actor(name=who.name, role=who.role)


def _error(exc: registry.RegistryError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status)


def _version(request: Request, camera_id: str) -> int | JSONResponse:
    """The version ``If-Match`` names; 404 for an unknown camera first (what is edited must exist
    before the version of it matters), then 428 without the header, 400 for one of another form."""
    if_match = request.headers.get("if-match")
    if if_match is None or not re.fullmatch(IF_MATCH, if_match.strip()):
        try:
            registry.get_camera(hub_of(request).db, camera_id)
        except registry.RegistryError as exc:
            return _error(exc)
    if if_match is None:
        return JSONResponse({"detail": 'If-Match is required: the version you edit, e.g. If-Match: "3"'},
                            status_code=428)
    if not re.fullmatch(IF_MATCH, if_match.strip()):
        return JSONResponse({"detail": f"If-Match {if_match!r} is not a camera version"}, status_code=400)
    return int(if_match.strip().removeprefix("W/").strip('"'))


def _answer(record: registry.CameraRecord, rev: int, status: int = 200) -> JSONResponse:
    return JSONResponse({**record.json(), "revision": rev}, status_code=status,
                        headers={"ETag": f'"{record.version}"'})


@router.get("", responses=errors(*AUTH))
def summary(request: Request, _: Principal = Depends(require(*OPS))) -> dict[str, Any]:
    """The registry's revision and size; every node's configuration state is in GET /api/v1/nodes."""
    rev = _live(request).revision()
    town = hub_of(request).town
    return {"revision": rev, "cameras": len(town.cameras), "nodes": len(town.nodes)}


@router.get("/cameras", responses=errors(*AUTH))
def list_cameras(
    request: Request,
    node: str | None = Query(None, max_length=64, description="Only this node's cameras."),
    _: Principal = Depends(require(*OPS)),
) -> dict[str, Any]:
    records, rev = registry.list_cameras(hub_of(request).db, node)
    return {"revision": rev, "total": len(records),
            "items": [{**r.json()} for r in records]}


@router.get("/cameras/{camera_id}", response_model=CameraOut,
            responses=errors(*AUTH, 404, e404="No camera with that id."))
def get_camera(camera_id: str, request: Request, _: Principal = Depends(require(*OPS))) -> JSONResponse:
    try:
        record = registry.get_camera(hub_of(request).db, camera_id)
    except registry.RegistryError as exc:
        return _error(exc)
    return _answer(record, _live(request).revision())


@router.post("/cameras", status_code=201, response_model=CameraOut,
             responses=errors(*AUTH, *BODY, 409,
                              e409="A camera with that id exists, or the registry is empty."))
def create_camera(
    camera: Camera, request: Request, who: Principal = Depends(require(*EDITORS)),
    _strict: None = Depends(strict_json(Camera)),
) -> JSONResponse:
    hub, live = hub_of(request), _live(request)
    live.revision()
    try:
        record, rev = registry.create_camera(hub.db, hub.town, _doc(camera), _actor(who), hub.now())
    except registry.RegistryError as exc:
        return _error(exc)
    live.written(rev)
    return _answer(record, rev, 201)


@router.put("/cameras/{camera_id}", response_model=CameraOut, openapi_extra=IF_MATCH_PARAMETER,
            responses=EDIT_ERRORS)
def replace_camera(camera_id: str, camera: Camera, request: Request,
                   who: Principal = Depends(require(*EDITORS)),
                   _strict: None = Depends(strict_json(Camera))) -> JSONResponse:
    version = _version(request, camera_id)
    if isinstance(version, JSONResponse):
        return version
    hub, live = hub_of(request), _live(request)
    live.revision()
    try:
        record, rev = registry.replace_camera(hub.db, hub.town, camera_id, _doc(camera), version,
                                              _actor(who), hub.now())
    except registry.RegistryError as exc:
        return _error(exc)
    live.written(rev)
    return _answer(record, rev)


@router.patch("/cameras/{camera_id}", response_model=CameraOut, openapi_extra=IF_MATCH_PARAMETER,
              responses=EDIT_ERRORS)
def patch_camera(camera_id: str, patch: CameraPatch, request: Request,
                 who: Principal = Depends(require(*EDITORS)),
                 _strict: None = Depends(strict_json(CameraPatch))) -> JSONResponse:
    """A JSON merge patch (RFC 7396): ``{"rois": [...]}`` replaces the regions, ``null`` removes a key."""
    version = _version(request, camera_id)
    if isinstance(version, JSONResponse):
        return version
    hub, live = hub_of(request), _live(request)
    live.revision()
    try:
        record, rev = registry.patch_camera(hub.db, hub.town, camera_id,
                                            patch.model_dump(mode="json", exclude_unset=True), version,
                                            _actor(who), hub.now())
    except registry.RegistryError as exc:
        return _error(exc)
    live.written(rev)
    return _answer(record, rev)


@router.delete("/cameras/{camera_id}", response_model=Deleted, openapi_extra=IF_MATCH_PARAMETER,
               responses=errors(*AUTH, 404, e404="No camera with that id.") | VERSION_ERRORS
               | {409: {"model": StaleRefusal, "description": "Stale If-Match."}})
def delete_camera(camera_id: str, request: Request,
                  who: Principal = Depends(require(*EDITORS))) -> Any:
    version = _version(request, camera_id)
    if isinstance(version, JSONResponse):
        return version
    hub, live = hub_of(request), _live(request)
    try:
        rev = registry.delete_camera(hub.db, camera_id, version, _actor(who), hub.now())
    except registry.RegistryError as exc:
        return _error(exc)
    live.written(rev)
    return {"deleted": camera_id, "revision": rev}


@router.get("/audit", responses=errors(*AUTH))
def audit(
    request: Request,
    camera: str | None = Query(None, max_length=64, description="Only changes of this camera (or section)."),
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=1, le=MAX_ID,
                               description="Page on: changes older than this audit id."),
    _: Principal = Depends(require(*OPS)),
) -> dict[str, Any]:
    """Who changed what, newest first, with the document before and after each change."""
    return {"items": registry.audit(hub_of(request).db, camera, limit, before)}


@router.get("/nodes/{node_id}/config", responses=cast(dict[int | str, dict[str, Any]], {
                304: {"description": "Unchanged since If-None-Match."}})
            | errors(*AUTH, 404, e403="An edge token reads its own node's configuration only.",
                     e404="No edge node with that id."))
def node_config(node_id: str, request: Request, if_none_match: Annotated[str | None, Header()] = None,
                who: Principal = Depends(require(EDGE, *OPS))) -> Response:
    """What the edge node runs: its cameras, the town's detection settings, the revision (also the
    ETag, ``"r<revision>"``). Secrets are never in it: URLs hold ``{password}``, filled on the edge."""
    if who.role == EDGE and who.node_id != node_id:
        return JSONResponse({"detail": f"this token is for node {who.node_id!r}"}, status_code=403)
    hub = hub_of(request)
    if hub.town.node(node_id) is None:
        return JSONResponse({"detail": f"unknown edge node {node_id!r}"}, status_code=404)
    rev = _live(request).revision()
    etag = f'"r{rev}"'
    if if_none_match is not None and etag in [t.strip() for t in if_none_match.split(",")]:
        return Response(status_code=304, headers={"ETag": etag})
    doc = registry.node_document(hub.db, node_id)
    return JSONResponse(doc, headers={"ETag": f'"r{doc["revision"]}"'})


@router.post("/import", responses=errors(*AUTH, *BODY, 409, e409="The registry is empty.")
             | {422: {"model": LedgerInvalid, "description": "Rows with errors: nothing was imported."}})
async def import_ledger(
    request: Request,
    file: UploadFile = File(description="The camera ledger, .xlsx or .csv (UTF-8 or GB18030); a file "
                            "named neither way is told by its content."),
    main_template: str | None = Form(None, max_length=500, pattern=TEMPLATE,
                                     description="Main-stream URL template for brands without one: "
                                     "{user}, {password}, {ip}, {channel} are filled in."),
    sub_template: str | None = Form(None, max_length=500, pattern=TEMPLATE,
                                    description="Sub-stream URL template."),
    dry_run: bool = Form(False, description="Check every row, import nothing."),
    who: Principal = Depends(require(*EDITORS)),
) -> JSONResponse:
    """The camera ledger as the console uploads it: every row checked first; one bad row and nothing
    is imported (422 lists every bad row: row number, column, reason)."""
    data = await file.read(MAX_LEDGER_BYTES + 1)
    if len(data) > MAX_LEDGER_BYTES:
        return JSONResponse({"detail": f"the ledger is larger than {MAX_LEDGER_BYTES} bytes"},
                            status_code=413)
    hub, live = hub_of(request), _live(request)
    live.revision()

    def run() -> JSONResponse:
        try:
            docs = parse_ledger(data, file.filename or "ledger", hub.town, main_template, sub_template,
                                existing={r.doc["id"]: r.doc for r in registry.list_cameras(hub.db)[0]})
        except LedgerError as exc:
            return JSONResponse({"detail": exc.message, "errors": exc.rows}, status_code=422)
        if dry_run:
            return JSONResponse({"checked": len(docs), "imported": 0, "dry_run": True})
        try:
            rev, created, updated = registry.upsert_cameras(hub.db, hub.town, docs, _actor(who), hub.now())
        except registry.RegistryError as exc:
            return _error(exc)
        live.written(rev)
        return JSONResponse({"checked": len(docs), "created": created, "updated": updated,
                             "unchanged": len(docs) - created - updated, "revision": rev})

    return await run_in_threadpool(run)


def _doc(camera: Camera) -> dict[str, Any]:
    """The camera as YAML would hold it: only the keys given."""
    return camera.model_dump(mode="json", exclude_unset=True)

