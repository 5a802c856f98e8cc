"""wake daemons: NOTIFY on posts queued or moved, channels changed (PostgreSQL only)

Every statement that inserts queued posts, or updates posts so that some are
queued (added, moved, retried, handed back after a crash or a retryable
error), sends one NOTIFY on the `scheduler_posts` channel after commit. Daemons
LISTEN and look again at once instead of waiting for their periodic sweep.
Statement-level triggers with transition tables: one notification per
statement, not per row, so planning thousands of posts stays cheap. SQLite has
no LISTEN; daemons there rely on their wake-up and sweep as before.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-25 15:00:00
"""

from alembic import op


revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

FUNCTION = """
CREATE OR REPLACE FUNCTION scheduler_posts_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM changed_posts WHERE status = 'queued') THEN
        PERFORM pg_notify('scheduler_posts', '');
    END IF;
    RETURN NULL;
END
$$
"""


CHANNEL_FUNCTION = """
CREATE OR REPLACE FUNCTION scheduler_channels_notify() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('scheduler_posts', '');
    RETURN NULL;
END
$$
"""


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute(FUNCTION)
    op.execute(
        "CREATE TRIGGER posts_notify_insert AFTER INSERT ON posts "
        "REFERENCING NEW TABLE AS changed_posts "
        "FOR EACH STATEMENT EXECUTE FUNCTION scheduler_posts_notify()"
    )
    op.execute(
        "CREATE TRIGGER posts_notify_update AFTER UPDATE ON posts "
        "REFERENCING NEW TABLE AS changed_posts "
        "FOR EACH STATEMENT EXECUTE FUNCTION scheduler_posts_notify()"
    )
    # A channel resumed (or edited) may have posts waiting.
    op.execute(CHANNEL_FUNCTION)
    op.execute(
        "CREATE TRIGGER channels_notify_update AFTER UPDATE ON channels "
        "FOR EACH STATEMENT EXECUTE FUNCTION scheduler_channels_notify()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("DROP TRIGGER IF EXISTS channels_notify_update ON channels")
    op.execute("DROP FUNCTION IF EXISTS scheduler_channels_notify()")
    op.execute("DROP TRIGGER IF EXISTS posts_notify_update ON posts")
    op.execute("DROP TRIGGER IF EXISTS posts_notify_insert ON posts")
    op.execute("DROP FUNCTION IF EXISTS scheduler_posts_notify()")
