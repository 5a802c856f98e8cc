"""Storing an ingested article with what was extracted from it.

The article is keyed by a hash of its cleaned text, so ingesting the same
article twice finds the first copy instead of storing another.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from sqlmodel import Session, select

from scheduler.ingest import Extraction, LoadedArticle
from scheduler.storage.models import Article, Milestone, Quote


@dataclass(frozen=True)
class Stored:
    article: Article
    created: bool
    quotes: int
    milestones: int
    #: An article already stored whose date the user gave anew (`--published`):
    #: its date and its milestones' past or planned were brought up to date.
    updated: bool = False


def content_hash(text: str) -> str:
    normalised = " ".join(text.split())
    return hashlib.sha256(normalised.encode("utf-8")).hexdigest()


def store_article(
    session: Session, loaded: LoadedArticle, extraction: Extraction, *, redate: bool = False
) -> Stored:
    """Store the article and what was extracted, or find the copy stored before.
    With `redate` (the user gave the article's date), a stored copy with another
    date takes the new one, and its milestones are read again against it."""
    digest = content_hash(loaded.text)
    existing = session.exec(select(Article).where(Article.content_hash == digest)).first()
    if existing is not None:
        assert existing.id is not None
        updated = False
        if redate and loaded.published is not None and existing.published != loaded.published:
            _redate(session, existing, loaded, extraction)
            updated = True
        quotes = len(session.exec(select(Quote.id).where(Quote.article_id == existing.id)).all())
        milestones = len(
            session.exec(select(Milestone.id).where(Milestone.article_id == existing.id)).all()
        )
        return Stored(existing, False, quotes, milestones, updated)
    url = loaded.source if loaded.source.startswith(("http://", "https://")) else None
    article = Article(
        content_hash=digest,
        source=loaded.source,
        url=url,
        title=loaded.title,
        text=loaded.text,
        published=loaded.published,
        description=loaded.description,
    )
    session.add(article)
    session.flush()
    assert article.id is not None
    for q in extraction.quotes:
        session.add(
            Quote(
                article_id=article.id,
                text=q.text,
                speaker=q.speaker,
                cue=q.cue,
                start=q.start,
                end=q.end,
            )
        )
    for m in extraction.milestones:
        session.add(
            Milestone(
                article_id=article.id,
                text=m.text,
                start=m.start,
                end=m.end,
                date=m.date,
                precision=m.precision,
                tense=m.tense,
                person=m.person,
                wording=m.wording or "",
            )
        )
    session.flush()
    return Stored(article, True, len(extraction.quotes), len(extraction.milestones))


def sentence_around(text: str, start: int, end: int) -> str:
    """The sentence (or paragraph part) holding text[start:end], for provenance."""
    left = max(text.rfind(mark, 0, start) for mark in (". ", "! ", "? ", "\n"))
    right_candidates = [i for i in (text.find(m, end) for m in (". ", "! ", "? ", "\n")) if i != -1]
    right = min(right_candidates) + 1 if right_candidates else len(text)
    return text[left + 1 if left >= 0 else 0 : right].strip()


def _redate(
    session: Session, article: Article, loaded: LoadedArticle, extraction: Extraction
) -> None:
    """The stored article under its new date: milestones found at the same
    place take the new reading (date, precision, past or planned), new ones are
    added, and ones the new date no longer supports are left for a person
    (posts may point at them)."""
    article.published = loaded.published
    session.add(article)
    stored = {
        (m.start, m.end): m
        for m in session.exec(select(Milestone).where(Milestone.article_id == article.id))
    }
    for m in extraction.milestones:
        row = stored.get((m.start, m.end))
        if row is None:
            row = Milestone(article_id=article.id, text=m.text, start=m.start, end=m.end)
        row.date, row.precision, row.tense, row.person = m.date, m.precision, m.tense, m.person
        row.wording = m.wording or ""
        session.add(row)
    session.flush()
