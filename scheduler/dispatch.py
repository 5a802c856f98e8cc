"""Dispatching due posts: claim, send through the channel's adapter, record.

This is the one code path that turns a queued post into a request, used by the
daemon (real clock), `daemon --dry-run`, `simulate` and the demo (virtual clock).
A dry run stops just before the network: same adapter, same request builder.

One send, each step its own short transaction: claim (lease) -> read the row
(an unreadable row fails alone) -> build the request (a failure here sends
nothing, so the post is `failed`) -> write the attempt and renew the lease,
only if the lease is still ours -> send -> record. Retryable failures come back
with an exponential, jittered `next_attempt_at` (never sooner than Retry-After);
when they run out, or on a permanent error, the post is `failed`, unless some
attempt may have reached the platform, which makes it `unknown`. Transient
database errors (SQLite locked, PostgreSQL restarting) are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import functools
import json
import logging
import os
import random
import socket
import time
import uuid
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import ValidationError
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
from scheduler.expiry import EXPIRED, expire_due
from scheduler.models import Channel, Post, PostStatus, utcnow
from scheduler.publishers import OutgoingPost, Publisher, publisher_class
from scheduler.publishers.registry import available
from scheduler.publishers.split import split_thread

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


@dataclass
class Sendable:
    """The columns of a post that a send needs, without an ORM object's cost."""

    id: int
    text: str
    due_at: dt.datetime
    attempts: int
    idempotency_key: str
    link: str | None


def outgoing(post: Post | Sendable, publisher: Publisher | None = None) -> OutgoingPost:
    """The post as its adapter gets it. On a channel with the `thread` option, a
    text too long for the platform is split into numbered parts; the split is
    deterministic, so a retry or a reconcile sees the same parts."""
    assert post.id is not None
    parts: tuple[str, ...] = ()
    if publisher is not None and getattr(publisher.options, "thread", False):
        pieces = split_thread(post.text, publisher)
        if len(pieces) > 1:
            parts = tuple(pieces)
    return OutgoingPost(
        post_id=post.id,
        idempotency_key=post.idempotency_key,
        text=post.text,
        due_at=post.due_at,
        attempt=max(post.attempts, 1),
        parts=parts,
        link=post.link,
    )


def backoff(attempt: int, base: float, retry_after: float | None) -> float:
    """Exponential backoff with jitter, never sooner than the platform asked."""
    delay = min(base * 2 ** max(attempt - 1, 0), 3600.0) * random.uniform(0.8, 1.2)
    return max(delay, retry_after or 0.0)


def new_owner() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


def maybe_delivered(exc: Exception) -> bool:
    """Whether a retryable failure may still have reached the platform (no
    answer after the request left); adapters say so on the error."""
    return bool(getattr(exc, "maybe_delivered", False))


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__)[:300]


def _describe(exc: Exception, channel: Channel) -> str:
    """One clear line for an error raised while preparing a post."""
    if isinstance(exc, ValidationError):
        errors = exc.errors()
        parts = [
            f"{'.'.join(str(p) for p in e['loc']) or 'options'}: {e['msg']}" for e in errors[:3]
        ]
        return (
            f"channel {channel.name}: {channel.platform} options are invalid ({'; '.join(parts)})"
        )
    return _one_line(exc)


class Dispatcher:
    """Claims due posts channel by channel, up to `channel_concurrency` sends in
    flight per channel, and runs each send as its own task: a channel whose
    endpoint hangs or rate-limits holds only its own slots."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        client: httpx.AsyncClient | None = None,
        dry_run: bool = False,
        owner: str | None = None,
        on_event: Callable[[SendEvent], None] | None = None,
        on_capacity: Callable[[], None] | None = None,
        batch: int = 200,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self.dry_run = dry_run
        self.owner = owner or new_owner()
        self.on_event = on_event
        #: Called when a send finishes and its channel has room for another.
        self.on_capacity = on_capacity
        self.batch = batch
        #: False once the daemon is stopping: sends in flight finish, nothing new.
        self.claiming = True
        self._shown: set[int] = set()
        self._inflight: dict[int, set[int]] = defaultdict(set)
        self._tasks: set[asyncio.Task[None]] = set()
        #: Channel -> time before which it is not claimed from (a 429's Retry-After).
        self._hold: dict[int, dt.datetime] = {}
        self._last_upkeep = float("-inf")
        self._idempotent: list[str] | None = None
        self._events: list[SendEvent] = []
        self._publishers: dict[tuple[Any, ...], Publisher] = {}
        self._channel_rows: dict[int, tuple[tuple[Any, ...], Channel]] = {}

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.lease_seconds)

    @property
    def in_flight(self) -> int:
        return sum(len(ids) for ids in self._inflight.values())

    # -- the real path ---------------------------------------------------------

    async def run_due(self, now: dt.datetime | None = None) -> list[SendEvent]:
        """Send everything due at `now`, until nothing due is left."""
        now_fn = (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
        if self.dry_run:
            return self._dry_run_due(now_fn())
        self._events = []
        self._last_upkeep = float("-inf")
        stop = asyncio.Event()
        beat = asyncio.create_task(self.heartbeat(stop))
        try:
            while True:
                started = await self.pump(now_fn)
                if not started and not self._tasks:
                    break
                if self._tasks:
                    await asyncio.wait(set(self._tasks), return_when=asyncio.FIRST_COMPLETED)
        finally:
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            stop.set()
            await beat
        events, self._events = self._events, []
        return events

    async def pump(self, now_fn: Callable[[], dt.datetime] | None = None) -> int:
        """One look at the queue: hand back dead daemons' posts, mark missed
        ones, and start sends where channels have room. Returns how many sends
        it started; they run on as tasks."""
        now_fn = now_fn or (lambda: dt.datetime.now(dt.UTC))
        if not self.claiming:
            return 0
        if time.monotonic() - self._last_upkeep >= self._upkeep_every():
            await store.retry_transient_async(lambda: self._upkeep(now_fn()))
            self._last_upkeep = time.monotonic()
        now = now_fn()
        channels = await store.retry_transient_async(lambda: self._due_channels(now))
        started = 0
        for channel_id in channels:
            if not self.claiming:
                break
            held = self._hold.get(channel_id)
            if held is not None and held > now:
                continue
            room = min(
                self.settings.channel_concurrency - len(self._inflight[channel_id]), self.batch
            )
            if room <= 0:
                continue
            ids = await store.retry_transient_async(
                lambda c=channel_id, n=room: self._claim(c, n, now_fn())
            )
            for post_id in ids:
                self._inflight[channel_id].add(post_id)
                task = asyncio.create_task(self._run(post_id, channel_id, now_fn))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
                started += 1
        return started

    def next_wake(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment something may become claimable: a post falling due,
        a retry's time, a channel's Retry-After running out."""
        with Session(self.engine) as session:
            when = store.next_due_at(session, after=now)
        holds = [t for t in self._hold.values() if t > now]
        return min([*holds, *([when] if when else [])], default=None)

    async def drain(self, timeout: float) -> None:
        """Wait for sends in flight (a stopping daemon)."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)

    async def heartbeat(self, stop: asyncio.Event) -> None:
        """Renew the leases of posts in flight every third of a lease, so a
        slow platform never lets another daemon take a post we are sending."""
        every = max(self.settings.lease_seconds / 3, 0.05)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
            ids = [i for group in self._inflight.values() for i in group]
            if not ids:
                continue
            try:
                with Session(self.engine) as session:
                    store.renew_leases(session, self.owner, ids, utcnow(), self.lease)
            except Exception as exc:
                # Leases run out if this keeps failing; the posts are then
                # recovered by whichever daemon can reach the database.
                log.warning("could not renew leases: %s", _one_line(exc))

    def _upkeep_every(self) -> float:
        return max(min(self.settings.sweep_seconds, self.settings.lease_seconds / 2, 5.0), 0.05)

    def _upkeep(self, now: dt.datetime) -> None:
        with store.session_scope(self.engine) as session:
            recovered = store.recover_expired_leases(session, now, self._idempotent_platforms())
            if any(recovered.values()):
                log.info("took back posts from stopped daemons: %s", recovered)
            expired = expire_due(session, now)
            missed = store.mark_missed(session, now, self.settings.grace_seconds)
        for event in self._missed_events([(i, 0.0) for i in expired], now, EXPIRED):
            self._record(event)
        for event in self._missed_events(missed, now):
            self._record(event)

    def _due_channels(self, now: dt.datetime) -> list[int]:
        with self.engine.connect() as conn:
            return store.due_channels(conn, now)

    def _claim(self, channel_id: int, limit: int, now: dt.datetime) -> list[int]:
        with self.engine.connect() as conn:
            return store.claim_due(conn, self.owner, now, self.lease, limit, channel_id=channel_id)

    async def _run(self, post_id: int, channel_id: int, now_fn: Callable[[], dt.datetime]) -> None:
        try:
            event = await self._send(post_id, channel_id, now_fn)
            if event is not None:
                self._record(event)
        except Exception as exc:
            # Most likely the database went away mid-send. The post stays
            # leased until its lease runs out; then it is recovered (resent
            # when safe, else `unknown`).
            log.error("post %s: outcome not recorded: %s", post_id, _one_line(exc))
        finally:
            self._inflight[channel_id].discard(post_id)
            if self.on_capacity is not None:
                self.on_capacity()

    async def _send(
        self, post_id: int, channel_id: int, now_fn: Callable[[], dt.datetime]
    ) -> SendEvent | None:
        retry_for = self.settings.lease_seconds
        try:
            post, channel = await store.retry_transient_async(
                lambda: self._load(post_id, channel_id), seconds=retry_for
            )
        except Exception as exc:
            if store.is_transient(exc):
                raise
            # A row that no longer reads (bad date, broken JSON, a value of the
            # wrong type): this post fails with the reason, the others go on.
            error = f"cannot read post {post_id} or its channel: {_one_line(exc)}"
            log.error(error)
            await store.retry_transient_async(lambda: self._fail(post_id, error), seconds=retry_for)
            return SendEvent(post_id, f"#{channel_id}", "failed", now_fn(), now_fn(), error=error)
        assert post.id is not None
        event = SendEvent(post.id, channel.name, "failed", post.due_at, now_fn(), post.text)
        # Everything that can go wrong before the network fails the post at
        # once: nothing left, so nothing is unknown.
        try:
            publisher = self._publisher(channel)
            with contextlib.suppress(NotImplementedError):
                publisher.build_requests(outgoing(post, publisher))
        except Exception as exc:
            event.error = f"cannot prepare the post: {_describe(exc, channel)}"
            await store.retry_transient_async(
                lambda: self._fail(post_id, event.error or ""), seconds=retry_for
            )
            return event
        started = await store.retry_transient_async(
            lambda: self._start(post_id, now_fn()), seconds=retry_for
        )
        if started is None:
            log.warning("post %s: lease lost before sending; left to its new owner", post_id)
            return None
        post.attempts = started.attempts
        outcome = await self._publish(publisher, post, channel, started, now_fn)
        kept = await store.retry_transient_async(
            lambda: self._finish(post_id, started.attempt_id, outcome), seconds=retry_for
        )
        if not kept:
            log.warning("post %s: lease lost before the outcome was recorded", post_id)
        event.status = {"queued": "retry"}.get(outcome.status.value, outcome.status.value)
        event.error = outcome.error
        event.remote_id = outcome.remote_id
        event.at = now_fn()
        return event

    async def _publish(
        self,
        publisher: Publisher,
        post: Sendable,
        channel: Channel,
        started: store.Started,
        now_fn: Callable[[], dt.datetime],
    ) -> store.Outcome:
        assert post.id is not None and channel.id is not None
        try:
            result = await publisher.publish(self._client(), outgoing(post, publisher))
        except RetryableError as exc:
            unsure = maybe_delivered(exc)
            if exc.status_code == 429 or exc.retry_after:
                # The platform asked the whole account to slow down.
                until = now_fn() + dt.timedelta(seconds=exc.retry_after or 0)
                self._hold[channel.id] = max(self._hold.get(channel.id, until), until)
            if started.attempts >= self.settings.max_attempts:
                return self._final(
                    post.id, f"gave up after {started.attempts} attempts: {exc}", exc, unsure
                )
            wait = backoff(started.attempts, self.settings.retry_base_seconds, exc.retry_after)
            return store.Outcome(
                PostStatus.queued,
                str(exc),
                exc.status_code,
                next_attempt_at=now_fn() + dt.timedelta(seconds=wait),
                attempt_outcome="unsure" if unsure else None,
            )
        except UnknownOutcomeError as exc:
            return store.Outcome(PostStatus.unknown, str(exc), exc.status_code)
        except PermanentError as exc:
            return self._final(post.id, str(exc), exc, False)
        except SchedulerError as exc:  # bad channel setup: nothing was sent
            return self._final(post.id, str(exc), exc, False)
        except Exception as exc:
            # A bug in an adapter: we cannot know whether anything left.
            log.exception("adapter %s crashed on post %s", channel.platform, post.id)
            return store.Outcome(PostStatus.unknown, f"internal error: {exc!r}")
        return store.Outcome(
            PostStatus.sent, remote_id=result.remote_id, remote_url=result.remote_url
        )

    def _final(self, post_id: int, error: str, exc: Exception, unsure: bool) -> store.Outcome:
        """A post that will not be tried again: `failed` only when no attempt
        can have reached the platform, else `unknown` (so `failed` always means
        "not published" and `queue retry` cannot post it twice)."""
        code = getattr(exc, "status_code", None)
        if not unsure:
            with Session(self.engine) as session:
                unsure = store.earlier_unsure(session, post_id)
        if unsure:
            return store.Outcome(
                PostStatus.unknown,
                f"{error}; an earlier attempt may have reached the platform",
                code,
                attempt_outcome="failed",
            )
        return store.Outcome(PostStatus.failed, error, code)

    # -- database steps of one send (each its own short transaction) -------------

    def _load(self, post_id: int, channel_id: int) -> tuple[Sendable, Channel]:
        # One Core query for both rows: an ORM Session's identity map and unit
        # of work cost more than the send itself. Every column is converted as
        # the row is read, so a corrupt value fails here, not later.
        with self.engine.connect() as conn:
            row = conn.execute(_load_statement(), {"p_post": post_id, "p_channel": channel_id})
            found = row.mappings().first()
        if found is None:
            raise LookupError(f"post {post_id} or channel {channel_id} is gone")
        post = Sendable(
            id=found["p_id"],
            text=found["p_text"],
            due_at=found["p_due_at"],
            attempts=found["p_attempts"],
            idempotency_key=found["p_idempotency_key"],
            link=found["p_link"],
        )
        # Channel rows rarely change: the object built for the same values is reused.
        values = tuple(found[f"c_{c.key}"] for c in Channel.__table__.columns)
        cached = self._channel_rows.get(channel_id)
        if cached is None or cached[0] != values:
            cached = (values, Channel(**dict(zip(_CHANNEL_KEYS, values, strict=True))))
            self._channel_rows[channel_id] = cached
        return post, cached[1]

    def _fail(self, post_id: int, error: str) -> None:
        with Session(self.engine) as session:
            store.fail_unreadable(session, post_id, self.owner, error)

    # The two writes every send makes run on a plain connection: they are Core
    # statements, and a Session's unit of work around them costs more than they do.

    def _start(self, post_id: int, now: dt.datetime) -> store.Started | None:
        with self.engine.connect() as conn:
            return store.begin_attempt(conn, post_id, self.owner, now, self.lease)

    def _finish(self, post_id: int, attempt_id: int, outcome: store.Outcome) -> bool:
        with self.engine.connect() as conn:
            return store.finish(conn, post_id, attempt_id, self.owner, outcome)

    def _missed_events(
        self, missed: list[tuple[int, float]], now: dt.datetime, why: str | None = None
    ) -> list[SendEvent]:
        events = []
        with Session(self.engine) as session:
            for post_id, _grace in missed:
                try:
                    row = session.execute(
                        sa.select(Post.due_at, Post.text, Channel.name)
                        .join(Channel, Channel.id == Post.channel_id)
                        .where(Post.id == post_id)
                    ).one()
                    due, text, name = row
                except Exception:
                    due, text, name = now, "", "?"
                events.append(SendEvent(post_id, name, "missed", due, now, text, error=why))
        return events

    def _publisher(self, channel: Channel) -> Publisher:
        """One adapter per channel setup (looking adapters up by entry point on
        every send would cost more than the send)."""
        key = (
            channel.id,
            channel.name,
            channel.platform,
            json.dumps(channel.options, sort_keys=True, default=str),
            channel.secret_env,
            os.environ.get(channel.secret_env or "", None) if channel.secret_env else None,
            channel.timezone,
        )
        publisher = self._publishers.get(key)
        if publisher is None:
            publisher = publisher_for(channel, reveal=True)
            self._publishers[key] = publisher
        return publisher

    def _record(self, event: SendEvent) -> None:
        self._events.append(event)
        self._emit(event)

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
                        r.redacted() for r in publisher.build_requests(outgoing(post, publisher))
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
        if self._idempotent is not None:
            return self._idempotent
        names = []
        for name in available():
            try:
                if publisher_class(name).idempotent:
                    names.append(name)
            except SchedulerError:
                continue
        self._idempotent = names
        return names


def make_client(timeout: float = 20.0) -> httpx.AsyncClient:
    """One client per daemon: keep-alive connections are reused across posts."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        follow_redirects=False,
        headers={"User-Agent": "scheduler/0.1"},
    )


_CHANNEL_KEYS = tuple(c.key for c in Channel.__table__.columns)


@functools.cache
def _load_statement() -> sa.Select[Any]:
    posts, channels = Post.__table__, Channel.__table__
    return (
        sa.select(
            *(c.label(f"p_{c.key}") for c in posts.columns),
            *(c.label(f"c_{c.key}") for c in channels.columns),
        )
        .join_from(posts, channels, posts.c.channel_id == channels.c.id)
        .where(posts.c.id == sa.bindparam("p_post"), channels.c.id == sa.bindparam("p_channel"))
    )
