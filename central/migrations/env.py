"""Alembic environment: uses the connection handed in by ``central.migrations.upgrade``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import create_engine

from central.tables import Base

config = context.config


def _run(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=Base.metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


conn = config.attributes.get("connection")
if conn is not None:
    _run(conn)
else:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("alembic: no sqlalchemy.url to migrate (pass a connection or set the URL)")
    engine = create_engine(url)
    with engine.begin() as connection:
        _run(connection)
