"""Play records may withhold their audience fields (fewer than privacy.min_group people):
peak_faces, mean_faces, peak_viewers and looking_seconds become nullable.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

COLUMNS = (("peak_faces", sa.Integer()), ("mean_faces", sa.Float()), ("peak_viewers", sa.Integer()),
           ("looking_seconds", sa.Float()))


def upgrade() -> None:
    with op.batch_alter_table("plays") as batch:  # SQLite rebuilds the table; PostgreSQL alters in place
        for name, kind in COLUMNS:
            batch.alter_column(name, existing_type=kind, nullable=True)


def downgrade() -> None:
    op.execute("UPDATE plays SET peak_faces = 0 WHERE peak_faces IS NULL")
    op.execute("UPDATE plays SET mean_faces = 0 WHERE mean_faces IS NULL")
    op.execute("UPDATE plays SET peak_viewers = 0 WHERE peak_viewers IS NULL")
    op.execute("UPDATE plays SET looking_seconds = 0 WHERE looking_seconds IS NULL")
    with op.batch_alter_table("plays") as batch:
        for name, kind in COLUMNS:
            batch.alter_column(name, existing_type=kind, nullable=False)
