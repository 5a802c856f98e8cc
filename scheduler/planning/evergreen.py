"""Evergreen recycling: a channel reposts quotes of one category on a cadence.

At each cadence slot (an APScheduler trigger, like posting slots) the planner picks
the quote of the category that this channel has gone longest without, never one
posted to the channel within the cooldown before or after the slot, and never the
quote of the channel's neighbouring post (so the same quote is never sent twice in
a row, even when the cooldown is 0 or the category has a single quote). A slot
with no eligible quote stays empty and says why.
"""

from __future__ import annotations

import datetime as dt

import jinja2
import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.compose import render
from scheduler.planning.collisions import minute, taken_minutes
from scheduler.planning.plan import (
    PlanResult,
    article_context,
    article_tags,
    channel_context,
    needs_review,
    new_post,
    quote_context,
)
from scheduler.planning.rules import EvergreenRule
from scheduler.planning.slots import iter_slots, parse_slots
from scheduler.planning.whole_quotes import whole_quote_of
from scheduler.storage.models import Article, Channel, Post, PostStatus, Quote
from scheduler.when import show

LIVE = sa.and_(
    Post.status != PostStatus.cancelled.value,
    Post.status != PostStatus.failed.value,
    Post.status != PostStatus.missed.value,
)


def quote_history(session: Session, channel: Channel, quote_ids: list[int]) -> list[Post]:
    """Every live post of these quotes on the channel, in time order."""
    if not quote_ids:
        return []
    return list(
        session.exec(
            select(Post)
            .where(
                Post.channel_id == channel.id,
                Post.source_kind == "quote",
                Post.source_id.in_(quote_ids),
                LIVE,
            )
            .order_by(Post.due_at, Post.id)
        )
    )


def neighbours(session: Session, channel: Channel, when: dt.datetime) -> set[int]:
    """Quotes of the channel's posts just before and just after `when`."""
    found = set()
    for cmp, order in ((Post.due_at < when, Post.due_at.desc()), (Post.due_at > when, Post.due_at)):
        post = session.exec(
            select(Post).where(Post.channel_id == channel.id, cmp, LIVE).order_by(order).limit(1)
        ).first()
        if post is not None and post.source_kind == "quote" and post.source_id is not None:
            found.add(post.source_id)
    return found


def pick(
    session: Session, channel: Channel, rule: EvergreenRule, when: dt.datetime
) -> tuple[Quote | None, str]:
    """The quote for the slot at `when`, and the reason in words."""
    quotes = list(
        session.exec(
            select(Quote)
            .where(Quote.category == rule.category, Quote.speaker.is_not(None))
            .order_by(Quote.id)
        )
    )
    # The later part of a quote interrupted by its attribution goes out only
    # inside the whole quote.
    quotes = [q for q in quotes if whole_quote_of(session, q) is not None]
    if not quotes:
        return None, f"no quotes with category {rule.category!r} (tag some with `quotes tag`)"
    cooldown = dt.timedelta(days=rule.cooldown_days)
    history = quote_history(session, channel, [q.id for q in quotes if q.id is not None])
    last_used: dict[int, dt.datetime] = {}
    blocked: set[int] = set()
    for post in history:
        assert post.source_id is not None
        if abs(post.due_at - when) < cooldown:
            blocked.add(post.source_id)
        if post.due_at < when:
            last_used[post.source_id] = post.due_at
    adjacent = neighbours(session, channel, when)
    eligible = [q for q in quotes if q.id not in blocked and q.id not in adjacent]
    if not eligible:
        return None, (
            f"all {len(quotes)} {rule.category!r} quotes were posted within the "
            f"{rule.cooldown_days:g}-day cooldown or are the neighbouring post"
        )
    never = dt.datetime.min.replace(tzinfo=dt.UTC)
    choice = min(eligible, key=lambda q: (last_used.get(q.id or 0, never), q.id or 0))
    if choice.id in last_used:
        why = f"last posted here {show(last_used[choice.id or 0], channel.timezone)}"
    else:
        why = "never posted here before"
    return choice, (
        f"evergreen {rule.category!r} on '{rule.slots}': quote {choice.id} {why}; "
        f"least recently used of {len(eligible)} eligible "
        f"(cooldown {rule.cooldown_days:g} days, never twice in a row)"
    )


def plan_evergreen(
    session: Session,
    env: jinja2.Environment,
    channel: Channel,
    rule: EvergreenRule,
    start: dt.datetime,
    until: dt.datetime,
) -> PlanResult:
    result = PlanResult()
    planned = set(
        session.exec(
            select(Post.due_at).where(
                Post.channel_id == channel.id,
                Post.template == rule.template,
                Post.source_kind == "quote",
                # A slot whose post a person cancelled or rejected stays empty:
                # the daemon plans every hour and must not bring it back.
                Post.due_at >= start,
            )
        )
    )
    draft = needs_review(channel)
    others = taken_minutes(session, channel, start)
    for when in iter_slots(parse_slots(rule.slots, channel.timezone), start):
        if when > until:
            break
        if when in planned:
            result.skipped += 1
            continue
        if minute(when) in others:
            # One post per minute per channel: the cadence skips this slot.
            result.notes.append(
                f"{channel.name} {show(when, channel.timezone)}: another post holds this "
                "minute; no evergreen post"
            )
            continue
        quote, reason = pick(session, channel, rule, when)
        if quote is None:
            result.notes.append(f"{channel.name} {show(when, channel.timezone)}: {reason}")
            continue
        article = session.get(Article, quote.article_id)
        assert article is not None
        context = {
            "quote": quote_context(whole_quote_of(session, quote) or quote),
            "article": article_context(article, article_tags(session, article)),
            "channel": channel_context(channel),
        }
        text = render(env, rule.template, context)
        post = new_post(
            channel,
            text,
            when,
            template=rule.template,
            kind="quote",
            source_id=quote.id,
            draft=draft,
        )
        post.article_id = article.id
        post.link = article.url
        post.reason = reason
        session.add(post)
        session.flush()  # the next pick must see this one
        result.created.append(post)
    return result
