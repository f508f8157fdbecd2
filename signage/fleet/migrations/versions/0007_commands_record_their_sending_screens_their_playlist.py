"""A command is recorded before it is published: its state (sending, sent, not sent) and
why it was not sent. A screen keeps the creative ids of its current playlist, from its
status, for "Play now".

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-08
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Commands recorded before this revision were published: "sent".
    op.add_column("commands", sa.Column("state", sa.String(16), nullable=False, server_default="sent"))
    op.add_column("commands", sa.Column("error", sa.Text, nullable=True))
    op.add_column("screens", sa.Column("creatives", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screens") as batch:  # SQLite rebuilds the table
        batch.drop_column("creatives")
    with op.batch_alter_table("commands") as batch:
        batch.drop_column("error")
        batch.drop_column("state")
