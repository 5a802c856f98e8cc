"""Polling feeds: which are due, one conditional request each, and what the
answer means for the next poll.

A poll round claims the due feeds (moving their next poll on, so two daemons
never poll one feed at once), sends every request concurrently on one httpx
client with the validators of the last answer (If-None-Match,
If-Modified-Since), and writes the unchanged and failed ones in one short
transaction: most feeds, most of the time, answer 304 and cost a row update.
A changed feed is parsed by feedparser and its new entries handed to
`entries.handle`, off the event loop. A feed that fails waits longer each
time (its interval doubled per failure in a row, up to `MAX_BACKOFF`) and
keeps its last error for `feeds list`.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlsplit

import httpx
import jinja2
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from scheduler.config import Settings
from scheduler.errors import IngestError
from scheduler.feeds import entries
from scheduler.storage.models import Feed, utcnow

log = logging.getLogger("scheduler.feeds.poller")

#: Largest feed document read.
MAX_BYTES = 5_000_000
MAX_REDIRECTS = 5
#: The longest wait after failures (an interval longer than this is kept).
MAX_BACKOFF = dt.timedelta(hours=6)
#: A claimed feed belongs to its poller this long (a poll that dies is retried then).
CLAIM = dt.timedelta(minutes=5)
#: Unchanged or failed feeds written per transaction.
_BATCH = 200
_ACCEPT = (
    "application/atom+xml, application/rss+xml, application/xml;q=0.9, text/xml;q=0.9, */*;q=0.1"
)


@dataclass(frozen=True)
class Job:
    """A claimed feed, as its poll needs it."""

    id: int
    url: str
    channels: tuple[str, ...]
    every: float
    allow_private: bool
    etag: str | None
    last_modified: str | None
    failures: int


@dataclass
class Polled:
    """One feed's poll: its answer and what came of it."""

    feed_id: int
    url: str
    status: int | None = None
    error: str | None = None
    new: int = 0
    articles: int = 0
    posts: int = 0
    entry_errors: list[str] = field(default_factory=list)
    next_poll_at: dt.datetime | None = None
    # The answer, until it is written.
    etag: str | None = None
    last_modified: str | None = None
    body: bytes = b""

    def as_dict(self) -> dict[str, object]:
        return {
            "feed_id": self.feed_id,
            "url": self.url,
            "status": self.status,
            "error": self.error,
            "new_entries": self.new,
            "articles": self.articles,
            "posts": self.posts,
            "entry_errors": self.entry_errors,
            "next_poll_at": self.next_poll_at.isoformat() if self.next_poll_at else None,
        }


def next_after_failure(every: float, failures: int, now: dt.datetime) -> dt.datetime:
    """The interval doubled per failure in a row, capped (never below the interval)."""
    wait = dt.timedelta(seconds=every * 2 ** min(failures, 20))
    return now + max(min(wait, MAX_BACKOFF), dt.timedelta(seconds=every))


class Poller:
    """Polls feeds on one client; `env` renders the posts planned from them."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        client: httpx.AsyncClient,
        env: Callable[[], jinja2.Environment],
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self._env = env
        self._template_env: jinja2.Environment | None = None

    def env(self) -> jinja2.Environment:
        if self._template_env is None:
            self._template_env = self._env()
        return self._template_env

    async def poll(
        self, *, feed_id: int | None = None, force: bool = False, limit: int = 5000
    ) -> list[Polled]:
        """Poll the due feeds (or feed `feed_id`; `force`: due or not)."""
        jobs = await asyncio.to_thread(self.claim, utcnow(), feed_id, force, limit)
        if not jobs:
            return []
        # The ingest package is heavy to import: never on the event loop.
        await asyncio.to_thread(importlib.import_module, "scheduler.ingest.fetch")
        gate = asyncio.Semaphore(max(1, self.settings.feed_concurrency))

        async def one(job: Job) -> Polled:
            async with gate:
                return await self.fetch(job)

        # Each answer is dealt with as it comes (a slow feed holds only
        # itself); unchanged and failed ones are written in batches.
        tasks = [asyncio.create_task(one(j)) for j in jobs]
        by_id = {j.id: j for j in jobs}
        waiting: list[Polled] = []
        for next_done in asyncio.as_completed(tasks):
            result = await next_done
            if result.status == 200:
                await asyncio.to_thread(self.handle, by_id[result.feed_id], result)
                continue
            waiting.append(result)
            if len(waiting) >= _BATCH:
                batch, waiting = waiting, []
                await asyncio.to_thread(self.record, [by_id[p.feed_id] for p in batch], batch)
        if waiting:
            await asyncio.to_thread(self.record, [by_id[p.feed_id] for p in waiting], waiting)
        return [t.result() for t in tasks]

    def next_due(self) -> dt.datetime | None:
        with self.engine.connect() as conn:
            return conn.execute(sa.select(sa.func.min(_feeds().c.next_poll_at))).scalar()

    # -- database -------------------------------------------------------------

    def claim(self, now: dt.datetime, feed_id: int | None, force: bool, limit: int) -> list[Job]:
        """Take the due feeds (or feed `feed_id`; `force`: due or not) by moving
        their next poll on, in one statement: another daemon's claim at the
        same moment finds them no longer due (on PostgreSQL it waits for the
        row and reads it again)."""
        feeds = _feeds()
        due = feeds.c.next_poll_at <= now
        chosen = sa.select(feeds.c.id).order_by(feeds.c.next_poll_at, feeds.c.id).limit(limit)
        if not force:
            chosen = chosen.where(due)
        if feed_id is not None:
            chosen = chosen.where(feeds.c.id == feed_id)
        stmt = (
            sa.update(feeds)
            .where(feeds.c.id.in_(chosen.scalar_subquery()), *([] if force else [due]))
            .values(next_poll_at=now + CLAIM)
            .returning(
                feeds.c.id,
                feeds.c.url,
                feeds.c.channels,
                feeds.c.every_seconds,
                feeds.c.allow_private,
                feeds.c.etag,
                feeds.c.last_modified,
                feeds.c.failures,
            )
        )
        with self.engine.begin() as conn:
            rows = conn.execute(stmt).all()
        return sorted(
            (
                Job(
                    r.id,
                    r.url,
                    tuple(r.channels or ()),
                    float(r.every_seconds),
                    bool(r.allow_private),
                    r.etag,
                    r.last_modified,
                    int(r.failures),
                )
                for r in rows
            ),
            key=lambda j: j.id,
        )

    def record(self, jobs: list[Job], polled: list[Polled]) -> None:
        """Unchanged and failed feeds' answers in one transaction. A changed
        feed's validators are written by `handle` after its entries are, so a
        crash meanwhile polls it again in full."""
        now = utcnow()
        feeds = _feeds()
        rows = []
        for job, p in zip(jobs, polled, strict=True):
            if p.status == 200:
                continue
            if p.error is None:  # 304: nothing new
                p.next_poll_at = now + dt.timedelta(seconds=job.every)
                rows.append(
                    {
                        "p_id": job.id,
                        "v_polled": now,
                        "v_status": p.status,
                        "v_error": None,
                        "v_failures": 0,
                        "v_next": p.next_poll_at,
                    }
                )
            else:
                p.next_poll_at = next_after_failure(job.every, job.failures + 1, now)
                rows.append(
                    {
                        "p_id": job.id,
                        "v_polled": now,
                        "v_status": p.status,
                        "v_error": p.error,
                        "v_failures": job.failures + 1,
                        "v_next": p.next_poll_at,
                    }
                )
        if not rows:
            return
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(feeds)
                .where(feeds.c.id == sa.bindparam("p_id"))
                .values(
                    last_polled_at=sa.bindparam("v_polled", type_=feeds.c.last_polled_at.type),
                    last_status=sa.bindparam("v_status"),
                    last_error=sa.bindparam("v_error"),
                    failures=sa.bindparam("v_failures"),
                    next_poll_at=sa.bindparam("v_next", type_=feeds.c.next_poll_at.type),
                ),
                rows,
            )

    def handle(self, job: Job, p: Polled) -> None:
        """A changed feed: parse it, handle its entries, write its validators."""
        import feedparser

        now = utcnow()
        parsed = feedparser.parse(p.body)
        p.body = b""  # not kept past the parse
        values: dict[str, object] = {"last_polled_at": now, "last_status": p.status}
        if not parsed.entries and not parsed.get("version"):
            exc = parsed.get("bozo_exception")
            why = str(exc).splitlines()[0] if exc else "no feed elements in it"
            p.error = f"not an RSS or Atom feed ({why})"
            log.warning("feed %s: %s", job.url, p.error)
            p.next_poll_at = next_after_failure(job.every, job.failures + 1, now)
            values.update(
                last_error=p.error, failures=job.failures + 1, next_poll_at=p.next_poll_at
            )
        else:
            try:
                done = entries.handle(
                    self.engine,
                    self.settings,
                    self.env(),
                    feed_id=job.id,
                    channels=job.channels,
                    allow_private=job.allow_private,
                    entries=entries.entries_of(parsed),
                )
            except Exception as exc:
                # The database went away mid-way: the feed is polled again in
                # full later (entries handled so far are remembered).
                p.error = f"entries not handled: {str(exc).splitlines()[0] if str(exc) else exc!r}"
                p.next_poll_at = next_after_failure(job.every, job.failures + 1, now)
                values.update(
                    last_error=p.error, failures=job.failures + 1, next_poll_at=p.next_poll_at
                )
            else:
                p.new, p.articles, p.posts = done.new, done.articles, done.posts
                p.entry_errors = done.errors
                p.next_poll_at = now + dt.timedelta(seconds=job.every)
                values.update(
                    etag=p.etag,
                    last_modified=p.last_modified,
                    last_error=(
                        f"{len(done.errors)} entries not ingested; first: {done.errors[0]}"
                        if done.errors
                        else None
                    ),
                    failures=0,
                    next_poll_at=p.next_poll_at,
                    entries_seen=_feeds().c.entries_seen + done.new,
                )
        with self.engine.begin() as conn:
            conn.execute(sa.update(_feeds()).where(_feeds().c.id == job.id).values(**values))

    # -- network --------------------------------------------------------------

    async def fetch(self, job: Job) -> Polled:
        """One feed's answer: 200 with its body, 304, or an error (one line).
        Redirects are followed here, each hop checked like the first URL."""
        from scheduler.ingest.fetch import check_public_host, check_url

        result = Polled(job.id, job.url)
        headers = {"Accept": _ACCEPT}
        if job.etag:
            headers["If-None-Match"] = job.etag
        if job.last_modified:
            headers["If-Modified-Since"] = job.last_modified
        url = job.url
        try:
            for _hop in range(MAX_REDIRECTS + 1):
                check_url(url)
                if not job.allow_private:
                    await asyncio.to_thread(check_public_host, url)
                async with self.client.stream("GET", url, headers=headers) as resp:
                    result.status = resp.status_code
                    if resp.has_redirect_location:
                        url = urljoin(url, resp.headers["location"])
                        if urlsplit(url).scheme not in ("http", "https"):
                            raise ValueError("redirected to an unsupported URL scheme")
                        continue
                    if resp.status_code == 304:
                        return result
                    if resp.status_code != 200:
                        result.error = f"the server answered HTTP {resp.status_code}"
                        return result
                    chunks, size = [], 0
                    async for chunk in resp.aiter_bytes():
                        size += len(chunk)
                        if size > MAX_BYTES:
                            raise ValueError(f"the feed is over {MAX_BYTES} bytes")
                        chunks.append(chunk)
                    result.body = b"".join(chunks)
                    result.etag = resp.headers.get("etag")
                    result.last_modified = resp.headers.get("last-modified")
                    return result
            result.status, result.error = None, f"too many redirects (more than {MAX_REDIRECTS})"
        except httpx.TimeoutException:
            result.status, result.error = None, "timed out"
        except IngestError as exc:
            # The address checks say how to allow a private address: for a
            # feed, that is adding it with --allow-private.
            result.status = None
            result.error = str(exc).replace(
                "allow private addresses to fetch it", "add the feed with --allow-private"
            )
        except Exception as exc:
            text = str(exc).strip()
            result.status = None
            result.error = (text.splitlines()[0] if text else type(exc).__name__)[:300]
        return result


def _feeds() -> sa.Table:
    return Feed.__table__  # type: ignore[attr-defined,return-value]
