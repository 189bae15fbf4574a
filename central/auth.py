"""Bearer tokens: who is calling, in which role, and for edge nodes which node.

Tokens are 32 random bytes (URL-safe base64); only their SHA-256 is stored, so a copy of the database
gives nobody a usable token. A node may also be provisioned with ``token_sha256`` in nodes.yaml.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from fastapi import HTTPException, Request
from sqlalchemy import select

from central.db import Database
from central.models import Token
from central.sessions import with_display_name
from gridwatch.config import Town

USER_ROLES = ("dispatcher", "maintainer", "grid_worker", "admin")
EDGE = "edge"
ALL_USERS = USER_ROLES


@dataclass(frozen=True, slots=True)
class Principal:
    """The authenticated caller."""

    role: str  # one of USER_ROLES or "edge"
    name: str
    node_id: str | None = None
    token_id: int | None = None
    #: For a grid_worker token named after a grid worker (``--name w-07``): that worker. Such a token
    #: works only the orders assigned to that worker; an unnamed grid_worker token is a shared device.
    worker_id: str | None = None

    @property
    def is_node(self) -> bool:
        return self.role == EDGE


def new_token() -> str:
    return secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def store_token(db: Database, role: str, node: str | None, name: str | None, now: datetime) -> str:
    """Create a token, store its hash, return the token itself (shown once)."""
    if role not in (*USER_ROLES, EDGE):
        raise ValueError(f"unknown role {role!r}")
    if (role == EDGE) != (node is not None):
        raise ValueError("an edge token needs --node, and only an edge token may have one")
    token = new_token()
    with db.write() as s:
        s.add(Token(token_sha256=hash_token(token), role=role, node_id=node, name=name, created_at=now))
    return token


def authenticate(db: Database, town: Town, header: str | None) -> Principal | None:
    """The principal for an ``Authorization`` header value, or None if missing/unknown."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    value = value.strip()
    if scheme.lower() != "bearer" or not value or len(value) > 512:
        return None
    digest = hash_token(value)
    for node in town.nodes:
        if node.token_sha256 is not None and secrets.compare_digest(node.token_sha256, digest):
            return Principal(role=EDGE, name=node.id, node_id=node.id)
    with db.read() as s:
        row = s.execute(
            select(Token).where(Token.token_sha256 == digest, Token.revoked_at.is_(None))
        ).scalar_one_or_none()
    if row is None:
        return None
    name = row.name or (row.node_id if row.role == EDGE else f"{row.role}#{row.id}")
    worker = (
        row.name if row.role == "grid_worker" and any(g.worker.id == row.name for g in town.grids) else None
    )
    return Principal(role=row.role, name=name, node_id=row.node_id, token_id=row.id, worker_id=worker)


def require(*roles: str) -> Callable[[Request], Principal]:
    """FastAPI dependency: 401 without a valid token, 403 when the role is not one of ``roles``."""
    allowed = frozenset(roles)

    def dependency(request: Request) -> Principal:
        hub = request.app.state.hub
        principal = authenticate(hub.db, hub.town, request.headers.get("authorization"))
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
