"""Dry-run previews: for each post, the text (and its thread parts), its length
counted the platform's way, hashtags, link, local send time, expiry, where its
words came from, and the exact requests the adapter would send (secrets redacted).

The requests come from the adapter's own `build_requests` on the same
`OutgoingPost` the dispatcher hands it, so what the preview shows is what goes out.
Rendered for the terminal by `render.py` and as a page by `preview_html.py`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import regex
from sqlmodel import Session, select

from scheduler.accounts.channels import get_channel, publisher_for
from scheduler.compose.length import urls
from scheduler.delivery.outgoing import outgoing
from scheduler.errors import SchedulerError
from scheduler.ingest.articles import sentence_around
from scheduler.planning.expiry import is_expired
from scheduler.planning.whole_quotes import whole_quote_of
from scheduler.storage.models import Article, Channel, Milestone, Post, PostStatus, Quote, utcnow
from scheduler.when import local, parse_when, show

HASHTAG = regex.compile(r"(?<![\p{L}\p{N}_&])#[\p{L}\p{N}_]*\p{L}[\p{L}\p{N}_]*")


def hashtags(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0) for m in HASHTAG.finditer(text)))


@dataclass
class PostPreview:
    id: int
    channel: str
    platform: str
    status: str
    due_local: str
    due_utc: str
    text: str
    lengths: list[dict[str, Any]]
    over_limit: bool
    timezone: str = "UTC"
    day_local: str = ""
    #: The text of each part as the adapter will send it (one for a plain post).
    parts: list[str] = field(default_factory=list)
    hashtags: list[str] = field(default_factory=list)
    link: str | None = None
    template: str | None = None
    kind: str | None = None
    reason: str | None = None
    expires_at: str | None = None
    expires_local: str | None = None
    #: True when the post would not go out any more at the time of the preview.
    expired: bool = False
    requests: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def preview_posts(
    session: Session,
    ids: Sequence[int] = (),
    *,
    limit: int = 50,
    channel: str | None = None,
    until: dt.datetime | None = None,
) -> list[PostPreview]:
    """The posts with these ids, or else the queued ones in send order (optionally
    of one channel, and due by `until`)."""
    stmt = select(Post, Channel).join(Channel, Channel.id == Post.channel_id)
    if ids:
        stmt = stmt.where(Post.id.in_(list(ids)))
    else:
        stmt = stmt.where(Post.status == PostStatus.queued.value)
    if channel is not None:
        stmt = stmt.where(Channel.name == channel)
    if until is not None:
        stmt = stmt.where(Post.due_at <= until)
    rows = session.exec(stmt.order_by(Post.due_at, Post.id).limit(limit if not ids else None)).all()
    return [preview_one(session, post, channel) for post, channel in rows]


def preview_queue(
    session: Session,
    ids: Sequence[int] = (),
    *,
    limit: int = 50,
    channel: str | None = None,
    until: str | None = None,
) -> list[PostPreview]:
    """`preview_posts` for `scheduler preview`: `until` is read in the channel's
    zone (UTC without a channel), and an id that names no post is an error."""
    zone = get_channel(session, channel).timezone if channel is not None else "UTC"
    items = preview_posts(
        session, ids, limit=limit, channel=channel, until=parse_when(until, zone) if until else None
    )
    missing = set(ids) - {i.id for i in items}
    if missing:
        raise SchedulerError(f"no post with id {', '.join(map(str, sorted(missing)))}")
    return items


def preview_one(
    session: Session, post: Post, channel: Channel, now: dt.datetime | None = None
) -> PostPreview:
    assert post.id is not None
    found = urls(post.text)
    item = PostPreview(
        id=post.id,
        channel=channel.name,
        platform=channel.platform,
        status=post.status,
        due_local=show(post.due_at, channel.timezone),
        due_utc=post.due_at.isoformat(),
        text=post.text,
        lengths=[],
        over_limit=False,
        timezone=channel.timezone,
        day_local=local(post.due_at, channel.timezone).date().isoformat(),
        parts=[post.text],
        hashtags=hashtags(post.text),
        link=post.link or (found[0] if found else None),
        template=post.template,
        kind=post.source_kind,
        reason=post.reason,
        expires_at=post.expires_at.isoformat() if post.expires_at else None,
        expires_local=show(post.expires_at, channel.timezone) if post.expires_at else None,
        expired=post.status == PostStatus.queued.value and is_expired(post, now or utcnow()),
        source=provenance(session, post),
    )
    try:
        publisher = publisher_for(channel, reveal=False)
        sending = outgoing(post, publisher)
        item.parts = list(sending.texts)
        item.lengths = [
            {"unit": m.unit, "count": m.count, "limit": m.limit, "ok": m.ok, "part": i}
            for i, part in enumerate(item.parts, 1)
            for m in publisher.measure(part)
        ]
        item.over_limit = not all(m["ok"] for m in item.lengths)
        item.requests = [r.redacted() for r in publisher.build_requests(sending)]
    except SchedulerError as exc:
        item.error = str(exc)
    return item


def provenance(session: Session, post: Post) -> dict[str, Any] | None:
    """Where a post's words came from: the article and the sentence."""
    if post.source_kind not in ("quote", "milestone") or post.source_id is None:
        return None
    model = Quote if post.source_kind == "quote" else Milestone
    row = session.get(model, post.source_id)
    if row is None:
        return None
    article = session.get(Article, row.article_id)
    if article is None:
        return None
    info: dict[str, Any] = {
        "kind": post.source_kind,
        "article_id": article.id,
        "article": article.title,
        "source": article.source,
        "start": row.start,
        "end": row.end,
        "sentence": sentence_around(article.text, row.start, row.end),
        # An edit a person marked as no longer word for word (`queue edit --not-verbatim`).
        "verbatim": article.text[row.start : row.end] == row.text and post.verbatim is not False,
    }
    if isinstance(row, Quote):
        # The post quotes the words verbatim only when every part of the whole
        # quote is in the article as stored and in the post uncut.
        whole = whole_quote_of(session, row)
        parts = whole.parts if whole is not None else (row,)
        info["verbatim"] = all(
            article.text[p.start : p.end] == p.text and p.text.strip().rstrip(",;") in post.text
            for p in parts
        )
        info["parts"] = len(parts)
    info["words"] = row.text
    if isinstance(row, Quote):
        info["speaker"] = row.speaker
        info["category"] = row.category
    else:
        info["date"] = row.date.isoformat()
        info["precision"] = row.precision
    return info
