"""Database access: the engine per dialect, the schema check, the atomic claim,
and how a send's outcome is written back.

The posts table is the queue of record. A daemon claims due posts by moving
them queued -> sending with a lease in one statement (`FOR UPDATE SKIP LOCKED`
on PostgreSQL; a conditional UPDATE under SQLite's single writer), so two
daemons never hold the same post.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError, OperationalError
from sqlmodel import Session, select

from scheduler import migrations
from scheduler.errors import DatabaseError
from scheduler.models import Attempt, Channel, Post, PostStatus, utcnow

SQLITE_BUSY_MS = 30_000


def normalise_url(url: str) -> str:
    """Accept the URLs people type: a bare path means SQLite, and plain
    `postgresql://` means psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str) -> Engine:
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url}") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(url)
        return sa.create_engine(url, pool_pre_ping=True, future=True)
    except NoSuchModuleError:
        raise DatabaseError(f"no driver for {parsed.drivername!r}") from None
    except ModuleNotFoundError as exc:
        if parsed.get_backend_name() == "postgresql":
            raise DatabaseError(
                "PostgreSQL needs the postgres extra: pip install 'scheduler[postgres]'"
            ) from None
        raise DatabaseError(f"database driver missing: {exc.name}") from None


def _sqlite_engine(url: str) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        parent = Path(database).expanduser().resolve().parent
        if not parent.is_dir():
            raise DatabaseError(f"folder for the database does not exist: {parent}")
    engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_MS / 1000}, future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers (CLI listings, previews) run beside the daemon's writes;
        # the busy timeout makes a locked database wait instead of failing.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_MS}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


def describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def require_schema(engine: Engine) -> None:
    """Refuse to work on a database that `scheduler init` has not prepared."""
    database = engine.url.database
    if (
        engine.dialect.name == "sqlite"
        and database not in (None, "", ":memory:")
        and not Path(database).exists()
    ):
        # Checked first so a typo in --db does not leave an empty file behind.
        raise DatabaseError(f"no database at {database}; run `scheduler init` to create it")
    try:
        current = migrations.current_revision(engine)
    except OperationalError as exc:
        raise DatabaseError(
            f"cannot open database {describe(engine)}: {_first_line(exc)}"
        ) from None
    head = migrations.head_revision(engine)
    if current is None:
        raise DatabaseError(f"database {describe(engine)} is not initialised; run `scheduler init`")
    if current != head:
        raise DatabaseError(
            f"database {describe(engine)} is at revision {current}, this version needs "
            f"{head}; run `scheduler init` to migrate"
        )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


# -- claiming ---------------------------------------------------------------


def due_clause(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Post.status == PostStatus.queued.value,
        Post.due_at <= now,
        sa.or_(Post.next_attempt_at.is_(None), Post.next_attempt_at <= now),
    )


def claim_due(
    session: Session,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int = 100,
) -> list[int]:
    """Atomically lease up to `limit` due posts to `owner`; returns their ids."""
    pick = (
        sa.select(Post.id)
        .join(Channel, Channel.id == Post.channel_id)
        .where(due_clause(now), Channel.paused.is_(False))
        .order_by(Post.due_at, Post.id)
        .limit(limit)
    )
    if session.get_bind().dialect.name == "postgresql":
        # Rows another daemon is claiming right now are skipped, not waited on.
        pick = pick.with_for_update(skip_locked=True, of=Post)
    stmt = (
        sa.update(Post)
        .where(Post.id.in_(pick.scalar_subquery()), Post.status == PostStatus.queued.value)
        .values(
            status=PostStatus.sending.value,
            lease_owner=owner,
            lease_expires_at=now + lease,
            attempts=Post.attempts + 1,
            updated_at=now,
        )
        .returning(Post.id)
    )
    ids = [row[0] for row in session.execute(stmt)]
    session.commit()
    return sorted(ids)


def next_due_at(session: Session) -> dt.datetime | None:
    """When the earliest queued post becomes due (for the daemon's wake-up)."""
    stmt = (
        sa.select(sa.func.min(sa.func.coalesce(Post.next_attempt_at, Post.due_at)))
        .join(Channel, Channel.id == Post.channel_id)
        .where(Post.status == PostStatus.queued.value, Channel.paused.is_(False))
    )
    value = session.execute(stmt).scalar()
    if value is None:
        return None
    if isinstance(value, str):  # SQLite's coalesce loses the column type
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


@dataclass(frozen=True)
class Outcome:
    status: PostStatus
    error: str | None = None
    status_code: int | None = None
    remote_id: str | None = None
    remote_url: str | None = None
    next_attempt_at: dt.datetime | None = None


def start_attempt(session: Session, post_id: int, owner: str) -> int:
    """Written and committed before the request leaves, so a crash mid-send
    leaves a trace that the outcome is unknown."""
    attempt = Attempt(post_id=post_id, owner=owner)
    session.add(attempt)
    session.commit()
    assert attempt.id is not None
    return attempt.id


def finish(session: Session, post_id: int, attempt_id: int, owner: str, outcome: Outcome) -> bool:
    """Record how a send ended. Returns False when the lease was lost meanwhile
    (another daemon took the post back), in which case the post is left alone."""
    now = utcnow()
    values: dict[str, object] = {
        "status": outcome.status.value,
        "lease_owner": None,
        "lease_expires_at": None,
        "updated_at": now,
        "last_error": outcome.error,
    }
    if outcome.status is PostStatus.sent:
        values.update(remote_id=outcome.remote_id, remote_url=outcome.remote_url, sent_at=now)
    if outcome.status is PostStatus.queued:
        values["next_attempt_at"] = outcome.next_attempt_at
    result = session.execute(
        sa.update(Post)
        .where(
            Post.id == post_id,
            Post.lease_owner == owner,
            Post.status == PostStatus.sending.value,
        )
        .values(**values)
    )
    session.execute(
        sa.update(Attempt)
        .where(Attempt.id == attempt_id)
        .values(
            finished_at=now,
            outcome={"queued": "retry"}.get(outcome.status.value, outcome.status.value),
            status_code=outcome.status_code,
            error=outcome.error,
            remote_id=outcome.remote_id,
        )
    )
    session.commit()
    return result.rowcount == 1


def recover_expired_leases(
    session: Session, now: dt.datetime, idempotent_platforms: Sequence[str]
) -> dict[str, int]:
    """Posts whose daemon died mid-send. Back to the queue when resending is
    safe (nothing left, or the platform dedupes); otherwise `unknown`."""
    rows = session.execute(
        sa.select(Post.id, Channel.platform)
        .join(Channel, Channel.id == Post.channel_id)
        .where(Post.status == PostStatus.sending.value, Post.lease_expires_at < now)
    ).all()
    counts = {"queued": 0, "unknown": 0}
    for post_id, platform in rows:
        in_flight = session.execute(
            sa.select(sa.func.count())
            .select_from(Attempt)
            .where(Attempt.post_id == post_id, Attempt.outcome.is_(None))
        ).scalar_one()
        safe = in_flight == 0 or platform in idempotent_platforms
        status = PostStatus.queued if safe else PostStatus.unknown
        error = None if safe else "daemon stopped mid-send; the platform may have the post"
        updated = session.execute(
            sa.update(Post)
            .where(
                Post.id == post_id,
                Post.status == PostStatus.sending.value,
                Post.lease_expires_at < now,
            )
            .values(
                status=status.value,
                lease_owner=None,
                lease_expires_at=None,
                last_error=error,
                updated_at=now,
            )
        )
        if updated.rowcount:
            session.execute(
                sa.update(Attempt)
                .where(Attempt.post_id == post_id, Attempt.outcome.is_(None))
                .values(outcome="unknown" if not safe else "lost", finished_at=now)
            )
            counts[status.value] += 1
    session.commit()
    return counts


# -- listing ----------------------------------------------------------------


def page_posts(
    session: Session,
    *,
    status: str | None = None,
    channel_id: int | None = None,
    after: tuple[dt.datetime, int] | None = None,
    limit: int = 50,
) -> list[Post]:
    """Posts in send order, by keyset: the page after `after` = (due_at, id).
    Keyset paging costs the same on page 1 and page 20,000."""
    stmt = select(Post)
    if status:
        stmt = stmt.where(Post.status == status)
    if channel_id is not None:
        stmt = stmt.where(Post.channel_id == channel_id)
    if after is not None:
        due, last_id = after
        stmt = stmt.where(sa.or_(Post.due_at > due, sa.and_(Post.due_at == due, Post.id > last_id)))
    stmt = stmt.order_by(Post.due_at, Post.id).limit(limit)
    return list(session.exec(stmt))
