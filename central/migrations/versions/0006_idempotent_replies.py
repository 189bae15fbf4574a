"""idempotent replies: the first answer to a write sent with an Idempotency-Key

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from central.tables import UTCDateTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "idempotent_replies",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("caller", sa.String(length=64), nullable=False),
        sa.Column("key", sa.String(length=128), nullable=False),
        sa.Column("request", sa.String(length=256), nullable=False),
        sa.Column("status", sa.Integer(), nullable=False),
        sa.Column("content_type", sa.String(length=128), nullable=False),
        sa.Column("body", sa.Text(), nullable=False),
        sa.Column("at", UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_idempotent_replies")),
    )
    op.create_index(op.f("ix_idempotent_replies_at"), "idempotent_replies", ["at"], unique=False)
    op.create_index("uq_idempotent_replies_caller_key", "idempotent_replies", ["caller", "key"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_idempotent_replies_caller_key", table_name="idempotent_replies")
    op.drop_index(op.f("ix_idempotent_replies_at"), table_name="idempotent_replies")
    op.drop_table("idempotent_replies")
