"""Bearer tokens: who is calling, in which role, and for edge nodes which node.

Tokens are 32 random bytes (URL-safe base64); only their SHA-256 is stored, so a copy of the database
gives nobody a usable token. A node may also be provisioned with ``token_sha256`` in nodes.yaml.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from sqlalchemy import bindparam, select

from central.db import Database
from central.roles import DEPARTMENT, EDGE, GRID_WORKER, USER_ROLES
from central.sessions import with_display_name
from central.tables import Token
from gridwatch.config import Town


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    role: str  # one of central.roles.ALL_ROLES
    name: str
    node_id: str | None = None
    token_id: int | None = None
    #: For a grid_worker token named after a grid worker (``--name w-07``): that worker. Such a token
    #: works only the orders assigned to that worker; an unnamed grid_worker token is a shared device.
    worker_id: str | None = None
    #: For a department token: the department it acts for (its squads' orders included).
    department_id: str | None = None


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_token(
    db: Database,
    role: str,
    node: str | None,
    name: str | None,
    now: datetime,
    department: str | None = None,
) -> str:
    """Create a token, store its hash, return the token itself (shown once)."""
    if role not in (*USER_ROLES, EDGE):
        raise ValueError(f"unknown role {role!r}")
    if (role == EDGE) != (node is not None):
        raise ValueError("an edge token needs --node, and only an edge token may have one")
    if (role == DEPARTMENT) != (department is not None):
        raise ValueError("a department token needs --department, and only a department token may have one")
    token = new_token()
    with db.write() as s:
        s.add(
            Token(
                token_sha256=hash_token(token),
                role=role,
                node_id=node,
                name=name,
                department_id=department,
                created_at=now,
            )
        )
    return token


def authenticate(db: Database, town: Town, header: str | None) -> Principal | None:
    """The principal for an ``Authorization`` header value, or None if missing/unknown."""
    digest = _bearer_digest(header)
    if digest is None:
        return None
    return _configured_node(town, digest) or _stored_token(db, town, digest)


def _bearer_digest(header: str | None) -> str | None:
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 512:
        return None
    return hash_token(value)


def _configured_node(town: Town, digest: str) -> Principal | None:
    """A node whose token hash is in nodes.yaml (no I/O)."""
    node = town.node_by_token(digest)
    return None if node is None else Principal(role=EDGE, name=node.id, node_id=node.id)


def _stored_token(db: Database, town: Town, digest: str) -> Principal | None:
    # Looked up on every request, never cached: a revoked token stops working at once. A Core
    # query of four columns on one connection, not an ORM session, keeps that cheap.
    with db.engine.connect() as conn:
        row = conn.execute(_BY_DIGEST, {"d": digest}).first()
    if row is None:
        return None
    token_id, role, node_id, token_name, department = row
    name = token_name or (node_id if role == EDGE else f"{role}#{token_id}")
    worker = (
        token_name if role == GRID_WORKER and any(g.worker.id == token_name for g in town.grids) else None
    )
    return Principal(
        role=role,
        name=name,
        node_id=node_id,
        token_id=token_id,
        worker_id=worker,
        department_id=department if role == DEPARTMENT else None,
    )


_TOKENS = Token.__table__
_BY_DIGEST = select(
    _TOKENS.c.id, _TOKENS.c.role, _TOKENS.c.node_id, _TOKENS.c.name, _TOKENS.c.department_id
).where(
    _TOKENS.c.token_sha256 == bindparam("d"), _TOKENS.c.revoked_at.is_(None)
)


def require(*roles: str) -> Callable[[Request], Awaitable[Principal]]:
    """FastAPI dependency: 401 without a valid token, 403 when the role is not one of ``roles``."""
    allowed = frozenset(roles)

    async def dependency(request: Request) -> Principal:
        # On the event loop where no database is needed (a node's token from nodes.yaml); the
        # database look-up of a stored token goes to a worker thread.
        hub = request.app.state.hub
        digest = _bearer_digest(request.headers.get("authorization"))
        principal = None
        if digest is not None:
            principal = _configured_node(hub.town, digest) or await run_in_threadpool(
                _stored_token, hub.db, hub.town, digest
            )
        if principal is None:
            raise HTTPException(
                status_code=401,
                detail="missing or invalid bearer token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if principal.role not in allowed:
            raise HTTPException(
                status_code=403,
                detail=f"role {principal.role!r} may not do this (allowed: {', '.join(sorted(allowed))})",
            )
        return with_display_name(principal, request)  # console: the person on shift, for the record

    return dependency
