"""Queue operations on single posts: add, show, move, cancel, retry, and the queue in pages."""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.errors import NotFoundError, PlanningError
from scheduler.planning.expiry import is_expired
from scheduler.storage.models import (
    PENDING,
    Attempt,
    Channel,
    Post,
    PostStatus,
    can_move,
    in_id_range,
    utcnow,
)
from scheduler.when import show


def get_post(session: Session, post_id: int) -> Post:
    post = session.get(Post, post_id) if in_id_range(post_id) else None
    if post is None:
        raise NotFoundError(f"no post with id {post_id}")
    return post


def add_post(session: Session, channel: Channel, text: str, due_at: dt.datetime) -> Post:
    # Here, not at the top: `queue list` and the other listings must not pay for
    # the planner's templates, media and wording rules (0.2 s of their start).
    from scheduler.planning.plan import new_post

    text = text.strip()
    if not text:
        raise PlanningError("a post needs some text")
    post = new_post(channel, text, due_at, kind="manual")
    session.add(post)
    session.flush()
    return post


def move_post(session: Session, post: Post, due_at: dt.datetime) -> Post:
    if PostStatus(post.status) not in PENDING:
        raise PlanningError(f"post {post.id} is {post.status}; only queued or draft posts move")
    return _update(session, post, PENDING, due_at=due_at, next_attempt_at=None)


def cancel_post(session: Session, post: Post) -> Post:
    if not can_move(post.status, PostStatus.cancelled):
        raise PlanningError(f"post {post.id} is {post.status} and cannot be cancelled")
    return _update(session, post, {PostStatus(post.status)}, status=PostStatus.cancelled.value)


def retry_post(session: Session, post: Post, now: dt.datetime | None = None) -> Post:
    status = PostStatus(post.status)
    if status not in (
        PostStatus.failed,
        PostStatus.cancelled,
        PostStatus.missed,
        PostStatus.unknown,
        PostStatus.held,
    ):
        raise PlanningError(
            f"post {post.id} is {post.status}; only failed, cancelled, missed, unknown "
            "or held posts can be retried"
        )
    now = now or utcnow()
    if is_expired(post, now):
        chan = session.get(Channel, post.channel_id)
        zone = chan.timezone if chan else "UTC"
        raise PlanningError(
            f"post {post.id} expired at {show(post.expires_at, zone)}; old news is not sent "
            "late (queue a new post with `queue add` instead)"
        )
    # A held post a person retries is released: it goes as it is, the page unread.
    released = {"watch_released": True} if status is PostStatus.held else {}
    return _update(
        session,
        post,
        {status},
        status=PostStatus.queued.value,
        due_at=max(post.due_at, now),
        next_attempt_at=None,
        last_error=None,
        **released,
    )


def _update(session: Session, post: Post, allowed: Any, **values: Any) -> Post:
    """Conditional on the status we checked, so a daemon claiming the post at the
    same moment wins cleanly instead of being overwritten."""
    values["updated_at"] = utcnow()
    result = session.execute(
        sa.update(Post)
        .where(Post.id == post.id, Post.status.in_([PostStatus(s).value for s in allowed]))
        .values(**values)
    )
    if result.rowcount != 1:
        raise PlanningError(f"post {post.id} changed meanwhile; look again with `queue show`")
    session.flush()
    session.refresh(post)
    return post


def attempts_of(session: Session, post_id: int) -> list[Attempt]:
    return list(
        session.exec(select(Attempt).where(Attempt.post_id == post_id).order_by(Attempt.id))
    )


def post_dict(post: Post, channel: Channel) -> dict[str, Any]:
    return {
        "id": post.id,
        "channel": channel.name,
        "status": post.status,
        "due_at": post.due_at.isoformat(),
        "due_local": show(post.due_at, channel.timezone),
        "text": post.text,
        "template": post.template,
        "source": f"{post.source_kind}:{post.source_id}" if post.source_kind else None,
        "attempts": post.attempts,
        "next_attempt_at": post.next_attempt_at.isoformat() if post.next_attempt_at else None,
        "next_attempt_local": show(post.next_attempt_at, channel.timezone),
        "last_error": post.last_error,
        "remote_id": post.remote_id,
        "remote_url": post.remote_url,
        "idempotency_key": post.idempotency_key,
        "media": [
            {k: m.get(k) for k in ("path", "alt", "mime", "width", "height", "sha256")}
            for m in post.media or []
        ],
    }


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


def planned_dict(post: Post, channel: Channel) -> dict[str, Any]:
    """`post_dict` with why and until when the post is planned (`plan`, `queue import`)."""
    return post_dict(post, channel) | {
        "expires_at": post.expires_at.isoformat() if post.expires_at else None,
        "reason": post.reason,
    }


def parse_cursor(value: str) -> tuple[dt.datetime, int]:
    """The `due_at/id` cursor that `queue_page` hands out for the next page."""
    when, _, ident = value.rpartition("/")
    try:
        return dt.datetime.fromisoformat(when), int(ident)
    except ValueError:
        raise PlanningError(f"bad cursor {value!r}; use the one `queue list` printed") from None


def queue_page(
    session: Session,
    *,
    status: str | None = None,
    channel: str | None = None,
    after: tuple[dt.datetime, int] | None = None,
    limit: int = 50,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of the queue as plain data, and the cursor of the next page (None: last)."""
    from scheduler.accounts.channels import get_channel

    channel_id = get_channel(session, channel).id if channel else None
    found = page_posts(session, status=status, channel_id=channel_id, after=after, limit=limit)
    by_id = {c.id: c for c in session.exec(select(Channel))}
    rows = [post_dict(p, by_id[p.channel_id]) for p in found]
    last = found[-1] if len(found) == limit else None
    return rows, (f"{last.due_at.isoformat()}/{last.id}" if last else None)


def add_by_hand(
    session: Session,
    channel: str,
    text: str,
    at: str | None,
    media: list[str] | None = None,
    alts: list[str] | None = None,
) -> dict[str, Any]:
    """Queue a hand-written post; `at` is read in the channel's zone, and None
    takes the channel's next free slot. `media` files are stored and checked
    for the channel first (`alts` by position); the warnings come back in
    `warnings`."""
    from scheduler.accounts.channels import get_channel, publisher_for
    from scheduler.media.attach import attach_files
    from scheduler.planning.slots import free_slots
    from scheduler.when import parse_when

    chan = get_channel(session, channel)
    if at is None:
        slots = free_slots(session, chan, utcnow(), 1)
        if not slots:
            raise PlanningError(f"channel {channel} has no free slot in the next five years")
        due = slots[0]
    else:
        due = parse_when(at, chan.timezone)
    attached, warnings = (
        attach_files(session, publisher_for(chan, reveal=False), media, alts or [])
        if media
        else ([], [])
    )
    post = add_post(session, chan, text, due)
    if attached:
        post.media = attached
        session.add(post)
        session.flush()
    data = post_dict(post, chan)
    data["warnings"] = warnings
    late = (utcnow() - due).total_seconds()
    # A time already past is queued (it goes out at once), but said: a typo in
    # the date should not pass unseen. Past the grace period it will be missed.
    data["late_seconds"] = round(late) if late > 60 else 0
    return data


def show_post(session: Session, post_id: int) -> dict[str, Any]:
    """One post with where its words came from and its attempts."""
    from scheduler.previews.preview import provenance

    post = get_post(session, post_id)
    chan = session.get(Channel, post.channel_id)
    assert chan is not None
    data = post_dict(post, chan)
    data["reason"] = post.reason
    data["source_detail"] = provenance(session, post)
    data["attempts_detail"] = [
        {
            "started_at": a.started_at.isoformat(),
            "finished_at": a.finished_at.isoformat() if a.finished_at else None,
            "outcome": a.outcome,
            "status_code": a.status_code,
            "error": a.error,
            "owner": a.owner,
        }
        for a in attempts_of(session, post_id)
    ]
    return data


def move_to(session: Session, post_id: int, at: str) -> dict[str, Any]:
    """Give a pending post a new time; `at` is read in its channel's zone."""
    from scheduler.when import parse_when

    post = get_post(session, post_id)
    chan = session.get(Channel, post.channel_id)
    assert chan is not None
    post = move_post(session, post, parse_when(at, chan.timezone))
    return {
        "id": post_id,
        "due_at": post.due_at.isoformat(),
        "due_local": show(post.due_at, chan.timezone),
    }


def cancel_posts(session: Session, post_ids: list[int]) -> None:
    for post_id in post_ids:
        cancel_post(session, get_post(session, post_id))


def retry_posts(session: Session, post_ids: list[int]) -> None:
    for post_id in post_ids:
        retry_post(session, get_post(session, post_id))
