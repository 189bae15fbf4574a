"""``gridwatch config import|export`` and ``gridwatch cameras import``: the registry from the shell.

They work on the database directly (like ``gridwatch token create``), so a maintainer can load a town
or a ledger before the hub first starts; a running hub picks the new revision up within seconds.
"""

from __future__ import annotations

import getpass
import sys
from datetime import UTC, datetime
from pathlib import Path

from central import registry
from central.db import Database
from central.ledger import LedgerError, parse_ledger
from central.migrations import upgrade
from central.settings import DEFAULT_DB_URL
from gridwatch.config import load_town
from gridwatch.config.loader import read_headers
from gridwatch.config.writer import write_folder


def _actor() -> registry.Actor:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return registry.Actor(name=f"{user} (command line)", role="admin")


def _open(db: str | None) -> Database:
    database = Database(db or DEFAULT_DB_URL)
    upgrade(database)
    return database


def config_import(directory: Path, db: str | None) -> int:
    """Validate the whole folder first (a bad one raises ConfigError: nothing is written)."""
    town = load_town(directory)
    headers = read_headers(directory)
    database = _open(db)
    try:
        now = datetime.now(UTC)
        if registry.seed(database, town, headers, _actor(), now):
            print(f"imported {directory}: {len(town.cameras)} cameras (registry revision 1)")
            return 0
        rev, changed = registry.replace_town(database, town, headers, _actor(), now)
    finally:
        database.dispose()
    print(f"imported {directory}: {len(town.cameras)} cameras, {changed} cameras or sections changed "
          f"(registry revision {rev})")
    return 0


def config_export(directory: Path, db: str | None) -> int:
    database = _open(db)
    try:
        sections, headers, rev = registry.export(database)
    finally:
        database.dispose()
    if rev == 0:
        print("gridwatch: the registry is empty: start the hub once, or run 'gridwatch config import DIR'",
              file=sys.stderr)
        return 2
    files = write_folder(directory, sections, headers)
    print(f"exported registry revision {rev} to {directory} ({len(files)} files, "
          f"{len(sections['cameras'])} cameras)")
    return 0


def cameras_import(ledger: Path, db: str | None, config: Path, main_template: str | None,
                   sub_template: str | None, dry_run: bool) -> int:
    """Every row checked; any bad row: each printed (row, column, reason), nothing imported, exit 1."""
    try:
        data = ledger.read_bytes()
    except OSError as exc:
        print(f"gridwatch: cannot read {ledger}: {exc.strerror}", file=sys.stderr)
        return 2
    database = _open(db)
    try:
        now = datetime.now(UTC)
        if not registry.is_seeded(database):  # as the hub's first start would
            registry.seed(database, load_town(config), read_headers(config), _actor(), now)
        town = registry.load(database)
        assert town is not None
        existing = {r.doc["id"]: r.doc for r in registry.list_cameras(database)[0]}
        try:
            docs = parse_ledger(data, ledger.name, town, main_template, sub_template, existing)
        except LedgerError as exc:
            print(f"gridwatch: {ledger}: {exc}", file=sys.stderr)
            return 1
        if dry_run:
            print(f"{ledger}: {len(docs)} rows checked, all good; nothing imported (--dry-run)")
            return 0
        rev, created, updated = registry.upsert_cameras(database, town, docs, _actor(), now)
    finally:
        database.dispose()
    print(f"{ledger}: {len(docs)} rows: {created} cameras created, {updated} updated, "
          f"{len(docs) - created - updated} unchanged (registry revision {rev})")
    return 0
