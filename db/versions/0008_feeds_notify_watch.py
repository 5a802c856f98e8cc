"""feeds and their entries; the notification outbox; source watch columns

Feeds are polled by the daemon with conditional requests (etag,
last_modified) and backoff (failures, next_poll_at). feed_entries remembers
each entry seen once, so an entry is ingested once. notifications is an
outbox: a row is written in the same transaction as the outcome it tells of
and delivered later by the daemon, so a slow notifier never holds a send.
articles.watch_* remember the last re-check of a URL-ingested article (at
most one request per article per hour); posts may now be `held` (status is a
string), and posts.watch_released marks a held post a person let go as it is.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02 04:30:00
"""

from alembic import op
import sqlalchemy as sa
import scheduler.storage.models


revision = '0008'
down_revision = '0007'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        'feeds',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('url', sa.String(), nullable=False),
        sa.Column('channels', sa.JSON(), nullable=False),
        sa.Column('every_seconds', sa.Float(), nullable=False),
        sa.Column('allow_private', sa.Boolean(), nullable=False),
        sa.Column('etag', sa.String(), nullable=True),
        sa.Column('last_modified', sa.String(), nullable=True),
        sa.Column('last_polled_at', scheduler.storage.models.UTCDateTime(), nullable=True),
        sa.Column('last_status', sa.Integer(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('failures', sa.Integer(), nullable=False),
        sa.Column('next_poll_at', scheduler.storage.models.UTCDateTime(), nullable=False),
        sa.Column('entries_seen', sa.Integer(), nullable=False),
        sa.Column('created_at', scheduler.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('url'),
    )
    op.create_index('ix_feeds_next_poll_at', 'feeds', ['next_poll_at'], unique=False)
    op.create_table(
        'feed_entries',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('feed_id', sa.Integer(), nullable=False),
        sa.Column('entry_key', sa.String(length=500), nullable=False),
        sa.Column('url', sa.String(), nullable=True),
        sa.Column('article_id', sa.Integer(), nullable=True),
        sa.Column('error', sa.Text(), nullable=True),
        sa.Column('seen_at', scheduler.storage.models.UTCDateTime(), nullable=False),
        sa.ForeignKeyConstraint(['feed_id'], ['feeds.id'], ondelete='CASCADE'),
        sa.ForeignKeyConstraint(['article_id'], ['articles.id']),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('feed_id', 'entry_key', name='uq_feed_entries_key'),
    )
    op.create_table(
        'notifications',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('event', sa.String(length=16), nullable=False),
        sa.Column('post_id', sa.Integer(), nullable=True),
        sa.Column('channel_id', sa.Integer(), nullable=True),
        sa.Column('message', sa.Text(), nullable=False),
        sa.Column('target', sa.String(length=12), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', scheduler.storage.models.UTCDateTime(), nullable=False),
        sa.Column('delivered_at', scheduler.storage.models.UTCDateTime(), nullable=True),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at', scheduler.storage.models.UTCDateTime(), nullable=False),
        sa.PrimaryKeyConstraint('id'),
    )
    op.create_index(
        'ix_notifications_pending',
        'notifications',
        ['next_attempt_at'],
        unique=False,
        sqlite_where=sa.text('delivered_at IS NULL'),
        postgresql_where=sa.text('delivered_at IS NULL'),
    )
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.add_column(sa.Column('watch_checked_at', scheduler.storage.models.UTCDateTime(), nullable=True))
        batch_op.add_column(sa.Column('watch_etag', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('watch_last_modified', sa.String(), nullable=True))
        batch_op.add_column(sa.Column('watch_text', sa.Text(), nullable=True))
        batch_op.create_index('ix_articles_url', ['url'], unique=False)
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.add_column(
            sa.Column('watch_released', sa.Boolean(), nullable=False, server_default=sa.false())
        )


def downgrade() -> None:
    with op.batch_alter_table('posts', schema=None) as batch_op:
        batch_op.drop_column('watch_released')
    with op.batch_alter_table('articles', schema=None) as batch_op:
        batch_op.drop_index('ix_articles_url')
        batch_op.drop_column('watch_text')
        batch_op.drop_column('watch_last_modified')
        batch_op.drop_column('watch_etag')
        batch_op.drop_column('watch_checked_at')
    op.drop_index('ix_notifications_pending', table_name='notifications')
    op.drop_table('notifications')
    op.drop_table('feed_entries')
    op.drop_index('ix_feeds_next_poll_at', table_name='feeds')
    op.drop_table('feeds')
