"""Turning stored quotes and milestones into queued posts over a channel's
posting slots (`planning.slots`), one post per source, template and channel.
On a channel that requires review the posts are drafts until a person approves
them; a post a person cancelled or rejected is never planned again for the same
source, template and channel unless asked (`again`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from sqlmodel import Session, select

from scheduler.compose import load, render
from scheduler.errors import NotFoundError, PlanningError
from scheduler.planning.slots import free_slots
from scheduler.storage.models import (
    REMOVED_BY_HAND,
    Article,
    Channel,
    Milestone,
    Post,
    PostStatus,
    Quote,
    utcnow,
)


@dataclass(frozen=True)
class Source:
    kind: str  # quote | milestone | link
    id: int
    template: str
    context: dict[str, Any]


@dataclass
class PlanResult:
    created: list[Post] = field(default_factory=list)
    skipped: int = 0
    #: Of `skipped`: sources whose post a person cancelled or rejected.
    removed: int = 0
    over_limit: list[int] = field(default_factory=list)
    #: Why something was not planned, in words (recurring planners).
    notes: list[str] = field(default_factory=list)


def article_context(article: Article) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title or "",
        "url": article.url,
        "source": article.source,
        "published": article.published,
    }


def quote_context(q: Quote) -> dict[str, Any]:
    return {"text": q.text, "speaker": q.speaker, "cue": q.cue, "id": q.id}


def milestone_context(m: Milestone) -> dict[str, Any]:
    return {
        "text": m.text,
        "date": m.date,
        "precision": m.precision,
        "tense": m.tense,
        "person": m.person,
        "id": m.id,
    }


def sources_for(
    session: Session, article: Article, kinds: Sequence[str], templates: dict[str, str]
) -> list[Source]:
    sources: list[Source] = []
    base = {"article": article_context(article)}
    if "quote" in kinds:
        for q in session.exec(
            select(Quote).where(Quote.article_id == article.id).order_by(Quote.start)
        ):
            if not q.speaker:
                continue  # a quote nobody can be credited for is not posted
            ctx = dict(base, quote=quote_context(q))
            sources.append(Source("quote", q.id or 0, templates["quote"], ctx))
    if "milestone" in kinds:
        for m in session.exec(
            select(Milestone).where(Milestone.article_id == article.id).order_by(Milestone.start)
        ):
            ctx = dict(base, milestone=milestone_context(m))
            sources.append(Source("milestone", m.id or 0, templates["milestone"], ctx))
    if "link" in kinds:
        sources.append(Source("link", article.id or 0, templates["link"], dict(base)))
    return sources


def needs_review(channel: Channel, default: bool | None = None) -> bool:
    """Whether posts planned for the channel start as drafts: the channel's own
    choice, else `default`, else the database-wide `review` setting."""
    if channel.review is not None:
        return channel.review
    if default is not None:
        return default
    from scheduler.config import load_settings

    return load_settings().review


def planned_statuses(session: Session, channel: Channel, source: Source) -> set[str]:
    """The statuses of the channel's posts already made from this source and template."""
    return set(
        session.exec(
            select(Post.status).where(
                Post.channel_id == channel.id,
                Post.source_kind == source.kind,
                Post.source_id == source.id,
                Post.template == source.template,
            )
        )
    )


def already_planned(session: Session, channel: Channel, source: Source) -> bool:
    """Whether planning must skip the source: it has a post, whatever became of it
    (one a person removed stays removed)."""
    return bool(planned_statuses(session, channel, source))


def plan_article(
    session: Session,
    env: jinja2.Environment,
    article_id: int,
    channel: Channel,
    *,
    kinds: Sequence[str] = ("quote", "milestone"),
    templates: dict[str, str] | None = None,
    start: dt.datetime | None = None,
    limit: int | None = None,
    fits: Any = None,
    again: bool = False,
    review: bool | None = None,
) -> PlanResult:
    """Render each source through its template and queue it in the next free slot
    (a draft when the channel requires review; `review` is the database-wide
    default, read from the settings when None). Sources already planned for this
    channel are skipped, so planning twice is safe; so are sources whose post a
    person cancelled or rejected, unless `again`. Everything renders before
    anything is written: one broken template, no posts."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFoundError(f"no article with id {article_id}")
    names = {"quote": "quote", "milestone": "milestone", "link": "link"} | (templates or {})
    for kind in kinds:
        load(env, names[kind])
    result = PlanResult()
    todo: list[tuple[Source, str]] = []
    for source in sources_for(session, article, kinds, names):
        statuses = planned_statuses(session, channel, source)
        live = statuses - {s.value for s in REMOVED_BY_HAND}
        if live or (statuses and not again):
            result.skipped += 1
            result.removed += 0 if live else 1
            continue
        context = dict(source.context, channel={"name": channel.name, "platform": channel.platform})
        todo.append((source, render(env, source.template, context)))
        if limit is not None and len(todo) >= limit:
            break
    start = start or utcnow()
    slots = free_slots(session, channel, start, len(todo))
    if len(slots) < len(todo):
        raise PlanningError(f"channel {channel.name} has fewer free slots than posts to plan")
    draft = needs_review(channel, review) if todo else False
    for (source, text), when in zip(todo, slots, strict=True):
        post = new_post(
            channel,
            text,
            when,
            template=source.template,
            kind=source.kind,
            source_id=source.id,
            draft=draft,
        )
        post.article_id = article.id
        post.link = article.url
        session.add(post)
        result.created.append(post)
        if fits is not None and not fits(text):
            result.over_limit.append(len(result.created) - 1)
    session.flush()
    return result


def new_post(
    channel: Channel,
    text: str,
    due_at: dt.datetime,
    *,
    template: str | None = None,
    kind: str | None = None,
    source_id: int | None = None,
    draft: bool = False,
) -> Post:
    """A new post for the channel, queued (or a draft awaiting review), with a fresh key."""
    assert channel.id is not None
    if "\x00" in text:
        # PostgreSQL refuses NUL in text and SQLite would keep it: one rule
        # for both, and no platform takes it either.
        raise PlanningError("post text contains a NUL character (U+0000); remove it")
    return Post(
        channel_id=channel.id,
        status=(PostStatus.draft if draft else PostStatus.queued).value,
        text=text,
        template=template,
        source_kind=kind,
        source_id=source_id,
        due_at=due_at,
        idempotency_key=uuid.uuid4().hex,
    )
