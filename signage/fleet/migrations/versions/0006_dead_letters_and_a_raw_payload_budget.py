"""Dead letters: valid messages the database would not store, kept with the reason
instead of blocking the ingest. And the raw metrics payloads get a budget: a counter of
the characters kept (`raw_bytes`), started from what is there.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0006'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "dead_letters",
        sa.Column("row", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("reason", sa.String(500), nullable=False),
        sa.Column("size", sa.Integer(), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("row"),
    )
    op.create_index("ix_dead_letters_received_at", "dead_letters", ["received_at"])
    op.execute("INSERT INTO counters (name, value) SELECT 'raw_bytes', COALESCE(SUM(LENGTH(payload)), 0) "
               "FROM metrics")


def downgrade() -> None:
    op.execute("DELETE FROM counters WHERE name IN ('raw_bytes', 'raw_not_kept', 'dead_letters')")
    op.drop_index("ix_dead_letters_received_at", table_name="dead_letters")
    op.drop_table("dead_letters")
