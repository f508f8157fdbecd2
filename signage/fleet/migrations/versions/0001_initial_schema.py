"""Initial schema: screens, states, status history, raw metrics and plays, rollups, commands, counters.

Revision ID: 0001
Revises:
Create Date: 2026-11-22
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = '0001'
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('commands',
    sa.Column('row', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('feature', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('sent_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('row')
    )
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.create_index('ix_commands_screen', ['site', 'device', 'sent_at'], unique=False)

    op.create_table('counters',
    sa.Column('name', sa.String(length=64), nullable=False),
    sa.Column('value', sa.BigInteger(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('name')
    )
    op.create_table('creative_day_expressions',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('creative', sa.String(length=64), nullable=False),
    sa.Column('expression', sa.String(length=32), nullable=False),
    sa.Column('seconds', sa.Float(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('site', 'device', 'day', 'creative', 'expression')
    )
    op.create_table('creative_days',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
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
    sa.PrimaryKeyConstraint('site', 'device', 'day', 'creative')
    )
    with op.batch_alter_table('creative_days', schema=None) as batch_op:
        batch_op.create_index('ix_creative_days_day', ['day', 'creative'], unique=False)

    op.create_table('metrics',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('start', sa.DateTime(), nullable=False),
    sa.Column('end', sa.DateTime(), nullable=False),
    sa.Column('passers', sa.Integer(), nullable=False),
    sa.Column('viewers', sa.Integer(), nullable=False),
    sa.Column('peak_faces', sa.Integer(), nullable=False),
    sa.Column('payload', sa.Text(), nullable=False),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.create_index('ix_metrics_screen_start', ['site', 'device', 'start'], unique=False)
        batch_op.create_index('ix_metrics_start', ['start'], unique=False)

    op.create_table('plays',
    sa.Column('id', sa.String(length=64), nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('creative', sa.String(length=64), nullable=False),
    sa.Column('rule', sa.String(length=128), nullable=False),
    sa.Column('start', sa.DateTime(), nullable=False),
    sa.Column('end', sa.DateTime(), nullable=False),
    sa.Column('seconds', sa.Float(), nullable=False),
    sa.Column('ended', sa.String(length=16), nullable=False),
    sa.Column('peak_faces', sa.Integer(), nullable=False),
    sa.Column('mean_faces', sa.Float(), nullable=False),
    sa.Column('peak_viewers', sa.Integer(), nullable=False),
    sa.Column('looking_seconds', sa.Float(), nullable=False),
    sa.Column('expressions', sa.Text(), nullable=True),
    sa.Column('received_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id')
    )
    with op.batch_alter_table('plays', schema=None) as batch_op:
        batch_op.create_index('ix_plays_screen_start', ['site', 'device', 'start'], unique=False)
        batch_op.create_index('ix_plays_start', ['start'], unique=False)

    op.create_table('screen_hour_expressions',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('hour', sa.DateTime(), nullable=False),
    sa.Column('expression', sa.String(length=32), nullable=False),
    sa.Column('viewers', sa.Integer(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('site', 'device', 'hour', 'expression')
    )
    op.create_table('screen_hours',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('hour', sa.DateTime(), nullable=False),
    sa.Column('intervals', sa.Integer(), server_default='0', nullable=False),
    sa.Column('passers', sa.Integer(), server_default='0', nullable=False),
    sa.Column('viewers', sa.Integer(), server_default='0', nullable=False),
    sa.Column('viewers_unbroken', sa.Integer(), server_default='0', nullable=False),
    sa.Column('peak_faces', sa.Integer(), server_default='0', nullable=False),
    sa.Column('frames', sa.Integer(), server_default='0', nullable=False),
    sa.Column('dropped_frames', sa.Integer(), server_default='0', nullable=False),
    sa.Column('plays', sa.Integer(), server_default='0', nullable=False),
    sa.Column('play_seconds', sa.Float(), server_default='0', nullable=False),
    sa.Column('looking_seconds', sa.Float(), server_default='0', nullable=False),
    sa.PrimaryKeyConstraint('site', 'device', 'hour')
    )
    with op.batch_alter_table('screen_hours', schema=None) as batch_op:
        batch_op.create_index('ix_screen_hours_hour', ['hour'], unique=False)

    op.create_table('screen_states',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('feature', sa.String(length=32), nullable=False),
    sa.Column('value', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('site', 'device', 'feature')
    )
    op.create_table('screens',
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('availability', sa.String(length=16), nullable=True),
    sa.Column('availability_since', sa.DateTime(), nullable=True),
    sa.Column('last_seen', sa.DateTime(), nullable=True),
    sa.Column('version', sa.String(length=32), nullable=True),
    sa.Column('uptime_s', sa.Integer(), nullable=True),
    sa.Column('playing', sa.String(length=64), nullable=True),
    sa.Column('camera', sa.String(length=32), nullable=True),
    sa.Column('display', sa.String(length=32), nullable=True),
    sa.Column('broker', sa.String(length=200), nullable=True),
    sa.Column('playlist', sa.Text(), nullable=True),
    sa.Column('privacy', sa.Boolean(), nullable=True),
    sa.Column('spool_depth', sa.Integer(), nullable=True),
    sa.Column('spool_dropped', sa.Integer(), nullable=True),
    sa.Column('last_error', sa.Text(), nullable=True),
    sa.Column('status_at', sa.DateTime(), nullable=True),
    sa.Column('refusal', sa.Text(), nullable=True),
    sa.Column('refusal_topic', sa.String(length=200), nullable=True),
    sa.Column('refusal_at', sa.DateTime(), nullable=True),
    sa.Column('updated_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('site', 'device')
    )
    with op.batch_alter_table('screens', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_screens_updated_at'), ['updated_at'], unique=False)

    op.create_table('status_history',
    sa.Column('row', sa.Integer(), autoincrement=True, nullable=False),
    sa.Column('site', sa.String(length=64), nullable=False),
    sa.Column('device', sa.String(length=64), nullable=False),
    sa.Column('at', sa.DateTime(), nullable=False),
    sa.Column('kind', sa.String(length=16), nullable=False),
    sa.Column('detail', sa.Text(), nullable=False),
    sa.PrimaryKeyConstraint('row')
    )
    with op.batch_alter_table('status_history', schema=None) as batch_op:
        batch_op.create_index('ix_status_history_screen', ['site', 'device', 'at'], unique=False)



def downgrade() -> None:
    with op.batch_alter_table('status_history', schema=None) as batch_op:
        batch_op.drop_index('ix_status_history_screen')

    op.drop_table('status_history')
    with op.batch_alter_table('screens', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_screens_updated_at'))

    op.drop_table('screens')
    op.drop_table('screen_states')
    with op.batch_alter_table('screen_hours', schema=None) as batch_op:
        batch_op.drop_index('ix_screen_hours_hour')

    op.drop_table('screen_hours')
    op.drop_table('screen_hour_expressions')
    with op.batch_alter_table('plays', schema=None) as batch_op:
        batch_op.drop_index('ix_plays_start')
        batch_op.drop_index('ix_plays_screen_start')

    op.drop_table('plays')
    with op.batch_alter_table('metrics', schema=None) as batch_op:
        batch_op.drop_index('ix_metrics_start')
        batch_op.drop_index('ix_metrics_screen_start')

    op.drop_table('metrics')
    with op.batch_alter_table('creative_days', schema=None) as batch_op:
        batch_op.drop_index('ix_creative_days_day')

    op.drop_table('creative_days')
    op.drop_table('creative_day_expressions')
    op.drop_table('counters')
    with op.batch_alter_table('commands', schema=None) as batch_op:
        batch_op.drop_index('ix_commands_screen')

    op.drop_table('commands')
