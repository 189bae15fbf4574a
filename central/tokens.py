"""``gridwatch token create``: make a bearer token, store its hash, print it once."""

from __future__ import annotations

import sys
from datetime import UTC, datetime
from pathlib import Path

from central.auth import store_token
from central.db import Database
from central.migrations import upgrade
from central.roles import DEPARTMENT, EDGE
from central.settings import DEFAULT_DB_URL
from gridwatch.config import load_town


def create_token_cli(
    role: str,
    node: str | None,
    name: str | None,
    db: str | None,
    config: Path,
    department: str | None = None,
) -> int:
    """Validate the config first (a broken one raises ConfigError for the CLI to print)."""
    town = load_town(config)
    if role == DEPARTMENT:
        if department is None:
            print("gridwatch: --role department needs --department ID", file=sys.stderr)
            return 2
        if department not in {d.id for d in town.departments}:
            known = ", ".join(d.id for d in town.departments)
            print(f"gridwatch: unknown department {department!r} (known: {known})", file=sys.stderr)
            return 2
    elif department is not None:
        print("gridwatch: --department is only for --role department", file=sys.stderr)
        return 2
    if role == EDGE:
        if node is None:
            print("gridwatch: --role edge needs --node NODE", file=sys.stderr)
            return 2
        if town.node(node) is None:
            known = ", ".join(n.id for n in town.nodes)
            print(f"gridwatch: unknown node {node!r} (known: {known})", file=sys.stderr)
            return 2
    elif node is not None:
        print("gridwatch: --node is only for --role edge", file=sys.stderr)
        return 2
    database = Database(db or DEFAULT_DB_URL)
    try:
        upgrade(database)
        token = store_token(database, role, node, name, datetime.now(UTC), department)
    finally:
        database.dispose()
    print(token)
    return 0
