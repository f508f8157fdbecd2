"""Per creative per site per day rollups (fleet and site reports), filled from the per-screen ones.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('creative_site_day_expressions',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('creative', sa.String(length=64), nullable=False),
    sa.Column('expression', sa.String(length=32), nullable=False),
    sa.Column('seconds', sa.Float(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('site', 'day', 'creative', 'expression')
    )
    op.create_table('creative_site_days',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('creative', sa.String(length=64), nullable=False),
    sa.Column('plays', sa.Integer(), server_default='0', nullable=False),
    sa.Column('seconds', sa.Float(), server_default='0', nullable=False),
    sa.Column('viewed_plays', sa.Integer(), server_default='0', nullable=False),
    sa.Column('peak_viewers', sa.Integer(), server_default='0', nullable=False),
    sa.Column('looking_seconds', sa.Float(), server_default='0', nullable=False),
    sa.Column('looking_squares', sa.Float(), server_default='0', nullable=False),
    sa.Column('suppressed_plays', sa.Integer(), server_default='0', nullable=False),
    sa.Column('expressed_seconds', sa.Float(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('site', 'day', 'creative')
    )
    with op.batch_alter_table('creative_site_days', schema=None) as batch_op:
        batch_op.create_index('ix_creative_site_days_day', ['day', 'creative'], unique=False)
    _backfill()


def _backfill() -> None:
    """The site rollups of what is already stored: sums of the per-screen rows (each one
    already published or suppressed as a whole, so nothing is re-derived)."""
    values = ["plays", "seconds", "viewed_plays", "peak_viewers", "looking_seconds", "looking_squares",
              "suppressed_plays", "expressed_seconds"]
    screen = sa.table("creative_days", *[sa.column(c) for c in ["site", "day", "creative", *values]])
    site = sa.table("creative_site_days", *[sa.column(c) for c in ["site", "day", "creative", *values]])
    keys = [screen.c.site, screen.c.day, screen.c.creative]
    op.execute(site.insert().from_select(
        ["site", "day", "creative", *values],
        sa.select(*keys, *[sa.func.sum(screen.c[v]) for v in values]).group_by(*keys)))
    screen_x = sa.table("creative_day_expressions", *[sa.column(c) for c in
                                                      ["site", "day", "creative", "expression", "seconds"]])
    site_x = sa.table("creative_site_day_expressions", *[sa.column(c) for c in
                                                         ["site", "day", "creative", "expression", "seconds"]])
    keys = [screen_x.c.site, screen_x.c.day, screen_x.c.creative, screen_x.c.expression]
    op.execute(site_x.insert().from_select(["site", "day", "creative", "expression", "seconds"],
                                           sa.select(*keys, sa.func.sum(screen_x.c.seconds)).group_by(*keys)))


def downgrade() -> None:
    with op.batch_alter_table('creative_site_days', schema=None) as batch_op:
        batch_op.drop_index('ix_creative_site_days_day')

    op.drop_table('creative_site_days')
    op.drop_table('creative_site_day_expressions')
