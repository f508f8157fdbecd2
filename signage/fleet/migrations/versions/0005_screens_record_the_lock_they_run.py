"""Screens record the lock (uv.lock's short hash) their kiosk was installed from, beside
the version, so mixed builds in a fleet show at a glance. Null until a kiosk that reports
it is heard, and for kiosks not installed by `make`.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("screens", sa.Column("lock", sa.String(16), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("screens") as batch:  # SQLite rebuilds the table
        batch.drop_column("lock")
