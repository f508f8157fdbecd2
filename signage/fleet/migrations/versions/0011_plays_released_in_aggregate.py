"""Proof of play released in aggregate: the `play_totals` table (one row per creative of a
kiosk's `totals` message: the plays that depended on fewer than privacy.min_group
people, per hour or day). Plays gain `ots` and `viewers` (distinct people in view, and
who looked 1 s or more); rows stored before this revision keep NULL there, as a
withheld figure: their kiosks did not count distinct people.

The day rollups per creative gain impressions (per-play OTS summed) and viewed
impressions (per-play viewers summed), each with the plays it was summed over. Old rows
keep their meaning: their plays counted no distinct people, so they start at 0 plays
counted, and the pages show their impressions as withheld rather than 0. `peak_viewers`
(per-play peaks, summed) keeps its meaning too; it is no count of people
(docs/glossary.md).

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0011'
down_revision = '0010'
branch_labels = None
depends_on = None


ROLLUP_COLUMNS = ("impressions", "ots_plays", "viewed_impressions", "viewer_plays")


def upgrade() -> None:
    for table in ("creative_days", "creative_site_days"):
        for name in ROLLUP_COLUMNS:
            op.add_column(table, sa.Column(name, sa.Integer, nullable=False, server_default="0"))
    op.add_column("plays", sa.Column("ots", sa.Integer, nullable=True))
    op.add_column("plays", sa.Column("viewers", sa.Integer, nullable=True))
    op.create_table(
        "play_totals",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("creative", sa.String(64), primary_key=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("period", sa.String(8), nullable=False),
        sa.Column("start", sa.DateTime, nullable=False),
        sa.Column("end", sa.DateTime, nullable=False),
        sa.Column("plays", sa.Integer, nullable=True),
        sa.Column("seconds", sa.Float, nullable=False),
        sa.Column("received_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_play_totals_screen_start", "play_totals", ["site", "device", "start"])
    op.create_index("ix_play_totals_end", "play_totals", ["end"])


def downgrade() -> None:
    op.drop_index("ix_play_totals_end", table_name="play_totals")
    op.drop_index("ix_play_totals_screen_start", table_name="play_totals")
    op.drop_table("play_totals")
    with op.batch_alter_table("plays") as batch:  # SQLite rebuilds the table
        batch.drop_column("viewers")
        batch.drop_column("ots")
    for table in ("creative_site_days", "creative_days"):
        with op.batch_alter_table(table) as batch:
            for name in reversed(ROLLUP_COLUMNS):
                batch.drop_column(name)
