"""The day rollups per creative count the plays released in aggregate (`released_plays`,
from the kiosk's `totals` messages), so a report can say that a creative's audience is
unknown because its plays were released in aggregate, rather than withheld for too few
people, and never show it as 0. The released rows gain an index by creative and start,
for the reports that read them (signage/fleet/proof.py).

Old rows keep their meaning: `released_plays` is summed from the `play_totals` rows still
stored (the retention purge may have taken older ones: those plays stay counted as
withheld, as before).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-05
"""
from __future__ import annotations

from collections import defaultdict

import sqlalchemy as sa
from alembic import op

revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None

KEYS = {"creative_days": ("site", "device", "day", "creative"), "creative_site_days": ("site", "day", "creative")}


def upgrade() -> None:
    for table in KEYS:
        op.add_column(table, sa.Column("released_plays", sa.Integer, nullable=False, server_default="0"))
    _released()
    # what the reports read of play_totals: one creative's rows, or the quiet days' ("audience")
    op.create_index("ix_play_totals_creative_start", "play_totals", ["creative", "start"])


def _released() -> None:
    """released_plays from the stored totals, per screen and per site."""
    conn = op.get_bind()
    totals = sa.table("play_totals", *[sa.column(c) for c in ("site", "device", "creative", "plays")],
                      sa.column("start", sa.DateTime))
    sums: dict[str, dict[tuple, int]] = {table: defaultdict(int) for table in KEYS}
    for site, device, creative, start, plays in conn.execute(
            sa.select(totals.c.site, totals.c.device, totals.c.creative, totals.c.start, totals.c.plays)
            .where(totals.c.plays.is_not(None))):
        day = start.date()
        sums["creative_days"][(site, device, day, creative)] += int(plays)
        sums["creative_site_days"][(site, day, creative)] += int(plays)
    for table, keys in KEYS.items():
        rollup = sa.table(table, *[sa.column(k, sa.Date if k == "day" else sa.String) for k in keys],
                          sa.column("released_plays"))
        for key, plays in sorted(sums[table].items()):
            conn.execute(rollup.update().where(*[rollup.c[k] == v for k, v in zip(keys, key)])
                         .values(released_plays=plays))


def downgrade() -> None:
    op.drop_index("ix_play_totals_creative_start", table_name="play_totals")
    for table in ("creative_site_days", "creative_days"):
        with op.batch_alter_table(table) as batch:  # SQLite rebuilds the table
            batch.drop_column("released_plays")
