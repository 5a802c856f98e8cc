"""`scheduler explain ID`: why a post goes out when it does, or why it will not.

Built from what is stored (the planner's reason, the post's state and times, the
channel's slots, pause and grace period) and from the same functions the
dispatcher and planner use (the due clause, the slot trigger, expiry).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import sqlalchemy as sa
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.delivery import claims
from scheduler.desk.posts import get_post
from scheduler.planning.expiry import grace_seconds, is_expired
from scheduler.planning.slots import iter_slots, parse_slots
from scheduler.previews.preview import provenance
from scheduler.storage.models import Channel, Post, PostStatus, utcnow
from scheduler.when import show


def on_slot(channel: Channel, when: dt.datetime) -> bool:
    trigger = parse_slots(channel.slots, channel.timezone)
    # The planner's own slot walk, so a slot moved out of a DST gap counts.
    fire = next(iter_slots(trigger, when - dt.timedelta(seconds=1)), None)
    return fire is not None and fire == when.astimezone(dt.UTC)


def explain(
    session: Session, post_id: int, settings: Settings, now: dt.datetime | None = None
) -> dict[str, Any]:
    now = now or utcnow()
    post = get_post(session, post_id)
    channel = session.get(Channel, post.channel_id)
    assert channel is not None
    tz = channel.timezone
    grace = grace_seconds(channel, settings)
    lines: list[str] = []

    # Why this post exists, and why at this time.
    if post.reason:
        lines.append(f"Planned as: {post.reason}.")
    elif post.source_kind == "manual":
        lines.append("Written by hand (`queue add`) for this time.")
    elif post.source_kind == "csv":
        lines.append("Imported from a CSV file with this time.")
    else:
        lines.append(f"Queued from {post.source_kind or 'an unknown source'} (no planner note).")
    if on_slot(channel, post.due_at):
        lines.append(f"{show(post.due_at, tz)} is one of the channel's slots ('{channel.slots}').")
    else:
        lines.append(
            f"{show(post.due_at, tz)} is not one of the channel's slots ('{channel.slots}'): "
            "it was set by hand, by `queue move`, or by a calendar rule."
        )
    src = provenance(session, post)
    if src:
        who = f" by {src['speaker']}" if src.get("speaker") else ""
        lines.append(
            f"Its words come from article {src['article_id']} ({src.get('article') or src['source']}), "
            f"chars {src['start']}-{src['end']}{who}: “{src['sentence']}”"
        )

    # What the dispatcher will do with it.
    status = PostStatus(post.status)
    due = max(post.due_at, post.next_attempt_at or post.due_at)
    verdict: str
    if status == PostStatus.queued:
        if is_expired(post, now):
            verdict = f"It expired at {show(post.expires_at, tz)} and will not be sent."
        elif channel.paused:
            verdict = (
                f"Channel {channel.name} is paused: it waits until `channels resume "
                f"{channel.name}`."
            )
            if post.expires_at:
                verdict += f" It expires at {show(post.expires_at, tz)}."
        elif post.next_attempt_at and post.next_attempt_at > post.due_at:
            verdict = (
                f"Attempt {post.attempts} failed ({post.last_error}); the next try is at "
                f"{show(post.next_attempt_at, tz)} (backoff)."
            )
        elif due <= now:
            late = (now - due).total_seconds()
            verdict = (
                f"It is due now ({late:.0f}s late); a running daemon sends it on its next pass."
            )
            spared = bool(post.attempts) and post.id in claims.may_have_landed(session, [post.id])
            if not spared and late > grace:
                verdict = (
                    f"It is {late / 3600:.1f}h late, beyond the {grace:.0f}s grace period: "
                    "the daemon will mark it missed rather than send it late."
                )
        else:
            verdict = f"A running daemon sends it at {show(due, tz)} ({show(due, 'UTC')})."
            if post.expires_at:
                verdict += (
                    f" If the daemon is down until {show(post.expires_at, tz)}, it is not sent "
                    "at all (expiry)."
                )
            else:
                verdict += (
                    f" If the daemon is down, it still goes out up to {grace:.0f}s late, "
                    "then is marked missed."
                )
        before = session.execute(
            sa.select(sa.func.count())
            .select_from(Post)
            .where(
                Post.channel_id == channel.id,
                Post.status == PostStatus.queued.value,
                Post.due_at < post.due_at,
            )
        ).scalar_one()
        if before:
            verdict += f" {before} queued post(s) of this channel go before it."
    elif status == PostStatus.sent:
        verdict = f"It was sent at {show(post.sent_at, tz)} ({post.remote_url or post.remote_id})."
    elif status == PostStatus.draft:
        verdict = "It is a draft: nothing sends it until it is approved (`scheduler review`)."
    else:
        verdict = f"It is {status.value}: {post.last_error or 'no error recorded'}."
        if status in (PostStatus.failed, PostStatus.cancelled, PostStatus.missed):
            verdict += f" `scheduler queue retry {post.id}` queues it again."
        if status == PostStatus.unknown:
            verdict += " It may have landed; it is never resent blindly."
    lines.append(verdict)
    return {
        "id": post.id,
        "channel": channel.name,
        "status": post.status,
        "due_at": post.due_at.isoformat(),
        "due_local": show(post.due_at, tz),
        "expires_at": post.expires_at.isoformat() if post.expires_at else None,
        "on_slot": on_slot(channel, post.due_at),
        "reason": post.reason,
        "source": src,
        "explanation": lines,
    }
