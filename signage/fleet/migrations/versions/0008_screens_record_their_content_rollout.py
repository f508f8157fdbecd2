"""A screen keeps its content rollout from its status (which release plays, and how the
newest fares), for the fleet page's Content column.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("screens", sa.Column("content", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screens") as batch:  # SQLite rebuilds the table
        batch.drop_column("content")
