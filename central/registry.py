"""The camera registry: the town's configuration kept in the database, versioned, with an audit trail.

The YAML town folder is the seed (on first start) and the import/export format; after that the
database is the truth. Every write raises the registry's ``revision`` (one row, updated inside the
write's transaction, so writes queue on it and revisions follow commit order) and appends before/after
rows to ``registry_audit``. Each camera has its own ``version`` for optimistic concurrency: a write
names the version it edits and a stale one is refused (:class:`Stale`, HTTP 409).

Documents are stored as their YAML holds them (``model_dump(exclude_unset=True)``): export writes the
same keys back, so import then export gives the same bytes (gridwatch.config.writer). Everything is
validated with the town's own schema (gridwatch.config.schema) and cross-checks before it is stored.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from central.db import Database
from central.tables import RegistryAudit, RegistryCamera, RegistrySection, RegistryState
from gridwatch.config import ConfigError, Town
from gridwatch.config.loader import OPTIONAL_SECTIONS, validate_town
from gridwatch.config.schema import SECTIONS, Camera
from gridwatch.config.writer import section_documents

log = logging.getLogger(__name__)

CAMERAS = "cameras"
OTHER_SECTIONS = tuple(s for s in SECTIONS if s != CAMERAS)
#: The row of ``registry_sections`` that keeps cameras.yaml's header (the cameras have their own table).
CAMERAS_HEADER = "_cameras_header"


class RegistryError(Exception):
    """A write the registry refuses; ``status`` is the HTTP status that says why."""

    status = 400

    def __init__(self, detail: Any, **extra: Any) -> None:
        super().__init__(str(detail))
        self.detail, self.extra = detail, extra


class NotFound(RegistryError):
    status = 404


class Conflict(RegistryError):
    status = 409


class Stale(Conflict):
    """The write named an older version; ``extra['current']`` is the camera as it is now."""


class Invalid(RegistryError):
    """``detail`` is a list of ``{"loc": [...], "msg": ..., "type": ...}`` like FastAPI's 422."""

    status = 422


@dataclass(frozen=True, slots=True)
class Actor:
    """Who writes: the token's name and role, for the audit trail."""

    name: str
    role: str


@dataclass(frozen=True, slots=True)
class CameraRecord:
    doc: dict[str, Any]
    version: int
    updated_at: datetime
    updated_by: str

    def json(self) -> dict[str, Any]:
        return {"camera": self.doc, "version": self.version, "updated_at": self.updated_at.isoformat(),
                "updated_by": self.updated_by}


# --- reading ----------------------------------------------------------------------------------


def revision(db: Database) -> int:
    """The registry's revision; 0 when it was never seeded."""
    with db.read() as s:
        return _revision(s)


def _revision(s: Session) -> int:
    value = s.execute(select(RegistryState.revision).where(RegistryState.id == 1)).scalar()
    return int(value or 0)


def is_seeded(db: Database) -> bool:
    return revision(db) > 0


def export(db: Database) -> tuple[dict[str, Any], dict[str, str], int]:
    """Every section's document, every file's header, and the revision they are at."""
    with db.read() as s:
        rev = _revision(s)
        sections: dict[str, Any] = {}
        headers: dict[str, str] = {}
        for row in s.execute(select(RegistrySection)).scalars():
            if row.name == CAMERAS_HEADER:
                headers[CAMERAS] = row.header
            else:
                sections[row.name], headers[row.name] = row.doc, row.header
        sections[CAMERAS] = [r.doc for r in s.execute(
            select(RegistryCamera).order_by(RegistryCamera.position, RegistryCamera.id)).scalars()]
    return {k: sections[k] for k in SECTIONS if k in sections}, headers, rev


def load(db: Database) -> Town | None:
    """The town the registry holds, validated; None when it was never seeded."""
    sections, _, rev = export(db)
    if rev == 0:
        return None
    return validate_town(sections, f"registry revision {rev}")


def list_cameras(db: Database, node: str | None = None) -> tuple[list[CameraRecord], int]:
    with db.read() as s:
        q = select(RegistryCamera).order_by(RegistryCamera.position, RegistryCamera.id)
        if node is not None:
            q = q.where(RegistryCamera.node_id == node)
        rows = [_record(r) for r in s.execute(q).scalars()]
        return rows, _revision(s)


def get_camera(db: Database, camera_id: str) -> CameraRecord:
    with db.read() as s:
        row = s.get(RegistryCamera, camera_id)
        if row is None:
            raise NotFound(f"unknown camera {camera_id!r}")
        return _record(row)


def node_document(db: Database, node_id: str) -> dict[str, Any]:
    """What an edge node runs: its cameras (enabled or not), the town's detection settings, the
    revision. No secrets: stream URLs hold ``{password}`` and the camera names its ``password_ref``."""
    with db.read() as s:
        rev = _revision(s)
        cams = [r.doc for r in s.execute(
            select(RegistryCamera).where(RegistryCamera.node_id == node_id)
            .order_by(RegistryCamera.position, RegistryCamera.id)).scalars()]
        detection = s.get(RegistrySection, "detection")
    return {"node_id": node_id, "revision": rev, "cameras": cams,
            "detection": detection.doc if detection is not None else {}}


def audit(db: Database, target_id: str | None = None, limit: int = 100,
          before_id: int | None = None) -> list[dict[str, Any]]:
    """Newest first: who changed what, with the document before and after."""
    with db.read() as s:
        q = select(RegistryAudit).order_by(RegistryAudit.id.desc()).limit(limit)
        if target_id is not None:
            q = q.where(RegistryAudit.target_id == target_id)
        if before_id is not None:
            q = q.where(RegistryAudit.id < before_id)
        return [{"id": a.id, "revision": a.revision, "at": a.at.isoformat(), "actor": a.actor,
                 "role": a.role, "action": a.action, "target": a.target, "target_id": a.target_id,
                 "before": a.before, "after": a.after} for a in s.execute(q).scalars()]


# --- writing ----------------------------------------------------------------------------------


def seed(db: Database, town: Town, headers: Mapping[str, str], actor: Actor, now: datetime) -> bool:
    """Fill an empty registry from a town (the hub's first start); False when it was already seeded
    (another hub process got there first, or an earlier start)."""
    docs = section_documents(town)
    try:
        with db.write() as s:
            if _revision(s) > 0:
                return False
            s.add(RegistryState(id=1, revision=1, updated_at=now))
            s.flush()
            _store_all(s, docs, headers, actor, now, 1, "seed", previous=({}, {}))
    except IntegrityError:  # another process seeded at the same moment
        return False
    log.info("registry: seeded from the town folder: %d cameras (revision 1)", len(docs[CAMERAS]))
    return True


def sync_sections(db: Database, town: Town, headers: Mapping[str, str], actor: Actor,
                  now: datetime) -> tuple[Town, int]:
    """At a hub's start: every section but the cameras follows the town folder it was given (grids,
    routing, nodes, ... are edited there, as before). The folder is checked against the registry's
    cameras first (:class:`ConfigError`); returns the town to run and the registry's revision."""
    docs = section_documents(town)
    sections, _, rev = export(db)
    merged = validate_town({**docs, CAMERAS: sections.get(CAMERAS, [])},
                           "the registry's cameras with the town folder")
    with db.write() as s:
        old = {r.name: r for r in s.execute(select(RegistrySection)).scalars()}
        def same(n: str) -> bool:
            if n not in old or n not in docs:
                return n not in old and n not in docs
            return (old[n].doc, old[n].header) == (docs[n], headers.get(n, ""))

        if all(same(n) for n in OTHER_SECTIONS):
            return merged, rev
        rev = _bump(s, now)
        _store_sections(s, docs, headers, actor, now, rev, "start", old)
    log.info("registry: the town folder's sections (not its cameras) changed: revision %d", rev)
    return merged, rev


def replace_town(db: Database, town: Town, headers: Mapping[str, str], actor: Actor,
                 now: datetime) -> tuple[int, int]:
    """``gridwatch config import``: the whole registry becomes ``town`` in one transaction (all or
    nothing); returns (revision, items changed). Unchanged cameras keep their version."""
    docs = section_documents(town)
    with db.write() as s:
        old_sections = {r.name: r for r in s.execute(select(RegistrySection)).scalars()}
        old_cams = {r.id: r for r in s.execute(select(RegistryCamera)).scalars()}
        rev = _bump(s, now)
        changed = _store_all(s, docs, headers, actor, now, rev, "import",
                             previous=(old_sections, old_cams))
    return rev, changed


def create_camera(db: Database, town: Town, doc: dict[str, Any], actor: Actor,
                  now: datetime) -> tuple[CameraRecord, int]:
    cam = check_camera(town, doc)
    with db.write() as s:
        if s.get(RegistryCamera, cam.id) is not None:
            raise Conflict(f"camera {cam.id!r} exists already: PUT or PATCH it with its version")
        rev = _bump(s, now)
        position = (s.execute(select(func.max(RegistryCamera.position))).scalar() or 0) + 1
        row = RegistryCamera(id=cam.id, node_id=cam.node, position=position, version=1, doc=doc,
                             updated_at=now, updated_by=actor.name)
        s.add(row)
        _audit(s, rev, now, actor, "create", "camera", cam.id, None, doc)
        return _record(row), rev


def replace_camera(db: Database, town: Town, camera_id: str, doc: dict[str, Any], if_version: int,
                   actor: Actor, now: datetime) -> tuple[CameraRecord, int]:
    """PUT: the camera becomes ``doc``, if it is still at ``if_version``. An unknown camera (404) or a
    stale version (409) is said before what is wrong with ``doc`` (422)."""
    with db.write() as s:
        row = _current(s, camera_id, if_version)
        cam = check_camera(town, doc)
        if cam.id != camera_id:
            raise Invalid([{"loc": ["body", "id"], "msg": f"the id cannot change ({camera_id!r} in the URL)",
                            "type": "value_error"}])
        if row.doc == doc:
            return _record(row), _revision(s)  # nothing to change: no new version
        rev = _bump(s, now)
        before = row.doc
        row.doc, row.node_id, row.version = doc, cam.node, row.version + 1
        row.updated_at, row.updated_by = now, actor.name
        _audit(s, rev, now, actor, "update", "camera", camera_id, before, doc)
        return _record(row), rev


def patch_camera(db: Database, town: Town, camera_id: str, patch: dict[str, Any], if_version: int,
                 actor: Actor, now: datetime) -> tuple[CameraRecord, int]:
    """PATCH: a JSON merge patch (RFC 7396) over the camera's document."""
    current = get_camera(db, camera_id)
    if current.version != if_version:
        raise Stale(_stale_message(camera_id, current.version, if_version), current=current.json())
    return replace_camera(db, town, camera_id, merge_patch(current.doc, patch), if_version, actor, now)


def delete_camera(db: Database, camera_id: str, if_version: int, actor: Actor, now: datetime) -> int:
    with db.write() as s:
        row = _current(s, camera_id, if_version)
        rev = _bump(s, now)
        _audit(s, rev, now, actor, "delete", "camera", camera_id, row.doc, None)
        s.delete(row)
        return rev


def upsert_cameras(db: Database, town: Town, docs: list[dict[str, Any]], actor: Actor, now: datetime,
                   action: str = "import") -> tuple[int, int, int]:
    """Ledger import: create or replace each camera, all in one transaction (checked first, all or
    nothing); returns (revision, created, updated)."""
    for doc in docs:
        check_camera(town, doc)
    created = updated = 0
    with db.write() as s:
        rev = _bump(s, now)
        existing = {r.id: r for r in s.execute(
            select(RegistryCamera).where(RegistryCamera.id.in_([d["id"] for d in docs]))).scalars()}
        position = s.execute(select(func.max(RegistryCamera.position))).scalar() or 0
        for doc in docs:
            row = existing.get(doc["id"])
            if row is None:
                position += 1
                s.add(RegistryCamera(id=doc["id"], node_id=doc["node"], position=position, version=1,
                                     doc=doc, updated_at=now, updated_by=actor.name))
                _audit(s, rev, now, actor, action, "camera", doc["id"], None, doc)
                created += 1
            elif row.doc != doc:
                _audit(s, rev, now, actor, action, "camera", doc["id"], row.doc, doc)
                row.doc, row.node_id, row.version = doc, doc["node"], row.version + 1
                row.updated_at, row.updated_by = now, actor.name
                updated += 1
    return rev, created, updated


# --- checks -----------------------------------------------------------------------------------


def check_camera(town: Town, doc: dict[str, Any]) -> Camera:
    """The camera schema, then its references to the town; :class:`Invalid` with field paths."""
    try:
        cam = Camera.model_validate(doc)
    except ValidationError as exc:
        raise Invalid([{"loc": ["body", *err["loc"]], "msg": _msg(err), "type": err["type"]}
                       for err in exc.errors()]) from None
    errors = []

    def fail(field: str, msg: str) -> None:
        errors.append({"loc": ["body", field], "msg": msg, "type": "value_error"})

    grids = {g.id: g for g in town.grids}
    if cam.grid not in grids:
        fail("grid", f"unknown grid {cam.grid!r}")
    if cam.village not in {v.id for v in town.villages}:
        fail("village", f"unknown village {cam.village!r}")
    elif cam.grid in grids and cam.village not in grids[cam.grid].villages:
        fail("village", f"village {cam.village!r} is not in grid {cam.grid!r}")
    if town.node(cam.node) is None:
        fail("node", f"unknown edge node {cam.node!r}")
    names = [r.name for r in cam.rois if r.name != "mask"]
    for name in sorted({n for n in names if names.count(n) > 1}):
        fail("rois", f"two regions named {name!r}")
    if errors:
        raise Invalid(errors)
    return cam


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: objects merge key by key, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    out = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = merge_patch(out.get(key), value)
    return out


def _msg(err: Any) -> str:
    if err["type"] == "extra_forbidden":
        return "unknown key"
    if err["type"] == "missing":
        return "required key is missing"
    return str(err["msg"]).removeprefix("Value error, ")


def _stale_message(camera_id: str, current: int, given: int) -> str:
    return (f"camera {camera_id!r} is at version {current}, not {given}: someone changed it meanwhile; "
            "reload it and edit again")


# --- inside a write transaction ---------------------------------------------------------------


def _current(s: Session, camera_id: str, if_version: int) -> RegistryCamera:
    row = s.get(RegistryCamera, camera_id)
    if row is None:
        raise NotFound(f"unknown camera {camera_id!r}")
    if row.version != if_version:
        raise Stale(_stale_message(camera_id, row.version, if_version), current=_record(row).json())
    return row


def _bump(s: Session, now: datetime) -> int:
    """Raise the revision (the row lock queues concurrent writers); refuse an unseeded registry."""
    result = s.execute(update(RegistryState).where(RegistryState.id == 1)
                       .values(revision=RegistryState.revision + 1, updated_at=now)
                       .returning(RegistryState.revision)).scalar()
    if result is None:
        raise Conflict("the registry is empty: start the hub once or run 'gridwatch config import'")
    return int(result)


def _store_all(s: Session, docs: dict[str, Any], headers: Mapping[str, str], actor: Actor, now: datetime,
               rev: int, action: str, previous: tuple[dict[str, Any], dict[str, Any]]) -> int:
    old_sections, old_cams = previous
    changed = _store_sections(s, docs, headers, actor, now, rev, action, old_sections)
    new_ids = set()
    for position, doc in enumerate(docs[CAMERAS], start=1):
        new_ids.add(doc["id"])
        old = old_cams.get(doc["id"])
        if old is None:
            s.add(RegistryCamera(id=doc["id"], node_id=doc["node"], position=position, version=1, doc=doc,
                                 updated_at=now, updated_by=actor.name))
            if action != "seed":  # the seed is one audit row for the whole town, not 280
                _audit(s, rev, now, actor, action, "camera", doc["id"], None, doc)
            changed += 1
            continue
        old.position = position
        if old.doc != doc:
            _audit(s, rev, now, actor, action, "camera", doc["id"], old.doc, doc)
            old.doc, old.node_id, old.version = doc, doc["node"], old.version + 1
            old.updated_at, old.updated_by = now, actor.name
            changed += 1
    gone = [cid for cid in old_cams if cid not in new_ids]
    for cid in gone:
        _audit(s, rev, now, actor, action, "camera", cid, old_cams[cid].doc, None)
    if gone:
        s.execute(delete(RegistryCamera).where(RegistryCamera.id.in_(gone)))
        changed += len(gone)
    if action == "seed":
        _audit(s, rev, now, actor, "seed", "section", CAMERAS, None, {"cameras": len(docs[CAMERAS])})
    return changed


def _store_sections(s: Session, docs: dict[str, Any], headers: Mapping[str, str], actor: Actor,
                    now: datetime, rev: int, action: str, old_sections: dict[str, Any]) -> int:
    """Every section but the cameras (and cameras.yaml's header); returns how many changed."""
    changed = 0
    for name in (*OTHER_SECTIONS, CAMERAS_HEADER):
        if name == CAMERAS_HEADER:
            doc, header = None, headers.get(CAMERAS, "")
        elif name in docs:
            doc, header = docs[name], headers.get(name, "")
        elif name in OPTIONAL_SECTIONS:
            if name in old_sections:
                s.delete(old_sections[name])
                _audit(s, rev, now, actor, action, "section", name, old_sections[name].doc, None)
                changed += 1
            continue
        else:
            continue
        old = old_sections.get(name)
        before = old.doc if old is not None else None
        if old is None:
            s.add(RegistrySection(name=name, doc=doc, header=header, version=1, updated_at=now,
                                  updated_by=actor.name))
        elif old.doc != doc or old.header != header:
            old.doc, old.header, old.version = doc, header, old.version + 1
            old.updated_at, old.updated_by = now, actor.name
        else:
            continue
        if name != CAMERAS_HEADER:
            _audit(s, rev, now, actor, action, "section", name, before, doc)
            changed += 1
    return changed


def _audit(s: Session, rev: int, now: datetime, actor: Actor, action: str, target: str, target_id: str,
           before: Any, after: Any) -> None:
    s.add(RegistryAudit(revision=rev, at=now, actor=actor.name, role=actor.role, action=action,
                        target=target, target_id=target_id, before=before, after=after))


def _record(row: RegistryCamera) -> CameraRecord:
    return CameraRecord(doc=row.doc, version=row.version, updated_at=row.updated_at,
                        updated_by=row.updated_by)


__all__ = ["Actor", "CameraRecord", "ConfigError", "Conflict", "Invalid", "NotFound", "RegistryError",
           "Stale", "audit", "create_camera", "delete_camera", "export", "get_camera", "is_seeded",
           "list_cameras", "load", "node_document", "patch_camera", "replace_camera", "replace_town",
           "revision", "seed", "upsert_cameras"]
