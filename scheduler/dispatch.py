"""Dispatching due posts: claim, send through the channel's adapter, record.

This is the one code path that turns a queued post into a request, used by the
daemon (real clock), `daemon --dry-run`, `simulate` and the demo (virtual clock).
A dry run stops just before the network: same adapter, same request builder.

A pass of the daemon is one short transaction: write the outcomes of the sends
that finished since the last pass, claim (lease) up to each channel's free room
and count those posts' attempts, read the rows (one that no longer reads fails
alone), build each request (a failure here sends nothing, so the post is
`failed` and its attempt is taken back), write the attempt rows, commit. Only
then do the requests leave, each as a task; their outcomes wait for the next
pass. Batching is what keeps the scheduler's cost per post near the HTTP
client's own (benchmarks/dispatch.py). Retryable failures come back
with an exponential, jittered `next_attempt_at` (never sooner than Retry-After);
when they run out, or on a permanent error, the post is `failed`, unless some
attempt may have reached the platform, which makes it `unknown`. Transient
database errors (SQLite locked, PostgreSQL restarting) are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import os
import random
import socket
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from scheduler import attempts, store
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

#: How long a pass that has outcomes to record waits for the other sends in
#: flight: a pass costs about the same for one outcome as for several.
_SETTLE_SECONDS = 0.002


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
class _Pass:
    """What a pass's transaction did (`Dispatcher._exchange`)."""

    #: False when the outcomes could not be written together (see `_exchange`).
    recorded: bool = True
    kept: set[int] = field(default_factory=set)
    started: list[_Flight] = field(default_factory=list)
    failed: list[SendEvent] = field(default_factory=list)


@dataclass
class _Flight:
    """One send from its claim until its outcome is recorded."""

    channel_id: int
    post: attempts.Claimed
    channel: Channel
    publisher: Publisher
    #: The post as its adapter gets it (built once, when it was claimed).
    out: OutgoingPost
    started: attempts.Started | None = None
    outcome: attempts.Outcome | None = None
    finished_at: dt.datetime | None = None

    @property
    def begun(self) -> attempts.Started:
        assert self.started is not None
        return self.started

    @property
    def attempt_id(self) -> int:
        return self.begun.attempt_id

    @property
    def result(self) -> attempts.Outcome:
        assert self.outcome is not None
        return self.outcome


def outgoing(post: Post | attempts.Claimed, publisher: Publisher | None = None) -> OutgoingPost:
    """The post as its adapter gets it. On a channel with the `thread` option, a
    text too long for the platform is split into numbered parts; the split is
    deterministic, so a retry or a reconcile sees the same parts."""
    assert post.id is not None
    parts: tuple[str, ...] = ()
    # Asked through model_fields: pydantic's path for a missing attribute is slow.
    options = publisher.options if publisher is not None else None
    if publisher is not None and "thread" in type(options).model_fields and options.thread:  # type: ignore[union-attr]
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
        #: Sends that finished and wait for the next pass to record their outcome.
        self._done: list[_Flight] = []
        #: Sends started and not yet ended; sends ended so far; who waits on them.
        self._running = 0
        self._ended = 0
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        self._publishers: dict[tuple[Any, ...], Publisher] = {}
        self._last_publisher: dict[int, tuple[Channel, str | None, Publisher]] = {}
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
                if not started and not self._running and not self._done:
                    break
                if self._running:
                    # Until a send ends (then the next pass records it).
                    await self._until(lambda seen=self._ended: self._ended > seen)
        finally:
            if self._tasks:
                await asyncio.wait(set(self._tasks))
            with contextlib.suppress(Exception):
                await self._record_done()
            stop.set()
            await beat
        events, self._events = self._events, []
        return events

    async def pump(self, now_fn: Callable[[], dt.datetime] | None = None) -> int:
        """One look at the queue: record the sends that finished, hand back dead
        daemons' posts, mark missed ones, and start sends where channels have
        room. Returns how many sends it started; they run on as tasks.

        A pass is one transaction: the outcomes that came in since the last
        pass, the claims of every channel with room, and the claimed posts'
        attempts. It costs about the same for one send as for several, so the
        pass first lets answers that have already arrived finish."""
        now_fn = now_fn or (lambda: dt.datetime.now(dt.UTC))
        await self._settle()
        if self.claiming and time.monotonic() - self._last_upkeep >= self._upkeep_every():
            await store.retry_transient_async(lambda: self._upkeep(now_fn()))
            self._last_upkeep = time.monotonic()
        done, self._done = self._done, []
        try:
            result = await store.retry_transient_async(
                lambda: self._exchange(done, now_fn(), claim=self.claiming),
                seconds=self.settings.lease_seconds,
            )
        except Exception:
            # The claim failed past retrying: the outcomes still get written,
            # each on its own, before the error is reported.
            self._close(done, *self._finish_each(done))
            raise
        self._close(done, *self._recorded(done, result))
        for event in result.failed:
            self._record(event)
        for flight in result.started:
            self._inflight[flight.channel_id].add(flight.post.id)
            self._running += 1
            task = asyncio.create_task(self._run(flight, now_fn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(result.started)

    def next_wake(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment something may become claimable: a post falling due,
        a retry's time, a channel's Retry-After running out."""
        with Session(self.engine) as session:
            when = store.next_due_at(session, after=now)
        holds = [t for t in self._hold.values() if t > now]
        return min([*holds, *([when] if when else [])], default=None)

    async def drain(self, timeout: float) -> None:
        """Wait for sends in flight (a stopping daemon) and record them."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        await self._record_done()

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

    async def _settle(self) -> None:
        # Sends started together tend to finish together: wait a moment for the
        # rest of them, so that one pass records them all.
        if self._done and self._running:
            await self._until(lambda: not self._running, _SETTLE_SECONDS)

    async def _until(self, ready: Callable[[], bool], timeout: float | None = None) -> None:
        """Wait until `ready()` holds when a send ends, or `timeout` passes.
        (One future per wait: `asyncio.wait` costs a callback on every task in
        flight, twice a pass.)"""
        loop = asyncio.get_running_loop()
        waiter: asyncio.Future[None] = loop.create_future()
        entry = (ready, waiter)
        self._waiters.append(entry)
        timer = None if timeout is None else loop.call_later(timeout, _wake, waiter)
        try:
            await waiter
        finally:
            self._waiters.remove(entry)
            if timer is not None:
                timer.cancel()

    def _ended_one(self) -> None:
        self._running -= 1
        self._ended += 1
        for ready, waiter in self._waiters:
            if ready():
                _wake(waiter)

    def _exchange(self, done: list[_Flight], now: dt.datetime, *, claim: bool) -> _Pass:
        """The pass's transaction: record `done`, then, with `claim`, claim up
        to each due channel's free room, build each claimed post's requests,
        fail the ones that cannot be sent (nothing has left, so nothing is
        unknown), and write the others' attempts. Commits before any of them
        is sent. Changes nothing on the dispatcher: it may be run again."""
        finished = [attempts.Finished(f.post.id, f.attempt_id, f.result) for f in done]
        freed = Counter(f.channel_id for f in done)
        result = _Pass()
        with self.engine.connect() as conn:
            try:
                result.kept = attempts.finish_many(conn, self.owner, finished, commit=False)
            except Exception as exc:
                if store.is_transient(exc):
                    raise
                # One outcome the database refuses must not stop the pass: the
                # caller writes them one by one instead (`_finish_each`).
                conn.rollback()
                result.recorded = False
            if claim:
                failures: list[tuple[int, str]] = []
                for channel_id, row in store.due_channel_rows(conn, now).items():
                    held = self._hold.get(channel_id)
                    if held is not None and held > now:
                        continue
                    busy = len(self._inflight[channel_id]) - freed[channel_id]
                    room = min(self.settings.channel_concurrency - busy, self.batch)
                    if room <= 0:
                        continue
                    claimed = attempts.claim_and_begin(
                        conn, self.owner, now, self.lease, room, channel_id
                    )
                    channel = self._channel(conn, channel_id, row)
                    for post in claimed:
                        flight = self._ready(channel_id, channel, post, now, result, failures)
                        if flight is not None:
                            result.started.append(flight)
                attempts.fail_unsent(conn, self.owner, failures)
                ids = attempts.insert_attempts(
                    conn, self.owner, [f.post.id for f in result.started], now
                )
                for flight in result.started:
                    flight.started = attempts.Started(ids[flight.post.id], flight.post.attempts)
            conn.commit()
        return result

    def _ready(
        self,
        channel_id: int,
        channel: Channel | str,
        claimed: attempts.Claimed | tuple[int, str],
        now: dt.datetime,
        result: _Pass,
        failures: list[tuple[int, str]],
    ) -> _Flight | None:
        """A claimed post as a send, or None after noting why it cannot be sent.
        Whatever goes wrong here fails that post alone."""
        if isinstance(claimed, tuple) or isinstance(channel, str):
            # A row that no longer reads (bad date, broken JSON, a value of
            # the wrong type): this post fails with the reason, the others go on.
            post_id, why = claimed if isinstance(claimed, tuple) else (claimed.id, channel)
            error = f"cannot read post {post_id} or its channel: {why}"
            log.error(error)
            failures.append((post_id, error))
            name = channel.name if isinstance(channel, Channel) else f"#{channel_id}"
            result.failed.append(SendEvent(post_id, name, "failed", now, now, error=error))
            return None
        post = claimed
        try:
            publisher = self._publisher(channel)
            out = outgoing(post, publisher)
            with contextlib.suppress(NotImplementedError):
                publisher.build_requests(out)
        except Exception as exc:
            error = f"cannot prepare the post: {_describe(exc, channel)}"
            failures.append((post.id, error))
            result.failed.append(
                SendEvent(post.id, channel.name, "failed", post.due_at, now, post.text, error=error)
            )
            return None
        return _Flight(channel_id, post, channel, publisher, out)

    def _channel(self, conn: Connection, channel_id: int, stored: tuple[Any, ...]) -> Channel | str:
        """The channel as an object, or why its row cannot be read. Rows rarely
        change: the object built for the same stored values is reused (building
        one costs more than a send)."""
        cached = self._channel_rows.get(channel_id)
        if cached is not None and cached[0] == stored:
            return cached[1]
        try:
            channel = Channel(**store.channel_row(conn, channel_id))
        except Exception as exc:
            if store.is_transient(exc):
                raise
            return _one_line(exc)
        self._channel_rows[channel_id] = (stored, channel)
        return channel

    async def _run(self, flight: _Flight, now_fn: Callable[[], dt.datetime]) -> None:
        """One send on the network; its outcome is recorded by the next pass."""
        try:
            flight.outcome = await self._publish(flight, now_fn)
        except BaseException as exc:
            self._inflight[flight.channel_id].discard(flight.post.id)
            if not isinstance(exc, Exception):
                raise
            # Most likely the database went away while judging a failure. The
            # post stays leased until its lease runs out; then it is recovered
            # (resent when safe, else `unknown`).
            log.error("post %s: outcome not recorded: %s", flight.post.id, _one_line(exc))
        else:
            flight.finished_at = now_fn()
            self._done.append(flight)
        finally:
            self._ended_one()
            if self.on_capacity is not None:
                self.on_capacity()

    async def _record_done(self) -> None:
        """Record finished sends without claiming (a run or a daemon ending)."""
        if not self._done:
            return
        done, self._done = self._done, []
        try:
            result = await store.retry_transient_async(
                lambda: self._exchange(done, utcnow(), claim=False),
                seconds=self.settings.lease_seconds,
            )
        except Exception:
            self._close(done, *self._finish_each(done))
        else:
            self._close(done, *self._recorded(done, result))

    def _recorded(self, done: list[_Flight], result: _Pass) -> tuple[set[int], set[int]]:
        if result.recorded:
            return result.kept, {f.post.id for f in done}
        return self._finish_each(done)

    def _finish_each(self, done: list[_Flight]) -> tuple[set[int], set[int]]:
        """Outcomes one transaction each: (lease still ours, recorded)."""
        kept, recorded = set(), set()
        for flight in done:
            post_id = flight.post.id
            try:
                with self.engine.connect() as conn:
                    if attempts.finish(conn, post_id, flight.attempt_id, self.owner, flight.result):
                        kept.add(post_id)
                recorded.add(post_id)
            except Exception as exc:
                # The post stays leased until its lease runs out; then it is
                # recovered (resent when safe, else `unknown`).
                log.error("post %s: outcome not recorded: %s", post_id, _one_line(exc))
        return kept, recorded

    def _close(self, done: list[_Flight], kept: set[int], recorded: set[int]) -> None:
        """Free the slots of recorded sends and tell what happened to them."""
        for flight in done:
            post_id = flight.post.id
            self._inflight[flight.channel_id].discard(post_id)
            if post_id not in recorded:
                continue
            if post_id not in kept:
                log.warning("post %s: lease lost before the outcome was recorded", post_id)
            outcome = flight.result
            self._record(
                SendEvent(
                    post_id,
                    flight.channel.name,
                    {"queued": "retry"}.get(outcome.status.value, outcome.status.value),
                    flight.post.due_at,
                    flight.finished_at or utcnow(),
                    flight.post.text,
                    error=outcome.error,
                    remote_id=outcome.remote_id,
                )
            )

    async def _publish(
        self, flight: _Flight, now_fn: Callable[[], dt.datetime]
    ) -> attempts.Outcome:
        post, channel, publisher, started = (
            flight.post,
            flight.channel,
            flight.publisher,
            flight.begun,
        )
        try:
            result = await publisher.publish(self._client(), flight.out)
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
            return attempts.Outcome(
                PostStatus.queued,
                str(exc),
                exc.status_code,
                next_attempt_at=now_fn() + dt.timedelta(seconds=wait),
                attempt_outcome="unsure" if unsure else None,
            )
        except UnknownOutcomeError as exc:
            return attempts.Outcome(PostStatus.unknown, str(exc), exc.status_code)
        except PermanentError as exc:
            return self._final(post.id, str(exc), exc, False)
        except SchedulerError as exc:  # bad channel setup: nothing was sent
            return self._final(post.id, str(exc), exc, False)
        except Exception as exc:
            # A bug in an adapter: we cannot know whether anything left.
            log.exception("adapter %s crashed on post %s", channel.platform, post.id)
            return attempts.Outcome(PostStatus.unknown, f"internal error: {exc!r}")
        return attempts.Outcome(
            PostStatus.sent, remote_id=result.remote_id, remote_url=result.remote_url
        )

    def _final(self, post_id: int, error: str, exc: Exception, unsure: bool) -> attempts.Outcome:
        """A post that will not be tried again: `failed` only when no attempt
        can have reached the platform, else `unknown` (so `failed` always means
        "not published" and `queue retry` cannot post it twice)."""
        code = getattr(exc, "status_code", None)
        if not unsure:
            with Session(self.engine) as session:
                unsure = attempts.earlier_unsure(session, post_id)
        if unsure:
            return attempts.Outcome(
                PostStatus.unknown,
                f"{error}; an earlier attempt may have reached the platform",
                code,
                attempt_outcome="failed",
            )
        return attempts.Outcome(PostStatus.failed, error, code)

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
        secret = os.environ.get(channel.secret_env) if channel.secret_env else None
        # `_channel` hands out the same object while a channel's row is unchanged.
        last = self._last_publisher.get(channel.id or 0)
        if last is not None and last[0] is channel and last[1] == secret:
            return last[2]
        key = (
            channel.id,
            channel.name,
            channel.platform,
            json.dumps(channel.options, sort_keys=True, default=str),
            channel.secret_env,
            secret,
            channel.timezone,
        )
        publisher = self._publishers.get(key)
        if publisher is None:
            publisher = publisher_for(channel, reveal=True)
            self._publishers[key] = publisher
        self._last_publisher[channel.id or 0] = (channel, secret, publisher)
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


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)


def make_client(timeout: float = 20.0) -> httpx.AsyncClient:
    """One client per daemon: keep-alive connections are reused across posts."""
    return httpx.AsyncClient(
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        limits=httpx.Limits(max_connections=50, max_keepalive_connections=20),
        follow_redirects=False,
        headers={"User-Agent": "scheduler/0.1"},
    )
