"""Claiming due posts and leases: the statements a daemon runs against the queue.

The posts table is the queue of record. A daemon claims due posts by moving
them queued -> sending with a lease in one statement (`FOR UPDATE SKIP LOCKED`
on PostgreSQL; a conditional UPDATE under SQLite's single writer), so two
daemons never hold the same post. The daemon renews the leases of posts it is
sending; a daemon that dies stops renewing, and after one lease any daemon puts
its posts back (or marks them `unknown` when a request may have left for a
platform that does not dedupe).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable, Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from scheduler.storage.driver_sql import prepared
from scheduler.storage.models import Attempt, Channel, Post, PostStatus, utcnow


def due_clause(now: dt.datetime) -> sa.ColumnElement[bool]:
    return sa.and_(
        Post.status == PostStatus.queued.value,
        Post.due_at <= now,
        sa.or_(Post.next_attempt_at.is_(None), Post.next_attempt_at <= now),
    )


def claimable_clause(now: dt.datetime) -> sa.ColumnElement[bool]:
    """Due, and not expired: an expired post is never sent, even if the sweep
    that marks it (`expiry.expire_due`) has not run yet."""
    return sa.and_(due_clause(now), sa.or_(Post.expires_at.is_(None), Post.expires_at > now))


def _due_now() -> sa.ColumnElement[bool]:
    """`claimable_clause` on the table, with the time as a bind (:p_now)."""
    posts = _posts_table()
    now = sa.bindparam("p_now", type_=posts.c.due_at.type)
    return sa.and_(
        posts.c.status == PostStatus.queued.value,
        posts.c.due_at <= now,
        sa.or_(posts.c.next_attempt_at.is_(None), posts.c.next_attempt_at <= now),
        # Expired posts are never claimed, even before `expiry.expire_due` marks them.
        sa.or_(posts.c.expires_at.is_(None), posts.c.expires_at > now),
    )


@functools.cache
def _due_channels_statement(
    dialect: str = "sqlite", by_post: bool = False
) -> sa.Select[tuple[int]]:
    # Per channel EXISTS: one index seek per channel (ix_posts_channel_status_due),
    # where DISTINCT over the due posts reads the whole backlog on every pump.
    posts, channels = _posts_table(), _channels_table()
    if dialect == "postgresql" and not by_post:
        # PostgreSQL turns an EXISTS into a semi-join: a bitmap scan of every
        # due post, hashed by channel, then the channels. That reads the whole
        # backlog at every pass (10,000 due posts on one channel: 3 ms a pass,
        # the server's CPU a post growing with the queue), and a bitmap scan
        # never marks the index entries of posts already sent as dead, so
        # they are read again each time. The first due post by the index's
        # order, LIMIT 1, stays one short index scan per channel. With far
        # more channels than due posts the semi-join is the cheaper one
        # (`by_post`, chosen by `fewer_due_than_channels`).
        first_due = (
            sa.select(posts.c.id)
            .where(posts.c.channel_id == channels.c.id, _due_now())
            .order_by(posts.c.due_at)
            .limit(1)
            .correlate(channels)
            .scalar_subquery()
        )
        has_due: sa.ColumnElement[bool] = first_due.is_not(None)
    else:
        has_due = sa.exists().where(posts.c.channel_id == channels.c.id, _due_now())
    return (
        sa.select(channels.c.id)
        .where(channels.c.paused.is_(False), has_due)
        .order_by(channels.c.id)
    )


def count_due(session: Session, now: dt.datetime) -> int:
    """How many posts a pass would send now (for a catching-up progress bar)."""
    stmt = (
        sa.select(sa.func.count())
        .select_from(Post)
        .join(Channel, Channel.id == Post.channel_id)
        .where(claimable_clause(now), Channel.paused.is_(False))
    )
    return session.execute(stmt).scalar_one()


def due_channel_rows(conn: Connection, now: dt.datetime) -> dict[int, tuple[Any, ...]]:
    """Channels (not paused) with at least one post due now, each with its
    columns as stored, unconverted. A
    daemon's pass compares them with the rows it has already converted and
    converts only a row that changed (`channel_row`): cheaper than converting
    every row on every pass, and a value that no longer reads fails only its
    own channel."""
    stmt = _due_channel_rows_statement(conn.dialect.name)
    rows = prepared(stmt, conn.dialect).run(conn, {"p_now": now})
    return {row[0]: tuple(row) for row in rows}


def due_channel_rows_after(
    conn: Connection,
    now: dt.datetime,
    after: int,
    limit: int,
    upto: int | None = None,
    *,
    by_post: bool = False,
) -> list[tuple[Any, ...]]:
    """`due_channel_rows` for the first `limit` channels with an id above
    `after` (and at most `upto`), in id order: a pass reads only as many
    channels as it can start sends on, from where the last one stopped, so
    its cost does not grow with the number of channels that have posts due.
    `by_post`: found from the due posts rather than channel by channel, for
    when there are fewer of those (PostgreSQL; SQLite looks channel by channel)."""
    stmt = prepared(
        _due_channel_rows_after_statement(upto is not None, conn.dialect.name, by_post),
        conn.dialect,
    )
    params: dict[str, Any] = {"p_now": now, "p_after": after, "p_limit": limit}
    if upto is not None:
        params["p_upto"] = upto
    return [tuple(row) for row in stmt.run(conn, params)]


def due_channel_rows_among(
    conn: Connection, now: dt.datetime, channel_ids: list[int]
) -> list[tuple[Any, ...]]:
    """`due_channel_rows` for the given channels (ascending ids) and any
    between them: one prepared statement per channel for a few (an IN list
    would be compiled again at every pass), else one over their id range."""
    if len(channel_ids) > 8:
        # As many rows as the range has ids: none of the given ones is cut off.
        first, last = channel_ids[0], channel_ids[-1]
        return due_channel_rows_after(conn, now, first - 1, last - first + 1, last)
    rows = []
    for channel_id in channel_ids:
        rows.extend(due_channel_rows_after(conn, now, channel_id - 1, 1, channel_id))
    return rows


@functools.cache
def _due_channel_rows_after_statement(
    bounded: bool, dialect: str = "sqlite", by_post: bool = False
) -> sa.Select[Any]:
    channels = _channels_table()
    stmt = _due_channel_rows_statement(dialect, by_post).where(
        channels.c.id > sa.bindparam("p_after", type_=sa.Integer)
    )
    if bounded:
        stmt = stmt.where(channels.c.id <= sa.bindparam("p_upto", type_=sa.Integer))
    return stmt.limit(sa.bindparam("p_limit", type_=sa.Integer))


def channel_row(
    conn: Connection, channel_id: int, stored: Sequence[Any], converters: Converters | None
) -> dict[str, Any]:
    """One channel's columns, converted; raises if a value no longer reads.
    With `converters` (`channel_converters`), from the values `due_channel_rows`
    read as stored, in the table's column order: that spares a query a channel
    (with 10,000 channels, reading each row again was 3 % of the daemon's
    CPU). Without, the row is read again and converted by the query."""
    if converters is not None:
        return {
            key: value if process is None else process(value)
            for (key, process), value in zip(converters, stored, strict=True)
        }
    table = _channels_table()
    return dict(conn.execute(sa.select(table).where(table.c.id == channel_id)).mappings().one())


#: A channel column's name and its result converter (None: taken as it comes).
Converters = tuple[tuple[str, Callable[[Any], Any] | None], ...]


def channel_converters(dialect: sa.Dialect) -> Converters | None:
    """What `channel_row` converts stored values with (make it once per
    engine). SQLite only: PostgreSQL's converters depend on the type the
    server reports for each column (its Float reader needs the type's code),
    which a row read as stored does not carry."""
    if dialect.name != "sqlite":
        return None
    return tuple(
        (c.key, c.type.dialect_impl(dialect).result_processor(dialect, None))
        for c in _channels_table().columns
    )


@functools.cache
def _due_channel_rows_statement(dialect: str = "sqlite", by_post: bool = False) -> sa.Select[Any]:
    stored = (
        sa.type_coerce(c, sa.types.NullType()).label(c.key) for c in _channels_table().columns
    )
    return _due_channels_statement(dialect, by_post).with_only_columns(*stored)


#: Rows of the posts table changed since its last ANALYZE (and at least a
#: tenth of its rows, as autovacuum counts) after which a daemon's upkeep
#: analyses it on PostgreSQL itself.
ANALYZE_CHANGES = 1_000


def refresh_statistics(engine: Engine) -> bool:
    """PostgreSQL: ANALYZE the posts table when many of its rows changed
    since the planner last looked. Statistics taken while every post was
    queued (just after a bulk import) make PostgreSQL claim through the
    due-time index, filtering on status: each claim then walks every post
    sent so far (10,000 posts on one channel: 2,659 buffers a claim by the end,
    51 once analysed, and the server's CPU a post four times that at 3,000).
    Autovacuum would analyse it too, but only at its next round (a minute
    apart by default), long after a burst is sent. Returns whether it ran;
    a daemon that finds another's ANALYZE running leaves it be."""
    with engine.connect() as conn:
        found = conn.execute(
            sa.text(
                "SELECT n_mod_since_analyze, n_live_tup FROM pg_stat_user_tables"
                " WHERE relid = CAST(:table AS regclass)"
            ),
            {"table": _posts_table().name},
        ).one_or_none()
        conn.rollback()
        if found is None or found[0] < max(ANALYZE_CHANGES, found[1] // 10):
            return False
        try:
            with conn.begin():
                conn.exec_driver_sql("SET LOCAL lock_timeout = '100ms'")
                conn.exec_driver_sql(f"ANALYZE {_posts_table().name}")
        except sa.exc.OperationalError:
            return False  # another daemon is analysing it
        return True


def fewer_due_than_channels(session: Session, now: dt.datetime) -> bool:
    """Whether fewer posts are due than there are active channels: then the
    due channels are cheaper found from the due posts than channel by channel
    (`due_channel_rows_after`'s `by_post`). Counts at most one post more than
    there are channels, so asking costs the smaller of the two, not the
    backlog."""
    channels = session.execute(
        sa.select(sa.func.count()).select_from(Channel).where(Channel.paused.is_(False))
    ).scalar_one()
    due = sa.select(Post.id).where(claimable_clause(now)).limit(channels + 1).subquery()
    return session.execute(sa.select(sa.func.count()).select_from(due)).scalar_one() < channels


@functools.cache
def _claim_statement(dialect: str, by_channel: bool, begin: bool = False) -> sa.Update:
    """The claim. With `begin`, it also counts the attempt and returns the
    columns a send needs (see `attempts.claim_and_begin`); `due_at` comes back
    as stored, so that one unreadable row cannot break the claim for the rest."""
    posts, channels = _posts_table(), _channels_table()
    pick = (
        sa.select(posts.c.id)
        .join(channels, channels.c.id == posts.c.channel_id)
        .where(_due_now(), channels.c.paused.is_(False))
        .order_by(posts.c.due_at, posts.c.id)
        .limit(sa.bindparam("p_limit", type_=sa.Integer))
    )
    if by_channel:
        pick = pick.where(posts.c.channel_id == sa.bindparam("p_channel"))
    claimed = {
        "status": PostStatus.sending.value,
        "lease_owner": sa.bindparam("p_owner", type_=posts.c.lease_owner.type),
        "lease_expires_at": _lease_end(dialect),
        "updated_at": sa.bindparam("p_now", type_=posts.c.updated_at.type),
    }
    returning: tuple[sa.ColumnElement[Any], ...] = (posts.c.id,)
    if begin:
        claimed["attempts"] = posts.c.attempts + 1
        returning = (
            posts.c.id,
            posts.c.text,
            sa.type_coerce(posts.c.due_at, sa.types.NullType()).label("due_at"),
            posts.c.attempts,
            posts.c.idempotency_key,
            posts.c.link,
            posts.c.media,
            posts.c.link_card,
            # Whether the source watch may apply (a quote post of an article,
            # not released): the watch's lookup runs only for those.
            posts.c.source_kind,
            posts.c.article_id,
            posts.c.watch_released,
        )
    if dialect == "postgresql":
        # Rows another daemon is claiming right now are skipped, not waited on.
        # The pick is a MATERIALIZED CTE, run exactly once: as `id IN (subquery)`
        # the planner may rescan the locking subquery, and each rescan skips the
        # rows this very statement already updated and returns the next ones,
        # so LIMIT stops limiting (a real claim of 5 posts for a limit of 3).
        picked = (
            pick.with_for_update(skip_locked=True, of=posts)
            .cte("picked")
            .prefix_with("MATERIALIZED")
        )
        return (
            sa.update(posts)
            .where(posts.c.id == picked.c.id, posts.c.status == PostStatus.queued.value)
            .values(**claimed)
            .returning(*returning)
        )
    # SQLite: one statement under the single writer, so the rows the subquery
    # picks are still queued when the UPDATE writes them. The UPDATE must not
    # test the status again: SQLite would then walk every queued post through
    # the status index and test each against the IN list, instead of looking up
    # the picked ids (a claim cost 1 ms at 20,000 queued posts, 50 at 1,000,000).
    return (
        sa.update(posts)
        .where(posts.c.id.in_(pick.scalar_subquery()))
        .values(**claimed)
        .returning(*returning)
    )


def claim_due(
    session: Session | Connection,
    owner: str,
    now: dt.datetime,
    lease: dt.timedelta,
    limit: int = 100,
    *,
    channel_id: int | None = None,
) -> list[int]:
    """Atomically lease up to `limit` due posts (of one channel, if given) to
    `owner`; returns their ids. Claiming is not an attempt: the attempt
    count moves when a request is about to leave (`attempts.begin_attempt`;
    the daemon does both at once with `attempts.claim_and_begin`).
    The statement is built once per dialect (a daemon claims after every send)."""
    bind = session.get_bind() if isinstance(session, Session) else session
    stmt = _claim_statement(bind.dialect.name, channel_id is not None)
    params = {"p_now": now, "p_limit": limit, "p_owner": owner, **lease_params(now, lease)}
    if channel_id is not None:
        params["p_channel"] = channel_id
    # Only ids come back: a row with an unreadable value is claimed like any
    # other and then fails alone, instead of breaking the claim for everyone.
    ids = sorted(session.execute(stmt, params).scalars())
    session.commit()
    return ids


def next_due_at(
    session: Session | Connection, after: dt.datetime | None = None
) -> dt.datetime | None:
    """When the earliest queued post becomes due (for the daemon's wake-up);
    with `after`, the earliest one strictly later than that. Two index seeks
    (ix_posts_wake), not a scan: a daemon asks after every pass."""

    def first(column: Any, *where: Any) -> dt.datetime | None:
        stmt = (
            sa.select(column)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Post.status == PostStatus.queued.value, Channel.paused.is_(False), *where)
            .order_by(column)
            .limit(1)
        )
        return session.execute(stmt).scalar()

    first_try = first(
        Post.due_at, Post.next_attempt_at.is_(None), *([Post.due_at > after] if after else [])
    )
    retry = first(
        Post.next_attempt_at,
        Post.next_attempt_at.is_not(None),
        *([Post.next_attempt_at > after] if after else []),
    )
    values = [_aware(v) for v in (first_try, retry) if v is not None]
    return min(values) if values else None


def _aware(value: dt.datetime | str) -> dt.datetime:
    if isinstance(value, str):  # SQLite aggregates lose the column type
        value = dt.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def renew_leases(
    session: Session, owner: str, post_ids: Sequence[int], now: dt.datetime, lease: dt.timedelta
) -> set[int]:
    """Keep the posts this daemon is sending leased to it while it is alive; a
    daemon that dies (or loses the database) stops renewing, and its posts go
    back after one lease. Returns the ids whose lease was still ours."""
    if not post_ids:
        return set()
    posts = _posts_table()
    renewed: set[int] = set()
    ids = sorted(post_ids)
    for i in range(0, len(ids), 500):
        renewed.update(
            session.execute(
                sa.update(posts)
                .where(
                    posts.c.id.in_(ids[i : i + 500]),
                    posts.c.lease_owner == owner,
                    posts.c.status == PostStatus.sending.value,
                )
                .values(lease_expires_at=_lease_end(session.get_bind().dialect.name))
                .returning(posts.c.id),
                lease_params(now, lease),
            ).scalars()
        )
    session.commit()
    return renewed


def _lease_end(dialect: str) -> sa.ColumnElement[Any]:
    """When a lease set now runs out: :p_until (the caller's clock), or on
    PostgreSQL the database's clock plus :p_lease_s seconds."""
    if dialect == "postgresql":
        return sa.func.now() + sa.func.make_interval(
            0, 0, 0, 0, 0, 0, sa.bindparam("p_lease_s", type_=sa.Float)
        )
    return sa.bindparam("p_until", type_=_posts_table().c.lease_expires_at.type)


def _offset(now: dt.datetime) -> float:
    """How far the caller's `now` is from this machine's clock: zero for a
    daemon, a virtual offset in `simulate` and in tests. On PostgreSQL it is
    applied to the database's clock, so machines whose clocks disagree still
    agree on when a lease runs out."""
    return (now - utcnow()).total_seconds()


def lease_params(now: dt.datetime, lease: dt.timedelta) -> dict[str, Any]:
    """The binds `_lease_end` reads, for either dialect."""
    return {"p_until": now + lease, "p_lease_s": _offset(now) + lease.total_seconds()}


def db_now(bind: Session | Connection, now: dt.datetime) -> Any:
    """The time leases are judged by: on PostgreSQL the database's own clock
    (moved by the caller's offset, see `_offset`), elsewhere the caller's."""
    dialect = (bind.get_bind() if isinstance(bind, Session) else bind).dialect.name
    if dialect == "postgresql":
        return sa.func.now() + sa.func.make_interval(0, 0, 0, 0, 0, 0, _offset(now))
    return now


def _posts_table() -> sa.Table:
    return Post.__table__  # type: ignore[attr-defined,no-any-return]


def _channels_table() -> sa.Table:
    return Channel.__table__  # type: ignore[attr-defined,no-any-return]


def _attempts_table() -> sa.Table:
    return Attempt.__table__  # type: ignore[attr-defined,no-any-return]


LOST_SAFE = "daemon stopped mid-send; sent again with the same idempotency key"
LOST_UNSAFE = "daemon stopped mid-send; the platform may have the post"


def recover_expired_leases(
    session: Session,
    now: dt.datetime,
    idempotent_platforms: Sequence[str],
    *,
    holding: Collection[int] = (),
    tell: Callable[[Session, list[int]], None] | None = None,
) -> dict[str, int]:
    """Posts whose daemon died (or lost the database) mid-send. Back to the
    queue when resending is safe (no request had left, or the platform dedupes
    by key); otherwise `unknown`. Set-based, so a crash leaving thousands of
    leases is recovered in a few statements. `holding` are the caller's own
    posts in flight: never taken back, even past their lease. `tell` gets the
    posts made `unknown` before the commit, so whatever it writes of them (a
    notice: someone must look on the platform) lands with them or not at all.

    On PostgreSQL a lease runs out by the database's clock (leases are set
    from it too), so daemons on machines whose clocks disagree agree on it."""
    expired = sa.and_(
        Post.status == PostStatus.sending.value,
        Post.lease_expires_at.is_not(None),
        Post.lease_expires_at < db_now(session, now),
    )
    if holding:
        expired = sa.and_(expired, Post.id.not_in(sorted(holding)))
    in_flight = (
        sa.select(Attempt.id).where(Attempt.post_id == Post.id, Attempt.outcome.is_(None)).exists()
    )
    unsafe_channels = sa.select(Channel.id).where(
        Channel.platform.not_in(list(idempotent_platforms))
    )
    cleared = {"lease_owner": None, "lease_expires_at": None, "updated_at": now}
    unknown_ids = list(
        session.execute(
            sa.update(Post)
            .where(expired, in_flight, Post.channel_id.in_(unsafe_channels))
            .values(status=PostStatus.unknown.value, last_error=LOST_UNSAFE, **cleared)
            .returning(Post.id)
        ).scalars()
    )
    resent_ids = list(
        session.execute(
            sa.update(Post)
            .where(expired, in_flight)
            .values(status=PostStatus.queued.value, last_error=LOST_SAFE, **cleared)
            .returning(Post.id)
        ).scalars()
    )
    # Claimed but never attempted: nothing left, so the post simply goes back.
    untouched = session.execute(
        sa.update(Post).where(expired).values(status=PostStatus.queued.value, **cleared)
    ).rowcount
    for ids, label in ((unknown_ids, "unknown"), (resent_ids, "lost")):
        for i in range(0, len(ids), 500):
            session.execute(
                sa.update(Attempt)
                .where(Attempt.post_id.in_(ids[i : i + 500]), Attempt.outcome.is_(None))
                .values(outcome=label, finished_at=now)
            )
    if unknown_ids and tell is not None:
        tell(session, unknown_ids)
    session.commit()
    return {"queued": len(resent_ids) + untouched, "unknown": len(unknown_ids)}


def _maybe_landed() -> sa.Exists:
    """A post with an attempt whose outcome is unclear: it may already be on
    the platform, so it is sent again (deduped by key), never called missed."""
    return (
        sa.select(Attempt.id)
        .where(Attempt.post_id == Post.id, Attempt.outcome.in_(("unsure", "lost", "unknown")))
        .exists()
    )


def may_have_landed(session: Session, post_ids: Sequence[int]) -> set[int]:
    """Which of these posts `mark_missed` would spare for an unclear attempt.
    The dry run, `simulate` and `explain` ask it, so they say "missed" exactly
    when the daemon would."""
    found: set[int] = set()
    ids = list(post_ids)
    for i in range(0, len(ids), 500):
        found.update(
            session.execute(
                sa.select(Post.id).where(Post.id.in_(ids[i : i + 500]), _maybe_landed())
            ).scalars()
        )
    return found


def mark_missed(
    session: Session, now: dt.datetime, default_grace: float
) -> list[tuple[int, float]]:
    """Queued posts later than their channel's grace period (past their time,
    or past their retry's time when a daemon was down) become `missed` (shown, never silently dropped, never flooded out late).
    Returns (post id, grace) pairs. Works on ids only, so an unreadable row
    elsewhere cannot stop it.

    One UPDATE per distinct grace period, not per channel: a daemon runs this
    every few seconds, and with thousands of channels a statement per channel
    cost more than the sends (10,000 channels: most of a pass's CPU)."""
    posts, channels = _posts_table(), _channels_table()
    missed: list[tuple[int, float]] = []
    maybe_landed = _maybe_landed()
    graces = session.execute(sa.select(channels.c.grace_seconds).distinct()).scalars().all()
    for stored in graces:
        grace = max(default_grace if stored is None else float(stored), 0.0)
        try:
            cutoff = now - dt.timedelta(seconds=grace)
        except OverflowError:
            continue  # a grace period longer than the calendar: nothing is ever missed
        having = (
            channels.c.grace_seconds.is_(None)
            if stored is None
            else channels.c.grace_seconds == stored
        )
        ids = session.execute(
            sa.update(posts)
            .where(
                posts.c.channel_id.in_(sa.select(channels.c.id).where(having)),
                posts.c.status == PostStatus.queued.value,
                # Late against its time, or against its retry's time.
                sa.or_(
                    sa.and_(posts.c.next_attempt_at.is_(None), posts.c.due_at < cutoff),
                    posts.c.next_attempt_at < cutoff,
                ),
                # A post that may already be on the platform is sent again
                # (deduped by key) rather than called missed.
                ~maybe_landed,
            )
            .values(
                status=PostStatus.missed.value,
                last_error=f"not sent within {grace:.0f}s of its time (daemon was down?)",
                updated_at=now,
            )
            .returning(posts.c.id)
        ).scalars()
        missed.extend((i, grace) for i in ids)
    session.commit()
    return missed
