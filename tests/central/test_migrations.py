"""The Alembic migrations build exactly the schema the models describe, on both databases, and
running them again (another process starting) changes nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from central.db import Database
from central.migrations import head, is_current, upgrade
from central.models import Base


def test_migrated_schema_matches_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db)  # already current: a no-op
        assert is_current(db) and head(db) == "0005"
        with db.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == []
    finally:
        db.dispose()


def test_fresh_database_migrates(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'new.db'}")
    try:
        assert not is_current(db)
        upgrade(db)
        upgrade(db)
        assert is_current(db)
    finally:
        db.dispose()


def test_upgrade_from_the_first_schema_keeps_rows(tmp_path) -> None:
    """A hub of the first release (schema 0001) with a node on record upgrades in place."""
    from alembic import command
    from sqlalchemy import text

    from central.migrations import alembic_config

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        command.upgrade(alembic_config(db), "0001")
        with db.engine.begin() as conn:
            conn.execute(text(
                "INSERT INTO node_states (node_id, last_heartbeat_at, last_heartbeat_id, live_url, health) "
                "VALUES ('edge-01', '2026-11-26 10:00:00.000000', 'hb-1', 'http://e1:8554', '{}')"))
        assert not is_current(db)
        upgrade(db)
        assert is_current(db)
        with db.engine.connect() as conn:
            row = conn.execute(text("SELECT node_id, live_url, live_key FROM node_states")).one()
        assert tuple(row) == ("edge-01", "http://e1:8554", None)
    finally:
        db.dispose()
