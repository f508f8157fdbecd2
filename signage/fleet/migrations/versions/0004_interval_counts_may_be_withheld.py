"""Metrics intervals may withhold their counts (fewer than privacy.min_group people,
including none): metrics.passers, viewers and peak_faces become nullable, and the hourly
rollup counts the intervals whose passers, and those whose viewers, were withheld
(never their people).

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None

COLUMNS = ("passers", "viewers", "peak_faces")


def upgrade() -> None:
    with op.batch_alter_table("metrics") as batch:  # SQLite rebuilds the table; PostgreSQL alters in place
        for name in COLUMNS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=True)
    op.add_column("screen_hours", sa.Column("withheld_intervals", sa.Integer(), server_default="0", nullable=False))
    op.add_column("screen_hours", sa.Column("viewers_withheld_intervals", sa.Integer(), server_default="0",
                                            nullable=False))


def downgrade() -> None:
    op.drop_column("screen_hours", "viewers_withheld_intervals")
    op.drop_column("screen_hours", "withheld_intervals")
    for name in COLUMNS:
        op.execute(f"UPDATE metrics SET {name} = 0 WHERE {name} IS NULL")
    with op.batch_alter_table("metrics") as batch:
        for name in COLUMNS:
            batch.alter_column(name, existing_type=sa.Integer(), nullable=False)
