"""Alerts and their history: one row per alert of a screen and rule, open until it
recovers, with when it was sent and how its notices were delivered.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-05
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "alerts",
        sa.Column("row", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("site", sa.String(64), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("rule", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(500), nullable=False),
        sa.Column("started_at", sa.DateTime, nullable=False),
        sa.Column("recovered_at", sa.DateTime, nullable=True),
        sa.Column("notified_at", sa.DateTime, nullable=True),
        sa.Column("delivery", sa.String(500), nullable=False, server_default=""),
    )
    op.create_index("ix_alerts_screen_rule", "alerts", ["site", "device", "rule", "started_at"])
    op.create_index("ix_alerts_started_at", "alerts", ["started_at"])


def downgrade() -> None:
    op.drop_index("ix_alerts_started_at", "alerts")
    op.drop_index("ix_alerts_screen_rule", "alerts")
    op.drop_table("alerts")
