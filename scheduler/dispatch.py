"""Dispatching due posts: claim, send through the channel's adapter, record.

This is the one code path that turns a queued post into a request, used by the
daemon (real clock), `daemon --dry-run`, `simulate` and the demo (virtual clock).
A dry run stops just before the network: same adapter, same request builder.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import socket
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session, select

from scheduler import store
from scheduler.channels import publisher_for
from scheduler.config import Settings
from scheduler.errors import (
    PermanentError,
    RetryableError,
    SchedulerError,
    UnknownOutcomeError,
)
from scheduler.models import Channel, Post, PostStatus
from scheduler.publishers import OutgoingPost, Publisher, publisher_class
from scheduler.publishers.registry import available

log = logging.getLogger("scheduler.dispatch")


@dataclass
class SendEvent:
    """What happened to one post, for the terminal, JSON output and tests."""

    post_id: int
    channel: str
    status: str  # sent | retry | failed | unknown | missed | dry-run
    due_at: dt.datetime
    at: dt.datetime
    text: str = ""
    error: str | None = None
    remote_id: str | None = None
    requests: list[dict[str, Any]] = field(default_factory=list)

    @property
    def lateness(self) -> float:
        return (self.at - self.due_at).total_seconds()


def outgoing(post: Post) -> OutgoingPost:
    assert post.id is not None
    return OutgoingPost(
        post_id=post.id,
        idempotency_key=post.idempotency_key,
        text=post.text,
        due_at=post.due_at,
        attempt=max(post.attempts, 1),
        link=post.link,
    )


def backoff(attempt: int, base: float, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never sooner than the platform asked."""
    delay = min(base * 2 ** max(attempt - 1, 0), 3600.0) * random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def new_owner() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


class Dispatcher:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        dry_run: bool = False,
        owner: str | None = None,
        on_event: Callable[[SendEvent], None] | None = None,
        batch: int = 200,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self.dry_run = dry_run
        self.owner = owner or new_owner()
        self.on_event = on_event
        self.batch = batch
        self._shown: set[int] = set()
        self._limits: dict[int, asyncio.Semaphore] = {}

    # -- the real path ---------------------------------------------------------

    async def run_due(self, now: dt.datetime | None = None) -> list[SendEvent]:
        """Send everything due at `now`, until nothing due is left."""
        now_fn = (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
        if self.dry_run:
            return self._dry_run_due(now_fn())
        events: list[SendEvent] = []
        with store.session_scope(self.engine) as session:
            store.recover_expired_leases(session, now_fn(), self._idempotent_platforms())
            events.extend(self._mark_missed(session, now_fn()))
        while True:
            with store.session_scope(self.engine) as session:
                ids = store.claim_due(
                    session,
                    self.owner,
                    now_fn(),
                    dt.timedelta(seconds=self.settings.lease_seconds),
                    self.batch,
                )
            if not ids:
                break
            results = await asyncio.gather(*(self._send(i, now_fn) for i in ids))
            events.extend(e for e in results if e is not None)
        for event in events:
            self._emit(event)
        return events

    async def _send(self, post_id: int, now_fn: Callable[[], dt.datetime]) -> SendEvent | None:
        with Session(self.engine, expire_on_commit=False) as session:
            post = session.get(Post, post_id)
            if post is None:
                return None
            channel = session.get(Channel, post.channel_id)
            assert channel is not None and channel.id is not None
            limit = self._limits.setdefault(
                channel.id, asyncio.Semaphore(self.settings.channel_concurrency)
            )
            async with limit:
                return await self._send_one(session, post, channel, now_fn)

    async def _send_one(
        self,
        session: Session,
        post: Post,
        channel: Channel,
        now_fn: Callable[[], dt.datetime],
    ) -> SendEvent:
        assert post.id is not None
        attempt_id = store.start_attempt(session, post.id, self.owner)
        try:
            publisher = publisher_for(channel, reveal=True)
            result = await publisher.publish(self._client(), outgoing(post))
        except RetryableError as exc:
            if post.attempts >= self.settings.max_attempts:
                outcome = store.Outcome(
                    PostStatus.failed,
                    f"gave up after {post.attempts} attempts: {exc}",
                    exc.status_code,
                )
            else:
                wait = backoff(post.attempts, self.settings.retry_base_seconds, exc.retry_after)
                outcome = store.Outcome(
                    PostStatus.queued,
                    str(exc),
                    exc.status_code,
                    next_attempt_at=now_fn() + dt.timedelta(seconds=wait),
                )
        except UnknownOutcomeError as exc:
            outcome = store.Outcome(PostStatus.unknown, str(exc), exc.status_code)
        except PermanentError as exc:
            outcome = store.Outcome(PostStatus.failed, str(exc), exc.status_code)
        except SchedulerError as exc:  # bad channel setup: nothing was sent
            outcome = store.Outcome(PostStatus.failed, str(exc))
        except Exception as exc:
            # A bug in an adapter: we cannot know whether anything left.
            log.exception("adapter %s crashed on post %s", channel.platform, post.id)
            outcome = store.Outcome(PostStatus.unknown, f"internal error: {exc!r}")
        else:
            outcome = store.Outcome(
                PostStatus.sent, remote_id=result.remote_id, remote_url=result.remote_url
            )
        kept = store.finish(session, post.id, attempt_id, self.owner, outcome)
        if not kept:
            log.warning("post %s: lease lost before the outcome was recorded", post.id)
        status = {"queued": "retry"}.get(outcome.status.value, outcome.status.value)
        return SendEvent(
            post_id=post.id,
            channel=channel.name,
            status=status,
            due_at=post.due_at,
            at=now_fn(),
            text=post.text,
            error=outcome.error,
            remote_id=outcome.remote_id,
        )

    def _mark_missed(self, session: Session, now: dt.datetime) -> list[SendEvent]:
        """Posts so late that sending them now would surprise (a daemon that was
        down for a day must not flood a day's posts at once)."""
        events = []
        rows = session.exec(
            select(Post, Channel)
            .join(Channel, Channel.id == Post.channel_id)
            .where(
                Post.status == PostStatus.queued.value,
                Post.attempts == 0,
                Post.next_attempt_at.is_(None),
                Post.due_at < now - dt.timedelta(seconds=self._least_grace(session)),
            )
        ).all()
        for post, channel in rows:
            grace = (
                channel.grace_seconds
                if channel.grace_seconds is not None
                else self.settings.grace_seconds
            )
            if post.due_at >= now - dt.timedelta(seconds=grace):
                continue
            result = session.execute(
                sa.update(Post)
                .where(Post.id == post.id, Post.status == PostStatus.queued.value)
                .values(
                    status=PostStatus.missed.value,
                    last_error=f"not sent within {grace:.0f}s of its time (daemon was down?)",
                    updated_at=now,
                )
            )
            if result.rowcount:
                events.append(
                    SendEvent(post.id or 0, channel.name, "missed", post.due_at, now, post.text)
                )
        return events

    def _least_grace(self, session: Session) -> float:
        smallest = session.execute(sa.select(sa.func.min(Channel.grace_seconds))).scalar()
        return min(self.settings.grace_seconds, smallest if smallest is not None else 1e12)

    # -- the dry run -------------------------------------------------------------

    def _dry_run_due(self, now: dt.datetime) -> list[SendEvent]:
        events = []
        with Session(self.engine) as session:
            rows = session.exec(
                select(Post, Channel)
                .join(Channel, Channel.id == Post.channel_id)
                .where(store.due_clause(now), Channel.paused.is_(False))
                .order_by(Post.due_at, Post.id)
            ).all()
            for post, channel in rows:
                if post.id in self._shown:
                    continue
                self._shown.add(post.id or 0)
                event = SendEvent(
                    post.id or 0, channel.name, "dry-run", post.due_at, now, post.text
                )
                try:
                    publisher = publisher_for(channel, reveal=False)
                    event.requests = [
                        r.redacted() for r in publisher.build_requests(outgoing(post))
                    ]
                except SchedulerError as exc:
                    event.status, event.error = "failed", str(exc)
                events.append(event)
                self._emit(event)
        return events

    # -- helpers -----------------------------------------------------------------

    def _client(self) -> httpx.AsyncClient:
        if self.client is None:
            self.client = make_client()
        return self.client

    def _emit(self, event: SendEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)

    def _idempotent_platforms(self) -> list[str]:
        names = []
        for name in available():
            try:
                if publisher_class(name).idempotent:
                    names.append(name)
            except SchedulerError:
                continue
        return names

    def publisher(self, channel: Channel) -> Publisher:
        return publisher_for(channel, reveal=not self.dry_run)


def make_client() -> httpx.AsyncClient:
    """One client per daemon: keep-alive connections are reused across posts."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(20.0, connect=5.0),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        follow_redirects=False,
        headers={"User-Agent": "scheduler/0.1"},
    )
