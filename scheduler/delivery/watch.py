"""Source watch: before a quote post from a URL-ingested article goes out, look
at the article's page again and hold the post if the quoted words are no
longer there (the outlet corrected the quote, or took the story down).

At most one request per article per `watch_seconds` (an hour): the page's
validators and, when it changed, its new text are kept on the article row, so
later posts of the same article compare against what was seen last. The
request is conditional (If-None-Match / If-Modified-Since; 304 is "as
before"). A request that fails, or a page that cannot be read, never holds a
post: the watch may only stop a post on evidence. Channels turn it off with
`-o watch=false`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import difflib
import importlib
import logging
from dataclasses import dataclass

import httpx
import regex
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from scheduler.config import Settings
from scheduler.storage.models import Article, Post, Quote, utcnow

log = logging.getLogger("scheduler.delivery.watch")

#: Largest page read when re-checking (as ingest).
MAX_BYTES = 5_000_000
_SENTENCE_END = regex.compile(r"(?<=[.!?…][\"'”’»)]*)\s+|\n+")


@dataclass(frozen=True)
class Target:
    """A claimed quote post whose source page is watched."""

    post_id: int
    article_id: int
    url: str
    quote: str


def targets(conn: Connection, post_ids: list[int]) -> dict[int, Target]:
    """The watched ones among `post_ids` (quote posts of URL-ingested
    articles), in one statement of the pass that claimed them."""
    if not post_ids:
        return {}
    rows = conn.execute(
        sa.select(Post.id, Article.id, Article.url, Quote.text)
        .join(Article, Article.id == Post.article_id)
        .join(Quote, Quote.id == Post.source_id)
        .where(
            Post.id.in_(post_ids),  # type: ignore[union-attr]
            Post.source_kind == "quote",
            Post.watch_released.is_(False),  # type: ignore[attr-defined]
            Article.url.is_not(None),  # type: ignore[union-attr]
        )
    ).all()
    return {pid: Target(pid, aid, url, quote) for pid, aid, url, quote in rows}


def squash(text: str) -> str:
    return " ".join(text.split())


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END.split(text) if s and s.strip()]


def difference(before: str, after: str, quote: str) -> str:
    """Why the post is held, in words: the sentence that held the quote before
    and the closest one on the page now, or that there is none."""
    from scheduler.ingest.articles import sentence_around

    start = before.find(quote)
    was = sentence_around(before, start, start + len(quote)) if start >= 0 else quote
    now = difflib.get_close_matches(was, sentences(after), n=1, cutoff=0.5)
    if not now:
        return f"source changed: the quoted sentence is gone from the page (was: {was})"
    return f"source changed: the quoted sentence now reads: {now[0]} (was: {was})"


class Watcher:
    """Re-checks watched posts' sources for one daemon (on the lanes' client apart)."""

    def __init__(self, engine: Engine, settings: Settings, client: httpx.AsyncClient) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self._locks: dict[int, asyncio.Lock] = {}

    async def check(self, target: Target) -> str | None:
        """None: send the post. Else why it is held (the difference)."""
        # Posts of one article claimed together share one request.
        lock = self._locks.setdefault(target.article_id, asyncio.Lock())
        async with lock:
            try:
                current = await self._current(target)
            except Exception as exc:  # never hold a post on a failure of ours
                log.warning("source watch of post %s failed: %s", target.post_id, exc)
                current = None
        if len(self._locks) > 1000:  # a long-running daemon keeps no lock per article
            self._locks = {k: v for k, v in self._locks.items() if v.locked()}
        if current is None:
            return None
        original, text = current
        if squash(target.quote) in squash(text):
            return None
        # difflib over the page's sentences: off the event loop.
        return await asyncio.to_thread(difference, original, text, target.quote)

    async def _current(self, target: Target) -> tuple[str, str] | None:
        """(the text as ingested, the text as the page reads now), or None when
        the page could not be read."""
        row = await asyncio.to_thread(self._article, target.article_id)
        if row is None:
            return None
        text, checked_at, etag, modified, seen = row
        now = utcnow()
        if checked_at is not None and now - checked_at < dt.timedelta(
            seconds=self.settings.watch_seconds
        ):
            return text, seen or text
        headers = {"Accept": "text/html, text/plain;q=0.9"}
        if etag:
            headers["If-None-Match"] = etag
        if modified:
            headers["If-Modified-Since"] = modified
        fetched = await self._fetch(target.url, headers)
        if fetched is None:
            # Noted as checked: a page that is down is not asked again at every post.
            await asyncio.to_thread(self._save, target.article_id, now, etag, modified, seen)
            return None
        status, new_etag, new_modified, body, content_type, charset = fetched
        if status == 304:
            await asyncio.to_thread(self._save, target.article_id, now, etag, modified, seen)
            return text, seen or text
        from scheduler.ingest.loading import article_from_bytes

        try:
            page = await asyncio.to_thread(
                article_from_bytes, body, target.url, content_type, charset
            )
        except Exception as exc:
            log.warning("source watch: %s does not read as an article: %s", target.url, exc)
            return None
        changed = None if squash(page.text) == squash(text) else page.text
        await asyncio.to_thread(self._save, target.article_id, now, new_etag, new_modified, changed)
        return text, changed or text

    async def _fetch(
        self, url: str, headers: dict[str, str]
    ) -> tuple[int, str | None, str | None, bytes, str, str | None] | None:
        # The ingest package is heavy to import: never on the event loop.
        await asyncio.to_thread(importlib.import_module, "scheduler.ingest.fetch")
        from scheduler.ingest.fetch import check_public_host

        try:
            if not self.settings.watch_allow_private:
                await asyncio.to_thread(check_public_host, url)
            timeout = min(10.0, self.settings.request_timeout_seconds)
            async with self.client.stream("GET", url, headers=headers, timeout=timeout) as resp:
                if resp.status_code == 304:
                    return 304, None, None, b"", "", None
                if resp.status_code != 200:
                    log.warning("source watch: %s answered HTTP %s", url, resp.status_code)
                    return None
                chunks, size = [], 0
                async for chunk in resp.aiter_bytes():
                    size += len(chunk)
                    if size > MAX_BYTES:
                        return None
                    chunks.append(chunk)
                mime = resp.headers.get("content-type", "text/html").split(";")[0].strip().lower()
                return (
                    200,
                    resp.headers.get("etag"),
                    resp.headers.get("last-modified"),
                    b"".join(chunks),
                    mime,
                    resp.charset_encoding,
                )
        except Exception as exc:
            log.warning("source watch: could not fetch %s: %s", url, exc)
            return None

    def _article(
        self, article_id: int
    ) -> tuple[str, dt.datetime | None, str | None, str | None, str | None] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(
                    Article.text,
                    Article.watch_checked_at,
                    Article.watch_etag,
                    Article.watch_last_modified,
                    Article.watch_text,
                ).where(Article.id == article_id)
            ).first()
        return tuple(row) if row is not None else None  # type: ignore[return-value]

    def _save(
        self,
        article_id: int,
        now: dt.datetime,
        etag: str | None,
        modified: str | None,
        text: str | None,
    ) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(Article)
                .where(Article.id == article_id)
                .values(
                    watch_checked_at=now,
                    watch_etag=etag,
                    watch_last_modified=modified,
                    watch_text=text,
                )
            )
