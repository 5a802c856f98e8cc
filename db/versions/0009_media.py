"""media: stored files by content hash, posts.media and link_card, articles' description and image

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02 04:30:00

Batch mode so SQLite copies the tables; nullable columns only, so existing
rows need no backfill.
"""

from alembic import op
import sqlalchemy as sa
import scheduler.storage.models


revision = '0009'
down_revision = '0008'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'media',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('sha256', sa.String(length=64), nullable=False),
        sa.Column('mime', sa.String(length=40), nullable=False),
        sa.Column('size', sa.Integer(), nullable=False),
        sa.Column('width', sa.Integer(), nullable=True),
        sa.Column('height', sa.Integer(), nullable=True),
        sa.Column('path', sa.String(), nullable=False),
        sa.Column('created_at', scheduler.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('sha256'),
    )
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(sa.Column('media', sa.JSON(), nullable=True))
        batch_op.add_column(sa.Column('link_card', sa.JSON(), nullable=True))
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('description', sa.Text(), nullable=True))
        batch_op.add_column(sa.Column('image_sha256', sa.String(length=64), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_column('image_sha256')
        batch_op.drop_column('description')
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('link_card')
        batch_op.drop_column('media')
    op.drop_table('media')
