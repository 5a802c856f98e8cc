"""Turning stored quotes and milestones into queued posts over a channel's
posting slots (`planning.slots`), one post per source, template and channel.
On a channel that requires review the posts are drafts until a person approves
them; a post a person cancelled or rejected is never planned again for the same
source, template and channel unless asked (`again`).

What cannot be posted as it stands is not queued, and the result says why: a
post that would already be expired at its slot ("Coming up" for a past event)
is not planned at all; a quote with no known speaker, or a fragment of the
narrator's sentence, is planned as a draft *held* for a person (`HELD`, in the
post's `reason`), which cannot be approved until someone has edited it
(`desk.review`). Each post is
rendered to fit its channel (`compose.fitting`), and a quote interrupted by its
attribution is planned once, whole (`planning.whole_quotes`).
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jinja2
from sqlmodel import Session, select

from scheduler.compose import load
from scheduler.compose.context import lead_in, leans_on_context, without_lead_in
from scheduler.compose.fitting import render_to_fit
from scheduler.compose.hashtags import subject_hashtags
from scheduler.compose.options import read as read_post_options
from scheduler.compose.wording import names_date, standalone, without_leading_date
from scheduler.errors import NotFoundError, PlanningError
from scheduler.media.attach import cards_on, quote_card
from scheduler.media.store import card_data
from scheduler.planning.held import HELD, UNKNOWN_SPEAKER, held_because
from scheduler.planning.slots import free_slots
from scheduler.planning.whole_quotes import WholeQuote, whole_quotes
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
    #: Why a person must finish the post before it may go (None: it may go as it is).
    held: str | None = None


@dataclass
class PlanResult:
    created: list[Post] = field(default_factory=list)
    skipped: int = 0
    #: Of `skipped`: sources whose post a person cancelled or rejected.
    removed: int = 0
    over_limit: list[int] = field(default_factory=list)
    #: Why something was not planned, in words (recurring planners).
    notes: list[str] = field(default_factory=list)
    #: Posts not planned because they would be expired at their slot.
    expired: int = 0
    #: Of `created`: the posts held for a person to finish (`HELD`).
    held: int = 0


def article_tags(session: Session, article: Article) -> list[str]:
    """Hashtags from the article's subject: its speakers and milestone people."""
    people = list(session.exec(select(Quote.speaker).where(Quote.article_id == article.id)))
    people += list(session.exec(select(Milestone.person).where(Milestone.article_id == article.id)))
    return subject_hashtags(article.text, people)


def article_context(article: Article, hashtags: Sequence[str] = ()) -> dict[str, Any]:
    return {
        "id": article.id,
        "title": article.title or "",
        "url": article.url,
        "source": article.source,
        "published": article.published,
        "hashtags": list(hashtags),
    }


def channel_context(channel: Channel) -> dict[str, Any]:
    """The channel as templates see it: its name and what it asks of post text."""
    wanted = read_post_options(channel.options)
    return {
        "name": channel.name,
        "platform": channel.platform,
        "credit": wanted.credit,
        "hashtags": wanted.hashtags,
        "link": wanted.link,
        "headline": wanted.headline,
    }


def _closed(words: str) -> str:
    """A quote ends as a sentence: the comma the attribution took ("...at
    home," she added) becomes the full stop it stands for."""
    words = words.strip()
    if words[-1:].isalnum():
        return words + "."
    if words[-1:] in ",;":
        return words[:-1] + "."
    return words


def quote_context(q: Quote | WholeQuote) -> dict[str, Any]:
    """A quote for templates; a whole quote's text is its parts joined."""
    whole = q if isinstance(q, WholeQuote) else WholeQuote((q,), q.text)
    return {
        "text": _closed(whole.text),
        # Never posted as if someone had said it: the draft shows the gap.
        "speaker": whole.speaker or UNKNOWN_SPEAKER,
        "cue": whole.cue,
        "id": whole.first.id,
        "parts": len(whole.parts),
    }


def milestone_context(m: Milestone) -> dict[str, Any]:
    """A milestone for templates: `text` is its sentence standing alone (no
    leading "Indeed," or "However,"), `rest` the same without a date it opens
    with, and `states_date` / `rest_states_date` whether each names the date.
    The text is the milestone's wording (its sentence made to stand alone at
    ingest), or the sentence itself on rows that have none."""
    text = standalone(m.wording or m.text)
    rest = without_leading_date(text)
    # A planned date named by its month and day needs no year beside it.
    soon = m.tense == "planned" and m.precision == "day"
    return {
        "text": text,
        "sentence": m.text,
        "rest": rest,
        "states_date": names_date(text, m.date, day=soon),
        "rest_states_date": names_date(rest, m.date, day=soon),
        "date": m.date,
        "precision": m.precision,
        "tense": m.tense,
        "person": m.person,
        "id": m.id,
    }


def postable(m: Milestone) -> bool:
    """Whether a post may be made from `m`: not when its sentence could not be
    made to stand alone (its wording is empty)."""
    return m.wording != ""


def sources_for(
    session: Session,
    article: Article,
    kinds: Sequence[str],
    templates: dict[str, str],
    result: PlanResult | None = None,
) -> list[Source]:
    sources: list[Source] = []
    base = {"article": article_context(article, article_tags(session, article))}
    if "quote" in kinds:
        quotes = list(session.exec(select(Quote).where(Quote.article_id == article.id)))
        for whole in whole_quotes(quotes, article.text):
            held = held_because(whole)
            # The headline leads, so the quote reads on its own in a feed.
            quote = quote_context(whole) | {
                "lead_in": lead_in(article.title),
                "leans_on_context": leans_on_context(whole.text),
            }
            ctx = dict(base, quote=quote)
            sources.append(Source("quote", whole.first.id or 0, templates["quote"], ctx, held))
    if "milestone" in kinds:
        for m in session.exec(
            select(Milestone).where(Milestone.article_id == article.id).order_by(Milestone.start)
        ):
            if not postable(m):
                continue
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


def skip_because(statuses: set[str], again: bool = False) -> str | None:
    """Why a source (or an imported row) with posts of these statuses gets no
    new one: "live" while one of them is not cancelled or rejected by hand,
    "removed" when every one was and `again` was not asked; None: make it."""
    if statuses - REMOVED_BY_HAND:
        return "live"
    if statuses and not again:
        return "removed"
    return None


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
    fits: Callable[[str], bool] | None = None,
    thread: bool = False,
    expires: Callable[[Source], dt.datetime | None] | None = None,
    again: bool = False,
    review: bool | None = None,
    publisher: Any = None,
) -> PlanResult:
    """Render each source through its template and queue it in the next free slot
    (a draft when the channel requires review; `review` is the database-wide
    default, read from the settings when None). Sources already planned for this
    channel are skipped, so planning twice is safe; so are sources whose post a
    person cancelled or rejected, unless `again`. Everything renders before
    anything is written: one broken template, no posts.

    `fits` is the channel's length rule: each post is shortened at sentence or
    clause boundaries until it passes (unless `thread`: then it stays whole and
    goes out as a thread). `expires` says when a source's post stops being
    true; a post that would be expired at its slot is not planned and takes no
    slot."""
    article = session.get(Article, article_id)
    if article is None:
        raise NotFoundError(f"no article with id {article_id}")
    names = {"quote": "quote", "milestone": "milestone", "link": "link"} | (templates or {})
    for kind in kinds:
        load(env, names[kind])
    result = PlanResult()
    start = start or utcnow()
    todo: list[tuple[Source, str, bool, dt.datetime | None, list[dict[str, Any]] | None]] = []
    chan = channel_context(channel)
    cards = publisher is not None and cards_on(publisher)
    folders = [Path(p) for p in getattr(env.loader, "searchpath", [])]
    for source in sources_for(session, article, kinds, names, result):
        skip = skip_because(planned_statuses(session, channel, source), again)
        if skip is not None:
            result.skipped += 1
            result.removed += skip == "removed"
            continue
        ends = expires(source) if expires is not None else None
        if ends is not None and ends <= start:
            result.expired += 1
            continue
        media = None
        # A held draft has no name to put on its card: it gets one when a
        # person has finished it (`desk.editing.redrawn_card`).
        if cards and source.kind == "quote" and source.held is None:
            quote = session.get(Quote, source.id)
            assert quote is not None
            # A whole quote's card shows all its parts, as the post does.
            words = source.context.get("quote", {}).get("text")
            media = [quote_card(session, publisher, folders, article, quote, text=words)]
        base = source.context
        if not chan["headline"] and "quote" in base:
            # The channel's link card shows the headline: the post need not.
            base = dict(base, quote=without_lead_in(base["quote"]))
        context = dict(
            base,
            channel=chan,
            media=[{k: m[k] for k in ("alt", "mime", "width", "height")} for m in media or []],
        )
        fitted = render_to_fit(env, source.template, context, fits, thread=thread)
        quote = context.get("quote")
        if fitted.shortened and quote and quote.get("lead_in") and not quote["leans_on_context"]:
            # The headline is worth a line, not the quote's words: a quote that
            # stands alone drops it rather than be shortened for it.
            bare = dict(context, quote=without_lead_in(quote))
            fitted = render_to_fit(env, source.template, bare, fits, thread=thread)
        todo.append((source, fitted.text, fitted.fits, ends, media))
        if limit is not None and len(todo) >= limit:
            break
    # Held drafts may never go: they take the slots after the posts that can.
    todo.sort(key=lambda item: item[0].held is not None)
    slots = free_slots(session, channel, start, len(todo))
    if len(slots) < len(todo):
        raise PlanningError(f"channel {channel.name} has fewer free slots than posts to plan")
    draft = needs_review(channel, review) if todo else False
    free = iter(slots)
    for source, text, ok, ends, media in todo:
        when = next(free)
        if ends is not None and when >= ends:
            # Expired before its slot: it takes no slot, the next post does.
            result.expired += 1
            free = iter([when, *free])
            continue
        post = new_post(
            channel,
            text,
            when,
            template=source.template,
            kind=source.kind,
            source_id=source.id,
            draft=draft or source.held is not None,
        )
        if source.held is not None:
            post.reason = HELD + source.held
            result.held += 1
        post.media = media
        post.article_id = article.id
        post.link = article.url
        if article.url and article.title:
            post.link_card = card_data(
                session,
                article.url,
                article.title,
                article.description or "",
                article.image_sha256,
            )
        session.add(post)
        result.created.append(post)
        if not ok:
            result.over_limit.append(len(result.created) - 1)
    session.flush()
    if result.expired:
        result.notes.append(f"{result.expired} skipped: expired (the event is over)")
    if result.held:
        result.notes.append(
            f"{result.held} held for review: a draft that a person must finish before it "
            "may go (a quote nobody is known to have said, a fragment of a sentence); "
            "`scheduler review` or `queue list --status draft` shows them"
        )
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
