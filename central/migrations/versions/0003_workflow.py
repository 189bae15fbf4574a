"""workflow: department tokens, the handling loop's stage deadlines, rework, supervision, extensions

Orders in the retired state ``resolved`` move to ``fed_back`` (awaiting verification); Open311
reports (source ``report``) become ``grid_worker`` when a grid worker filed them, else ``public``.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import central.tables

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_TIMES = (
    "accept_by",
    "feedback_by",
    "verify_by",
    "dispatched_at",
    "accepted_at",
    "verified_at",
    "accept_escalated_at",
    "feedback_escalated_at",
    "verify_escalated_at",
    "extension_until",
)


def upgrade() -> None:
    op.add_column("tokens", sa.Column("department_id", sa.String(length=64), nullable=True))
    for name in _TIMES:
        op.add_column(
            "work_orders", sa.Column(name, central.tables.UTCDateTime(timezone=True), nullable=True)
        )
    op.add_column(
        "work_orders", sa.Column("rework_count", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column(
        "work_orders", sa.Column("supervision_misses", sa.Integer(), nullable=False, server_default="0")
    )
    op.add_column("work_orders", sa.Column("extension_reason", sa.Text(), nullable=True))
    op.execute("UPDATE work_orders SET state = 'fed_back' WHERE state = 'resolved'")
    op.execute("UPDATE work_order_history SET to_state = 'fed_back' WHERE to_state = 'resolved'")
    op.execute("UPDATE work_order_history SET from_state = 'fed_back' WHERE from_state = 'resolved'")
    op.execute(
        "UPDATE work_orders SET source = CASE WHEN EXISTS (SELECT 1 FROM work_order_history h "
        "WHERE h.work_order_id = work_orders.id AND h.action = 'create' AND h.role = 'grid_worker') "
        "THEN 'grid_worker' ELSE 'public' END WHERE source = 'report'"
    )


def downgrade() -> None:
    op.execute("UPDATE work_orders SET source = 'report' WHERE source IN ('grid_worker', 'public')")
    op.execute(
        "UPDATE work_orders SET state = 'resolved' "
        "WHERE state IN ('fed_back', 'verified', 'rework', 'returned')"
    )
    with op.batch_alter_table("work_orders") as batch:
        for name in (*_TIMES, "rework_count", "supervision_misses", "extension_reason"):
            batch.drop_column(name)
    with op.batch_alter_table("tokens") as batch:
        batch.drop_column("department_id")
