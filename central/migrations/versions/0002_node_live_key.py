"""node live key: the secret a node's live-view endpoint wants from the hub

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-27
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("node_states", sa.Column("live_key", sa.String(length=128), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("node_states") as batch:
        batch.drop_column("live_key")
