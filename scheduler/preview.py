"""Dry-run previews: for each post, the text, its length counted the platform's
way, and the exact requests the adapter would send (secrets redacted).

The requests come from the adapter's own `build_requests`, the method a real
send uses, so what the preview shows is what goes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from sqlmodel import Session, select

from scheduler.articles import sentence_around
from scheduler.channels import publisher_for
from scheduler.dispatch import outgoing
from scheduler.errors import SchedulerError
from scheduler.models import Article, Channel, Milestone, Post, PostStatus, Quote
from scheduler.when import show


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
    requests: list[dict[str, Any]] = field(default_factory=list)
    source: dict[str, Any] | None = None
    error: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def preview_posts(
    session: Session, ids: Sequence[int] = (), *, limit: int = 50
) -> list[PostPreview]:
    stmt = select(Post, Channel).join(Channel, Channel.id == Post.channel_id)
    if ids:
        stmt = stmt.where(Post.id.in_(list(ids)))
    else:
        stmt = stmt.where(Post.status == PostStatus.queued.value)
    rows = session.exec(stmt.order_by(Post.due_at, Post.id).limit(limit if not ids else None)).all()
    return [preview_one(session, post, channel) for post, channel in rows]


def preview_one(session: Session, post: Post, channel: Channel) -> PostPreview:
    assert post.id is not None
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
        source=provenance(session, post),
    )
    try:
        publisher = publisher_for(channel, reveal=False)
        measures = publisher.measure(post.text)
        item.lengths = [
            {"unit": m.unit, "count": m.count, "limit": m.limit, "ok": m.ok} for m in measures
        ]
        item.over_limit = not all(m.ok for m in measures)
        item.requests = [r.redacted() for r in publisher.build_requests(outgoing(post))]
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
        "verbatim": article.text[row.start : row.end] == row.text,
    }
    if isinstance(row, Quote):
        info["speaker"] = row.speaker
    return info
