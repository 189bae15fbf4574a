"""The camera registry over HTTP: read and edit cameras with versions, the audit trail, a node's
configuration for its edge (ETag), and the camera-ledger upload.

Writes (maintainer, admin) name the version they edit in ``If-Match`` (the ``ETag`` a read gave, e.g.
``"3"``); a stale one answers 409 with the camera as it is now, a missing one 428. Invalid documents
answer 422 with FastAPI's list of ``{loc, msg, type}`` (``loc`` is the field path in the body).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Header, Query, Request, Response, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from central import registry
from central.api.deps import OPS, hub_of
from central.auth import EDGE, Principal, require
from central.ledger import LedgerError, parse_ledger
from central.registry_live import LiveRegistry
from gridwatch.config.schema import Camera

router = APIRouter(prefix="/api/v1/registry", tags=["registry"])

EDITORS = ("maintainer", "admin")
#: Largest ledger upload (a 280-row spreadsheet is ~30 kB; a county's tens of thousands fit).
MAX_LEDGER_BYTES = 20_000_000

IfMatch = Annotated[
    str | None, Header(description='The camera version this write edits, e.g. "3" (its ETag).')
]


class CameraOut(BaseModel):
    camera: dict[str, Any] = Field(description="The camera as its cameras.yaml entry holds it.")
    version: int = Field(description="Raised by each write of this camera; send it back in If-Match.")
    updated_at: str
    updated_by: str
    revision: int = Field(description="The registry's revision after this answer.")


def _live(request: Request) -> LiveRegistry:
    return request.app.state.registry  # type: ignore[no-any-return]


def _actor(who: Principal) -> registry.Actor:
    return registry.Actor(name=who.name, role=who.role)


def _error(exc: registry.RegistryError) -> JSONResponse:
    return JSONResponse({"detail": exc.detail, **exc.extra}, status_code=exc.status)


def _version(if_match: str | None) -> int | JSONResponse:
    if if_match is None:
        return JSONResponse({"detail": 'If-Match is required: the version you edit, e.g. If-Match: "3"'},
                            status_code=428)
    value = if_match.strip().removeprefix("W/").strip('"')
    if not (value.isascii() and value.isdigit()) or len(value) > 9:
        return JSONResponse({"detail": f"If-Match {if_match!r} is not a camera version"}, status_code=400)
    return int(value)


def _answer(record: registry.CameraRecord, rev: int, status: int = 200) -> JSONResponse:
    return JSONResponse({**record.json(), "revision": rev}, status_code=status,
                        headers={"ETag": f'"{record.version}"'})


@router.get("")
def summary(request: Request, _: Principal = Depends(require(*OPS))) -> dict[str, Any]:
    """The registry's revision and size; every node's configuration state is in GET /api/v1/nodes."""
    rev = _live(request).revision()
    town = hub_of(request).town
    return {"revision": rev, "cameras": len(town.cameras), "nodes": len(town.nodes)}


@router.get("/cameras")
def list_cameras(
    request: Request,
    node: str | None = Query(None, max_length=64, description="Only this node's cameras."),
    _: Principal = Depends(require(*OPS)),
) -> dict[str, Any]:
    records, rev = registry.list_cameras(hub_of(request).db, node)
    return {"revision": rev, "total": len(records),
            "items": [{**r.json()} for r in records]}


@router.get("/cameras/{camera_id}", response_model=CameraOut)
def get_camera(camera_id: str, request: Request, _: Principal = Depends(require(*OPS))) -> JSONResponse:
    try:
        record = registry.get_camera(hub_of(request).db, camera_id)
    except registry.RegistryError as exc:
        return _error(exc)
    return _answer(record, _live(request).revision())


@router.post("/cameras", status_code=201, response_model=CameraOut,
             responses={409: {"description": "A camera with that id exists."}})
def create_camera(
    camera: Camera, request: Request, who: Principal = Depends(require(*EDITORS))
) -> JSONResponse:
    hub, live = hub_of(request), _live(request)
    live.revision()
    try:
        record, rev = registry.create_camera(hub.db, hub.town, _doc(camera), _actor(who), hub.now())
    except registry.RegistryError as exc:
        return _error(exc)
    live.written(rev)
    return _answer(record, rev, 201)


@router.put("/cameras/{camera_id}", response_model=CameraOut,
            responses={409: {"description": "Stale If-Match: the body has the camera as it is now."},
                       428: {"description": "No If-Match."}})
def replace_camera(camera_id: str, camera: Camera, request: Request, if_match: IfMatch = None,
                   who: Principal = Depends(require(*EDITORS))) -> JSONResponse:
    version = _version(if_match)
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


@router.patch("/cameras/{camera_id}", response_model=CameraOut,
              responses={409: {"description": "Stale If-Match."}, 428: {"description": "No If-Match."}})
def patch_camera(camera_id: str, patch: dict[str, Any], request: Request, if_match: IfMatch = None,
                 who: Principal = Depends(require(*EDITORS))) -> JSONResponse:
    """A JSON merge patch (RFC 7396): ``{"rois": [...]}`` replaces the regions, ``null`` removes a key."""
    version = _version(if_match)
    if isinstance(version, JSONResponse):
        return version
    hub, live = hub_of(request), _live(request)
    live.revision()
    try:
        record, rev = registry.patch_camera(hub.db, hub.town, camera_id, patch, version, _actor(who),
                                            hub.now())
    except registry.RegistryError as exc:
        return _error(exc)
    live.written(rev)
    return _answer(record, rev)


@router.delete("/cameras/{camera_id}", responses={409: {"description": "Stale If-Match."}})
def delete_camera(camera_id: str, request: Request, if_match: IfMatch = None,
                  who: Principal = Depends(require(*EDITORS))) -> Any:
    version = _version(if_match)
    if isinstance(version, JSONResponse):
        return version
    hub, live = hub_of(request), _live(request)
    try:
        rev = registry.delete_camera(hub.db, camera_id, version, _actor(who), hub.now())
    except registry.RegistryError as exc:
        return _error(exc)
    live.written(rev)
    return {"deleted": camera_id, "revision": rev}


@router.get("/audit")
def audit(
    request: Request,
    camera: str | None = Query(None, max_length=64, description="Only changes of this camera (or section)."),
    limit: int = Query(100, ge=1, le=1000),
    before: int | None = Query(None, ge=1, description="Page on: changes older than this audit id."),
    _: Principal = Depends(require(*OPS)),
) -> dict[str, Any]:
    """Who changed what, newest first, with the document before and after each change."""
    return {"items": registry.audit(hub_of(request).db, camera, limit, before)}


@router.get("/nodes/{node_id}/config", responses={304: {"description": "Unchanged since If-None-Match."}})
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


@router.post("/import", responses={422: {"description": "Rows with errors: nothing was imported."}})
async def import_ledger(
    request: Request,
    file: UploadFile = File(description="The camera ledger, .xlsx or .csv (UTF-8)."),
    main_template: str | None = Form(None, max_length=500,
                                     description="Main-stream URL template for brands without one."),
    sub_template: str | None = Form(None, max_length=500, description="Sub-stream URL template."),
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
