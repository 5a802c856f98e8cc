"""posts.expires_at and posts.reason; channels.recurring

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-25 14:50:00

Batch mode so SQLite (no ALTER COLUMN) copies the tables; nullable columns only,
so existing rows need no backfill.
"""

from alembic import op
import sqlalchemy as sa
import scheduler.storage.models


revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('expires_at', scheduler.storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('reason', sa.Text(), nullable=True))
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('recurring', sa.JSON(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('recurring')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('reason')
        batch_op.drop_column('expires_at')
