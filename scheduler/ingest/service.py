"""What the `ingest`, `quotes` and `milestones` commands do, as plain data:
ingest files, folders and URLs into the database; list and tag stored quotes;
list stored milestones. The CLI only parses its options and prints the result.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from scheduler.errors import DatabaseError, NotFoundError, SchedulerError
from scheduler.storage import database
from scheduler.storage.models import Milestone, Quote, in_id_range

ARTICLE_SUFFIXES = {".txt", ".html", ".htm", ".md"}


def expand_sources(sources: Sequence[str]) -> list[str]:
    """Each folder becomes the articles in it (sorted); files, URLs and - stay."""
    out: list[str] = []
    for source in sources:
        path = Path(source)
        if source != "-" and path.is_dir():
            found = sorted(str(p) for p in path.iterdir() if p.suffix.lower() in ARTICLE_SUFFIXES)
            if not found:
                raise SchedulerError(f"no .txt, .html or .md articles in {source}")
            out.extend(found)
        else:
            out.append(source)
    return out


def ingest_sources(
    engine: Engine,
    sources: Sequence[str],
    *,
    published: dt.date | None = None,
    allow_private: bool = False,
    track: Callable[[list[str]], Iterator[str]] = iter,
) -> Iterator[dict[str, Any]]:
    """Load, extract and store each source, one transaction per article, yielding
    what was stored as it goes (so a caller can report each one at once). A
    source that cannot be read yields `{"source", "error"}` and the others go
    on. `published` overrides the date the article gives (and updates a copy
    stored before); `allow_private` lets URLs reach non-public addresses;
    `track` wraps the list of sources, e.g. in a progress bar."""
    # Here, not at the top: listing or tagging quotes must not pay for
    # trafilatura and the extraction rules (0.9 s of a `quotes list` start).
    from scheduler.ingest import extract, load_article
    from scheduler.ingest.articles import store_article

    for source in track(expand_sources(sources)):
        try:
            loaded = load_article(source, allow_private=allow_private)
            if published is not None:
                loaded = dataclasses.replace(loaded, published=published)
            extraction = extract(loaded.text, published=loaded.published)
            with database.session_scope(engine) as session:
                stored = store_article(session, loaded, extraction, redate=published is not None)
                thumbnail = _thumbnail(session, stored.article, loaded, allow_private)
        except DatabaseError:
            raise  # the next article would fail the same way
        except SchedulerError as exc:
            yield {"source": source, "error": str(exc)}
            continue
        yield {
            "article_id": stored.article.id,
            "source": loaded.source,
            "title": stored.article.title,
            "created": stored.created,
            "updated": stored.updated,
            "quotes": stored.quotes,
            "milestones": stored.milestones,
            "thumbnail": thumbnail,
        }


def _thumbnail(session: Any, article: Any, loaded: Any, allow_private: bool) -> str | None:
    """Fetch and store the page's lead image for link cards, once per article.
    A missing or unusable image leaves the card without a thumbnail and says why."""
    if not loaded.image_url or article.image_sha256 or not article.url:
        return None
    from urllib.parse import urljoin

    from scheduler.ingest.fetch import fetch_thumbnail
    from scheduler.media.store import store_bytes

    try:
        data = fetch_thumbnail(
            urljoin(article.url, loaded.image_url), timeout=10.0, allow_private=allow_private
        )
        article.image_sha256 = store_bytes(session, data).sha256
    except SchedulerError as exc:
        return f"no thumbnail: {exc}"
    session.add(article)
    return article.image_sha256


def list_quotes(
    session: Session,
    *,
    article: int | None = None,
    speaker: str | None = None,
    category: str | None = None,
) -> list[dict[str, Any]]:
    """Stored quotes in article order, optionally of one article, speaker or category."""
    stmt = select(Quote).order_by(Quote.article_id, Quote.start)
    if article is not None:
        if not in_id_range(article):
            return []
        stmt = stmt.where(Quote.article_id == article)
    if speaker:
        stmt = stmt.where(Quote.speaker == speaker)
    if category:
        stmt = stmt.where(Quote.category == category)
    return [
        {
            "id": q.id,
            "article_id": q.article_id,
            "speaker": q.speaker,
            "cue": q.cue,
            "start": q.start,
            "end": q.end,
            "category": q.category,
            "text": q.text,
        }
        for q in session.exec(stmt)
    ]


def tag_quotes(session: Session, quote_ids: Sequence[int], category: str | None) -> None:
    """Put the quotes in `category` (None: no category); an unknown id fails them all."""
    for quote_id in quote_ids:
        quote = session.get(Quote, quote_id)
        if quote is None:
            raise NotFoundError(f"no quote with id {quote_id}")
        quote.category = category
        session.add(quote)


def list_milestones(session: Session, *, article: int | None = None) -> list[dict[str, Any]]:
    """Stored milestones in article order, optionally of one article."""
    stmt = select(Milestone).order_by(Milestone.article_id, Milestone.start)
    if article is not None:
        if not in_id_range(article):
            return []
        stmt = stmt.where(Milestone.article_id == article)
    return [
        {
            "id": m.id,
            "article_id": m.article_id,
            "date": m.date.isoformat(),
            "precision": m.precision,
            "tense": m.tense,
            "person": m.person,
            "start": m.start,
            "end": m.end,
            "text": m.text,
            # What a post says: the sentence made to stand alone; "" when it
            # cannot, so no post is proposed; None for rows from before wordings.
            "wording": m.wording,
        }
        for m in session.exec(stmt)
    ]
