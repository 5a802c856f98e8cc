"""the editor's desk: channels.review and channels.removed_at; posts.verbatim

channels.review: NULL follows the database-wide `review` setting, true or
false overrides it. channels.removed_at: a removed channel is kept (its sent
posts and their attempts point at it) but no longer listed or sent on.
posts.verbatim: false once a person has edited a quote post so its quote is
no longer word for word from the source; NULL otherwise.

Revision ID: 0007
Revises: 0005
Create Date: 2026-11-26 10:00:00

Nullable columns only, so existing rows need no backfill.
"""

from alembic import op
import sqlalchemy as sa
import scheduler.storage.models


revision = '0007'
down_revision = '0005'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.add_column(sa.Column('review', sa.Boolean(), nullable=True))
        batch_op.add_column(
            sa.Column('removed_at', scheduler.storage.models.UTCDateTime(), nullable=True)
        )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('verbatim', sa.Boolean(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('verbatim')
    with op.batch_alter_table('channels', schema=None) as batch_op:
        batch_op.drop_column('removed_at')
        batch_op.drop_column('review')
