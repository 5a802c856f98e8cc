"""Review: drafts become queued posts only when a person approves them.

A channel that requires review (its own `--review`, or the database-wide
`review` setting) gets its planned posts as drafts; nothing sends a draft (the
daemon claims only queued posts). Approving queues a draft at its time, or, when
that slot has passed while it waited, at the channel's next free slot, and says
so. Rejecting keeps the post, marked rejected, so planning never proposes it
again (`plan --again` aside). A draft planning *held* (a quote nobody is known
to have said, a fragment) is approved only once a person has edited it.
"""

from __future__ import annotations

import datetime as dt
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.desk.editing import count
from scheduler.desk.posts import get_post, post_dict
from scheduler.errors import PlanningError
from scheduler.planning.held import UNKNOWN_SPEAKER, is_held, what_is_missing
from scheduler.planning.slots import free_slots
from scheduler.storage.models import Channel, Post, PostStatus, utcnow

if TYPE_CHECKING:
    from scheduler.config import Settings
from scheduler.when import show


def draft_ids(session: Session, channel: str | None = None) -> list[int]:
    """The drafts waiting for review, in send order."""
    from scheduler.accounts.channels import get_channel

    stmt = select(Post.id).where(Post.status == PostStatus.draft.value)
    if channel is not None:
        stmt = stmt.where(Post.channel_id == get_channel(session, channel).id)
    return [i for i in session.exec(stmt.order_by(Post.due_at, Post.id)) if i is not None]


def card(session: Session, post_id: int, now: dt.datetime | None = None) -> dict[str, Any]:
    """What a reviewer sees of one post: the text, its counted length against
    the limit, where its words came from, and when it would go out."""
    from scheduler.previews.preview import provenance

    now = now or utcnow()
    post = get_post(session, post_id)
    channel = session.get(Channel, post.channel_id)
    assert channel is not None
    counted = count(post, channel)
    source = provenance(session, post)
    return post_dict(post, channel) | {
        "lengths": counted.lengths,
        "over_limit": not counted.ok,
        "source_detail": source,
        "slot_passed": post.due_at <= now,
        "verbatim": post.verbatim,
        "reason": post.reason,
    }


def _set(session: Session, post: Post, old: PostStatus, **values: Any) -> None:
    # Conditional on the status read, so two reviewers never both decide.
    done = session.execute(
        sa.update(Post)
        .where(Post.id == post.id, Post.status == old.value)
        .values(updated_at=utcnow(), **values)
    )
    if done.rowcount != 1:
        raise PlanningError(f"post {post.id} changed meanwhile; look again with `queue show`")
    session.flush()
    session.refresh(post)


def _draft(session: Session, post_id: int, verb: str) -> tuple[Post, Channel]:
    post = get_post(session, post_id)
    if post.status != PostStatus.draft.value:
        raise PlanningError(f"post {post_id} is {post.status}; only drafts are {verb}")
    channel = session.get(Channel, post.channel_id)
    assert channel is not None
    return post, channel


def approve(
    session: Session,
    post_id: int,
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> dict[str, Any]:
    """Queue a draft. A slot already passed gives way to the channel's next free
    slot (`moved_from` says which it was). Refused when the post is over its
    platform's limit, or would go out after its expiry. With `settings`, the
    lifecycle webhook hears of it (in this transaction's outbox)."""
    now = now or utcnow()
    post, channel = _draft(session, post_id, "approved")
    if is_held(post.reason):
        assert post.reason is not None
        raise PlanningError(
            f"post {post_id} is held for review ({what_is_missing(post.reason)}) and cannot be "
            f"approved until edited: `queue edit {post_id}`, or reject it"
        )
    if UNKNOWN_SPEAKER in post.text:
        raise PlanningError(
            f"post {post_id} still says {UNKNOWN_SPEAKER}: put the speaker's name in with "
            f"`queue edit {post_id}`, or reject it"
        )
    counted = count(post, channel)
    if not counted.ok:
        m = counted.worst()
        raise PlanningError(
            f"post {post_id} is {m['count']} {m['unit']}, over {channel.platform}'s limit of "
            f"{m['limit']}; shorten it with `queue edit {post_id}` before approving"
        )
    due, moved_from = post.due_at, None
    if due <= now:
        slots = free_slots(session, channel, now, 1)
        if not slots:
            raise PlanningError(f"channel {channel.name} has no free slot left for post {post_id}")
        due, moved_from = slots[0], post.due_at
    if post.expires_at is not None and due >= post.expires_at:
        raise PlanningError(
            f"post {post_id} expired at {show(post.expires_at, channel.timezone)}, before it "
            "could go out; reject it"
        )
    _set(session, post, PostStatus.draft, status=PostStatus.queued.value, due_at=due)
    if settings is not None:
        from scheduler.delivery import notify

        notify.enqueue(
            session, settings, [notify.Notice("approved", post_id, channel.name, channel.id)]
        )
    due_local = show(due, channel.timezone)
    was = show(moved_from, channel.timezone) if moved_from else None
    return {
        "id": post_id,
        "channel": channel.name,
        "due_at": due.isoformat(),
        "due_local": due_local,
        "moved_from_local": was,
        "message": (
            f"post {post_id} approved; its slot {was} had passed, so it goes at "
            f"{channel.name}'s next free slot, {due_local}"
            if was
            else f"post {post_id} approved for {due_local}"
        ),
    }


def reject(session: Session, post_id: int) -> dict[str, Any]:
    """Mark a draft rejected: kept, never sent, never planned again."""
    post, _ = _draft(session, post_id, "rejected")
    _set(session, post, PostStatus.draft, status=PostStatus.rejected.value)
    return {"id": post_id, "status": post.status}


def approve_posts(
    session: Session,
    post_ids: list[int],
    now: dt.datetime | None = None,
    settings: Settings | None = None,
) -> list[dict[str, Any]]:
    """Approve each, in the order given; one refusal approves none (the caller's
    transaction rolls back)."""
    return [approve(session, i, now, settings) for i in post_ids]


def reject_posts(session: Session, post_ids: list[int]) -> list[dict[str, Any]]:
    return [reject(session, i) for i in post_ids]
