"""The Alembic migrations build exactly the schema the models describe, on both databases, and
running them again (another process starting) changes nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from central.db import Database
from central.migrations import head, is_current, upgrade
from central.tables import Base


def test_migrated_schema_matches_models(db_url: str) -> None:
    db = Database(db_url)
    try:
        upgrade(db)  # already current: a no-op
        assert is_current(db) and head(db) == "0006"
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


def test_upgrade_to_the_handling_loop_moves_old_states_and_sources(tmp_path) -> None:
    """0003: a ``resolved`` order awaits verification (``fed_back``); Open311 reports (``report``)
    become ``grid_worker`` when a grid worker filed them, else ``public``."""
    from alembic import command
    from sqlalchemy import text

    from central.migrations import alembic_config

    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    at = "'2026-11-26 10:00:00.000000'"
    try:
        command.upgrade(alembic_config(db), "0002")
        with db.engine.begin() as conn:
            for oid, state, source, role in (
                (1, "resolved", "report", "grid_worker"),
                (2, "closed", "report", "admin"),
                (3, "new", "camera", "edge"),
            ):
                conn.execute(text(
                    "INSERT INTO work_orders (id, source, kind, state, priority, department_id, "
                    "description, status_notes, created_at, updated_at, acknowledge_by, arrive_by, "
                    "close_by) VALUES "
                    f"({oid}, '{source}', 'landslide', '{state}', 'P1', 'natural-resources', '', '', "
                    f"{at}, {at}, {at}, {at}, {at})"))
                conn.execute(text(
                    "INSERT INTO work_order_history (work_order_id, action, from_state, to_state, actor, "
                    f"role, at, note, attachments, details) VALUES ({oid}, 'create', NULL, 'new', 'x', "
                    f"'{role}', {at}, '', '[]', '{{}}')"))
            conn.execute(text(
                "INSERT INTO work_order_history (work_order_id, action, from_state, to_state, actor, role, "
                f"at, note, attachments, details) VALUES (1, 'resolve', 'on_site', 'resolved', 'x', "
                f"'grid_worker', {at}, '', '[]', '{{}}')"))
        upgrade(db)
        with db.engine.connect() as conn:
            rows = conn.execute(text(
                "SELECT id, state, source, rework_count, supervision_misses FROM work_orders "
                "ORDER BY id")).all()
            hist = conn.execute(text(
                "SELECT to_state FROM work_order_history WHERE action = 'resolve'")).one()
        assert [tuple(r) for r in rows] == [
            (1, "fed_back", "grid_worker", 0, 0),
            (2, "closed", "public", 0, 0),
            (3, "new", "camera", 0, 0),
        ]
        assert hist[0] == "fed_back"
    finally:
        db.dispose()
