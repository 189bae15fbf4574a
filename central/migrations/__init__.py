"""Alembic migrations, configured in code so they ship inside the package (no alembic.ini).

``upgrade(db)`` brings a database to the newest schema; the hub calls it on start. On PostgreSQL an
advisory lock makes several processes starting at once migrate one after the other.
Alembic is imported inside the functions, after its loggers are turned down: at import and on every
step it logs INFO lines that are noise in the hub's log and in ``gridwatch token create``.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import text

from central.db import MIGRATE_LOCK_KEY, Database

if TYPE_CHECKING:
    from alembic.config import Config

HERE = Path(__file__).resolve().parent
log = logging.getLogger(__name__)


def _quiet_alembic() -> None:
    logging.getLogger("alembic").setLevel(logging.WARNING)


def alembic_config(db: Database) -> Config:
    _quiet_alembic()
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(HERE))
    cfg.set_main_option("sqlalchemy.url", db.url.replace("%", "%%"))
    return cfg


def head(db: Database) -> str | None:
    from alembic.script import ScriptDirectory

    return ScriptDirectory.from_config(alembic_config(db)).get_current_head()


def is_current(db: Database) -> bool:
    _quiet_alembic()
    from alembic.runtime.migration import MigrationContext

    target = head(db)
    with db.engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision() == target


def upgrade(db: Database) -> None:
    """``alembic upgrade head`` on this database; cheap when already current."""
    if is_current(db):
        return
    from alembic import command

    cfg = alembic_config(db)
    # SQLite: several hub processes starting at once migrate one after another (the second finds
    # the schema current); PostgreSQL: the advisory lock below does the same.
    with db.writer_turn(), db.engine.begin() as conn:
        if db.is_postgres:
            conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": MIGRATE_LOCK_KEY})
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")
    log.info("database schema upgraded to %s", head(db))
