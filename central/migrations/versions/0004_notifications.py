"""notifications: the durable outbound queue and the notifier's cursor and lease

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

import central.tables

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notification_messages",
        sa.Column(
            "id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), autoincrement=True, nullable=False
        ),
        sa.Column("delivery_id", sa.String(length=64), nullable=False),
        sa.Column("channel", sa.String(length=64), nullable=False),
        sa.Column("recipient", sa.String(length=160), nullable=False),
        sa.Column("payload", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("created_at", central.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("group_until", central.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("next_try_at", central.tables.UTCDateTime(timezone=True), nullable=False),
        sa.Column("last_try_at", central.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("sent_at", central.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notification_messages")),
        sa.UniqueConstraint("delivery_id", name=op.f("uq_notification_messages_delivery_id")),
    )
    with op.batch_alter_table("notification_messages", schema=None) as batch_op:
        batch_op.create_index("ix_notification_messages_state_next", ["state", "next_try_at"], unique=False)
        batch_op.create_index(
            "ix_notification_messages_open", ["channel", "recipient", "state"], unique=False
        )
    op.create_table(
        "notifier_state",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("cursor", sa.BigInteger(), nullable=False),
        sa.Column("holder", sa.String(length=128), nullable=True),
        sa.Column("lease_until", central.tables.UTCDateTime(timezone=True), nullable=True),
        sa.Column("updated_at", central.tables.UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_notifier_state")),
    )
    # The notifier starts after what the feed holds now: turning notifications on does not send the
    # past, and nothing that happens from now on is missed, whenever the notifier first runs.
    op.execute(
        "INSERT INTO notifier_state (name, cursor, holder, lease_until, updated_at) "
        "SELECT 'notifier', COALESCE(MAX(id), 0), NULL, NULL, CURRENT_TIMESTAMP FROM feed_events"
    )


def downgrade() -> None:
    op.drop_table("notifier_state")
    with op.batch_alter_table("notification_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_notification_messages_open")
        batch_op.drop_index("ix_notification_messages_state_next")
    op.drop_table("notification_messages")
