"""indexes for the daemon's hot queries (benchmarks, issue 7)

ix_posts_channel_status_due serves the per-channel claim and the "which
channels have due posts" query without walking a channel's sent history
(254 ms -> 0.1 ms on a million-row table); ix_posts_wake turns the daemon's
next-wake-up query into two index seeks (250 ms -> 0.4 ms).

Revision ID: 0004
Revises: 0003 (0003_pg_post_notify)
Create Date: 2026-11-25 15:15:00
"""

from alembic import op


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.create_index(
            'ix_posts_channel_status_due', ['channel_id', 'status', 'due_at', 'id'], unique=False
        )
        batch_op.create_index(
            'ix_posts_wake', ['status', 'next_attempt_at', 'due_at'], unique=False
        )


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_index('ix_posts_wake')
        batch_op.drop_index('ix_posts_channel_status_due')
