"""Attention per play divides by the plays that published their looking figures: the day
rollups per creative gain `measured_plays`, the plays their `looking_seconds` and
`looking_squares` are summed over. `suppressed_plays` keeps counting the plays whose
expression mix was not published; a play whose looking was published but whose mix was
withheld is in both, and attention used to divide by `plays - suppressed_plays`, fewer
plays than its seconds came from.

Old rows keep their meaning: they get `measured_plays = plays - suppressed_plays`,
exactly what their attention was divided by before, so their attention and its
confidence interval stay as they were computed (how many of their suppressed plays had
published their looking is not stored, and is not guessed).

Revision ID: 0013
Revises: 0011
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0013'
down_revision = '0011'
branch_labels = None
depends_on = None

TABLES = ("creative_days", "creative_site_days")


def upgrade() -> None:
    for name in TABLES:
        op.add_column(name, sa.Column("measured_plays", sa.Integer, nullable=False, server_default="0"))
        table = sa.table(name, sa.column("plays", sa.Integer), sa.column("suppressed_plays", sa.Integer),
                         sa.column("measured_plays", sa.Integer))
        # A row with no play left over had no attention (None): 0 measured plays keeps it so.
        op.execute(table.update().values(measured_plays=table.c.plays - table.c.suppressed_plays)
                   .where(table.c.plays > table.c.suppressed_plays))


def downgrade() -> None:
    for name in reversed(TABLES):
        with op.batch_alter_table(name) as batch:  # SQLite rebuilds the table
            batch.drop_column("measured_plays")
