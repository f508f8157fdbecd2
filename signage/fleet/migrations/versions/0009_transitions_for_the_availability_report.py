"""A table of each screen's transitions (availability, display, camera) with the time the
fleet heard them, for the daily availability report. Filled from what is known: every
availability change in the status history (kept `retention_days`), and each screen's
camera and display as its latest status said, from that status on (the history before
this revision kept them only as text).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "screen_transitions",
        sa.Column("row", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("feature", sa.String(16), nullable=False),
        sa.Column("value", sa.String(32), nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_screen_transitions_screen", "screen_transitions", ["site", "device", "at"])
    op.create_index("ix_screen_transitions_at", "screen_transitions", ["at"])
    op.execute("INSERT INTO screen_transitions (site, device, feature, value, at) "
               "SELECT site, device, 'availability', detail, at FROM status_history "
               "WHERE kind = 'available' AND detail IN ('online', 'stopped', 'offline') ORDER BY at, \"row\"")
    for feature in ("display", "camera"):
        op.execute(f"INSERT INTO screen_transitions (site, device, feature, value, at) "
                   f"SELECT site, device, '{feature}', SUBSTR({feature}, 1, 32), status_at FROM screens "
                   f"WHERE {feature} IS NOT NULL AND status_at IS NOT NULL")


def downgrade() -> None:
    op.drop_index("ix_screen_transitions_at", "screen_transitions")
    op.drop_index("ix_screen_transitions_screen", "screen_transitions")
    op.drop_table("screen_transitions")
