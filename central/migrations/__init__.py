"""Alembic migrations, configured in code so they ship inside the package (no alembic.ini).

``upgrade(db)`` brings a database to the newest schema; the hub calls it on start. On PostgreSQL an
advisory lock makes several processes starting at once migrate one after the other.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import text

from central.db import MIGRATE_LOCK_KEY, Database

HERE = Path(__file__).resolve().parent


def alembic_config(db: Database) -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def is_current(db: Database) -> bool:
    head = ScriptDirectory.from_config(alembic_config(db)).get_current_head()
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == head


def upgrade(db: Database) -> None:
    """``alembic upgrade head`` on this database; cheap when already current."""
    if is_current(db):
        return
    cfg = alembic_config(db)
    with db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
