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
        assert is_current(db) and head(db) == "0001"
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
