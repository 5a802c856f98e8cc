"""credentials: a connected channel's OAuth tokens, encrypted

One row per connected channel. `secret` is a Fernet token (access token,
refresh token, client credentials together); the rest is what may be shown.

Revision ID: 0010
Revises: 0008
Create Date: 2026-12-02 04:20:00
"""

import sqlalchemy as sa
from alembic import op

import scheduler.storage.models


revision = '0010'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'credentials',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('channel_id', sa.Integer(), nullable=False),
        sa.Column('secret', sa.Text(), nullable=False),
        sa.Column('expires_at', scheduler.storage.models.UTCDateTime(), nullable=True),
        sa.Column('has_refresh', sa.Boolean(), nullable=False),
        sa.Column('scope', sa.String(), nullable=True),
        sa.Column('account', sa.JSON(), nullable=True),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('detail', sa.Text(), nullable=True),
        sa.Column('version', sa.Integer(), nullable=False),
        sa.Column('obtained_at', scheduler.storage.models.UTCDateTime(), nullable=False),
        sa.Column('refreshed_at', scheduler.storage.models.UTCDateTime(), nullable=True),
        sa.Column('warned_at', scheduler.storage.models.UTCDateTime(), nullable=True),
        sa.ForeignKeyConstraint(['channel_id'], ['channels.id'], ondelete='CASCADE'),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('channel_id'),
    )


def downgrade() -> None:
    op.drop_table('credentials')
