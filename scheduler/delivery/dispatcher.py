"""The send loop: start each claimed post's send as a task, classify its
outcome, and hand the outcome to the next pass to record.

This is the one code path that turns a queued post into a request, used by the
daemon (real clock), `daemon --dry-run`, `simulate` and the demo (virtual clock).
A dry run stops just before the network: same adapter, same request builder.
Everything the loop says to the database goes through `delivery.exchange`
(one transaction a pass); this module owns only what is in flight.

Retryable failures come back with an exponential, jittered `next_attempt_at`
(never sooner than Retry-After); when they run out, or on a permanent error,
the post is `failed`, unless some attempt may have reached the platform, which
makes it `unknown`. Transient database errors (SQLite locked, PostgreSQL
restarting) are retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import random
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from typing import Any

import httpx
from sqlalchemy.engine import Engine

from scheduler.accounts.channels import publisher_for
from scheduler.config import Settings
from scheduler.delivery import attempts
from scheduler.delivery.events import SendEvent
from scheduler.delivery.exchange import Exchange, Flight, Pass, one_line
from scheduler.delivery.lanes import CONNECTIONS, Lanes, make_client, make_lanes
from scheduler.delivery.outgoing import outgoing
from scheduler.delivery.watch import Watcher
from scheduler.errors import (
    PermanentError,
    RetryableError,
    SchedulerError,
    UnknownOutcomeError,
)
from scheduler.planning.expiry import missed_reason
from scheduler.publishers import Publisher
from scheduler.storage import database
from scheduler.storage.models import Channel, PostStatus, utcnow

__all__ = ["Dispatcher", "SendEvent", "backoff", "make_client", "new_owner", "outgoing"]

log = logging.getLogger("scheduler.delivery.dispatcher")

#: How long a pass that has outcomes to record waits for the other sends in
#: flight: a pass costs about the same for one outcome as for several. At 2 ms
#: one channel's 4 sends fell into two groups out of step, 2.4 posts a pass
#: (10,000 posts to a local sink); at 5 ms they mostly merge, 3.2 a pass, a
#: quarter fewer passes. A pass waits at most this long, so a slow platform loses at
#: most 5 ms per round of sends.
_SETTLE_SECONDS = 0.005

#: Passes an outcome that the database refuses is tried in before it is given
#: up (the post is then recovered after its lease, as after a crash).
_RECORD_TRIES = 20


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
        lanes: Lanes | None = None,
        dry_run: bool = False,
        owner: str | None = None,
        on_event: Callable[[SendEvent], None] | None = None,
        on_capacity: Callable[[], None] | None = None,
        batch: int = 200,
        walk: bool = False,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        #: Sends go over these (see `delivery.lanes`); a `client` given alone
        #: is one lane as wide as its pool.
        self.lanes = lanes
        self.dry_run = dry_run
        self.owner = owner or new_owner()
        self.on_event = on_event
        #: Called when a send finishes and its channel has room for another.
        self.on_capacity = on_capacity
        self.batch = batch
        #: Every statement against the queue goes through here.
        self.exchange = Exchange(engine, settings, self.owner, batch)
        #: False once the daemon is stopping: sends in flight finish, nothing new.
        self.claiming = True
        #: A dry run walking a virtual clock forward (`simulate`): each look
        #: reads only the posts that fell due since the last one.
        self._walk = walk
        self._looked_until: dt.datetime | None = None
        self._dry_publishers: dict[tuple[Any, ...], Any] = {}
        self._shown: set[int] = set()
        #: Posts claimed and not yet closed (sending, or waiting to be recorded),
        #: by id; and how many of them each channel has.
        self._flights: dict[int, Flight] = {}
        self._busy: Counter[int] = Counter()
        self._tasks: set[asyncio.Task[None]] = set()
        #: Channel -> time before which it is not claimed from (a 429's Retry-After).
        self._hold: dict[int, dt.datetime] = {}
        #: Channels whose last send got no answer at all (no connection, a
        #: timeout): one send at a time until one gets an answer, so platforms
        #: that hang do not hold the wire's slots that other channels need.
        self._unanswered: set[int] = set()
        self._last_upkeep = float("-inf")
        #: Events kept for `run_due`'s caller; None while the daemon pumps, so a
        #: daemon that runs for months keeps nothing per post once it is recorded.
        self._events: list[SendEvent] | None = None
        #: Sends that finished and wait for the next pass to record their outcome.
        self._done: list[Flight] = []
        #: Sends started and not yet ended; sends ended so far; who waits on them.
        self._running = 0
        self._ended = 0
        self._waiters: list[tuple[Callable[[], bool], asyncio.Future[None]]] = []
        #: Source watch (built on first use, on a client apart from the sends').
        self.watcher: Watcher | None = None

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.lease_seconds)

    @property
    def in_flight(self) -> int:
        return len(self._flights)

    # -- the real path ---------------------------------------------------------

    async def run_due(self, now: dt.datetime | None = None) -> list[SendEvent]:
        """Send everything due at `now`, until nothing due is left."""
        now_fn = (lambda: now) if now is not None else (lambda: dt.datetime.now(dt.UTC))
        if self.dry_run:
            return self._dry_run_due(now_fn())
        self._events = []
        self._last_upkeep = float("-inf")
        stop_beat = self.start_heartbeat()
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
            self.exchange.release()
            stop_beat()
        events, self._events = self._events or [], None
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
        done_ids = {f.post.id for f in self._done}
        if self.claiming and time.monotonic() - self._last_upkeep >= self._upkeep_every():
            for event in await database.retry_transient_async(
                lambda: self.exchange.upkeep(now_fn(), holding=self._flights.keys() - done_ids)
            ):
                self._record(event)
            self._last_upkeep = time.monotonic()
        done, self._done = self._done, []
        room = self._room(done) if self.claiming else None
        budget = self.settings.max_in_flight - (len(self._flights) - len(done))
        claimed_at = time.monotonic()

        def exchange() -> Pass:
            nonlocal claimed_at
            # Leases are judged from before the statement that sets them.
            claimed_at = time.monotonic()
            return self.exchange.run(done, now_fn(), room, budget)

        try:
            result = await database.retry_transient_async(
                exchange, seconds=self.settings.lease_seconds
            )
        except Exception as exc:
            # The pass failed past retrying: the outcomes are written each on
            # its own where they can be; the rest wait for the next pass, which
            # writes them before it claims anything new.
            self._close(done, *self.exchange.finish_each(done))
            if database.disk_full(exc):
                log.error(
                    "the database's disk is full: %d outcomes wait to be written; "
                    "nothing new is sent until they are",
                    len(self._done),
                )
            raise
        self._close(done, *self.exchange.recorded(done, result))
        if not self._flights and not result.started:
            # Idle: the passes' connection goes back to the pool until there
            # is something to send again.
            self.exchange.release()
        for event in result.failed:
            self._record(event)
        until = claimed_at + self.settings.lease_seconds
        for flight in result.started:
            flight.lease_until = until
            self._flights[flight.post.id] = flight
            self._busy[flight.channel_id] += 1
            self._running += 1
            task = asyncio.create_task(self._run(flight, now_fn))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return len(result.started)

    def _room(self, done: list[Flight]) -> Callable[[int], int]:
        """How many more sends each channel may start in this pass: its
        concurrency less what is in flight (the sends in `done` end with the
        pass), none while the platform asked it to wait."""
        freed = Counter(f.channel_id for f in done)

        def room(channel_id: int) -> int:
            held = self._hold.get(channel_id)
            if held is not None and held > now:
                return 0
            busy = self._busy[channel_id] - freed[channel_id]
            limit = 1 if channel_id in self._unanswered else self.settings.channel_concurrency
            return max(0, limit - busy)

        now = utcnow()
        return room

    def next_wake(self, now: dt.datetime) -> dt.datetime | None:
        """The next moment something may become claimable: a post falling due,
        a retry's time, a channel's Retry-After running out."""
        when = self.exchange.next_due_at(now)
        holds = [t for t in self._hold.values() if t > now]
        return min([*holds, *([when] if when else [])], default=None)

    async def drain(self, timeout: float) -> None:
        """Wait for sends in flight (a stopping daemon) and record them."""
        if self._tasks:
            await asyncio.wait(set(self._tasks), timeout=timeout)
        try:
            await self._record_done()
        finally:
            self.exchange.release()

    def start_heartbeat(self) -> Callable[[], None]:
        """Renew the leases of posts in flight every third of a lease, on a
        thread of its own: a busy or stalled event loop (thousands of sends, a
        long GC) cannot starve the renewals. Returns the function that stops it."""
        stop = threading.Event()
        thread = threading.Thread(
            target=self._heartbeat, args=(stop,), name="scheduler-leases", daemon=True
        )
        thread.start()

        def stopper() -> None:
            stop.set()
            thread.join(timeout=max(self.settings.lease_seconds, 5.0))

        return stopper

    def _heartbeat(self, stop: threading.Event) -> None:
        every = max(self.settings.lease_seconds / 3, 0.05)
        while not stop.wait(every):
            flights = self._snapshot()
            if not flights:
                continue
            began = time.monotonic()
            try:
                renewed = self.exchange.renew([f.post.id for f in flights], utcnow())
            except Exception as exc:
                # Leases run out if this keeps failing: sends not yet started
                # then stay unsent (`_run`), and the posts are recovered by
                # whichever daemon can reach the database.
                log.warning("could not renew leases: %s", one_line(exc))
                continue
            until = began + self.settings.lease_seconds
            for flight in flights:
                if flight.post.id in renewed:
                    flight.lease_until = max(flight.lease_until, until)

    def _snapshot(self) -> list[Flight]:
        # Read from the heartbeat's thread while the loop may add or remove
        # flights: a copy that raced a change is simply taken again.
        for _ in range(100):
            try:
                return list(self._flights.values())
            except RuntimeError:
                continue
        return []

    def _upkeep_every(self) -> float:
        return max(min(self.settings.sweep_seconds, self.settings.lease_seconds / 2, 5.0), 0.05)

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

    async def _run(self, flight: Flight, now_fn: Callable[[], dt.datetime]) -> None:
        """One send on the network; its outcome is recorded by the next pass."""
        try:
            if time.monotonic() >= flight.lease_until - self._lease_margin():
                # The lease ran out before the request left (the daemon stalled,
                # or renewals failed): another daemon may have the post by now,
                # so this one must not send it.
                flight.outcome = attempts.Outcome(
                    PostStatus.queued,
                    "lease ran out before the send started; back to the queue",
                    attempt_outcome="not-sent",
                )
            else:
                flight.outcome = await self._publish(flight, now_fn)
        except BaseException as exc:
            if not isinstance(exc, Exception):
                self._forget(flight)
                raise
            # Most likely the database went away while judging a failure: the
            # request may have left, so the post is not sent again blindly.
            log.error("post %s: outcome unclear: %s", flight.post.id, one_line(exc))
            flight.outcome = attempts.Outcome(
                PostStatus.unknown, f"outcome unclear: {one_line(exc)}"
            )
            flight.finished_at = now_fn()
            self._done.append(flight)
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
            result = await database.retry_transient_async(
                lambda: self.exchange.run(done, utcnow(), None),
                seconds=self.settings.lease_seconds,
            )
        except Exception:
            self._close(done, *self.exchange.finish_each(done))
        else:
            self._close(done, *self.exchange.recorded(done, result))

    def _lease_margin(self) -> float:
        return min(1.0, self.settings.lease_seconds / 10)

    def _forget(self, flight: Flight) -> None:
        if self._flights.pop(flight.post.id, None) is not None:
            self._busy[flight.channel_id] -= 1
            if self._busy[flight.channel_id] <= 0:
                del self._busy[flight.channel_id]

    def _close(self, done: list[Flight], kept: set[int], recorded: set[int]) -> None:
        """Free the slots of recorded sends and tell what happened to them.
        An outcome that could not be written waits for the next pass (which
        writes it before claiming anything), so a send that reached the
        platform is never left `sending` to be sent again."""
        for flight in done:
            post_id = flight.post.id
            if post_id not in recorded:
                flight.record_tries += 1
                if flight.record_tries < _RECORD_TRIES:
                    self._done.append(flight)
                    continue
                log.error("post %s: outcome not recorded after %d tries", post_id, _RECORD_TRIES)
                self._forget(flight)
                continue
            self._forget(flight)
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

    async def _publish(self, flight: Flight, now_fn: Callable[[], dt.datetime]) -> attempts.Outcome:
        post, channel, publisher, started = (
            flight.post,
            flight.channel,
            flight.publisher,
            flight.begun,
        )
        if flight.watch is not None:
            held = await self._watcher().check(flight.watch)
            if held is not None:
                return attempts.Outcome(PostStatus.held, held, attempt_outcome="not-sent")
        try:
            # At most as many sends on the wire as the lanes hold connections.
            # Up to `max_in_flight` (100) are claimed at once; past the pools'
            # size the rest wait in line here, not inside httpcore's pool, whose
            # every hand-out walks all the waiting requests against all the
            # connections (1,000 channels x 10 posts, cProfile: 25 million
            # `can_handle_request` calls for 10,000 posts).
            async with self._lanes().lane() as client:
                result = await publisher.publish(client, flight.out)
        except RetryableError as exc:
            self._answered(channel.id, exc.status_code is not None)
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
            self._answered(channel.id, exc.status_code is not None)
            return attempts.Outcome(PostStatus.unknown, str(exc), exc.status_code)
        except PermanentError as exc:
            self._answered(channel.id, True)
            return self._final(post.id, str(exc), exc, False)
        except SchedulerError as exc:  # bad channel setup: nothing was sent
            return self._final(post.id, str(exc), exc, False)
        except Exception as exc:
            # A bug in an adapter: we cannot know whether anything left.
            log.exception("adapter %s crashed on post %s", channel.platform, post.id)
            return attempts.Outcome(PostStatus.unknown, f"internal error: {exc!r}")
        self._answered(channel.id, True)
        return attempts.Outcome(
            PostStatus.sent, remote_id=result.remote_id, remote_url=result.remote_url
        )

    def _answered(self, channel_id: int, answered: bool) -> None:
        """Note whether the platform answered the channel's last send."""
        if answered:
            self._unanswered.discard(channel_id)
        else:
            self._unanswered.add(channel_id)

    def _final(self, post_id: int, error: str, exc: Exception, unsure: bool) -> attempts.Outcome:
        """A post that will not be tried again: `failed` only when no attempt
        can have reached the platform, else `unknown` (so `failed` always means
        "not published" and `queue retry` cannot post it twice)."""
        code = getattr(exc, "status_code", None)
        if not unsure:
            unsure = self.exchange.earlier_unsure(post_id)
        if unsure:
            return attempts.Outcome(
                PostStatus.unknown,
                f"{error}; an earlier attempt may have reached the platform",
                code,
                attempt_outcome="failed",
            )
        return attempts.Outcome(PostStatus.failed, error, code)

    def _record(self, event: SendEvent) -> None:
        if self._events is not None:
            self._events.append(event)
        self._emit(event)

    # -- the dry run -------------------------------------------------------------

    def _dry_run_due(self, now: dt.datetime) -> list[SendEvent]:
        """Every post the real daemon would take at `now`, built but not sent.
        A post the daemon would mark missed (expired, or later than its grace
        period) is shown as missed, never as if it would go out."""
        events = []
        after = self._looked_until if self._walk else None
        if self._walk:
            self._looked_until = max(now, self._looked_until or now)
        due = self.exchange.due_posts(now, after=after)
        landed = self.exchange.may_have_landed([p.id for p, _ in due if p.attempts and p.id])
        for post, channel in due:
            if not self._walk:
                if post.id in self._shown:
                    continue
                self._shown.add(post.id or 0)
            event = SendEvent(post.id or 0, channel.name, "dry-run", post.due_at, now, post.text)
            late = missed_reason(post, channel, self.settings, now, post.id in landed)
            if late is not None:
                event.status, event.error = "missed", late
            else:
                try:
                    publisher = self._dry_publisher(channel)
                    event.requests = [
                        r.redacted() for r in publisher.build_requests(outgoing(post, publisher))
                    ]
                except SchedulerError as exc:
                    event.status, event.error = "failed", str(exc)
            events.append(event)
            self._emit(event)
        return events

    def _dry_publisher(self, channel: Channel) -> Publisher:
        """The dry run's adapter for a channel (secrets never revealed), built
        once per channel setup."""
        key = (
            channel.id,
            channel.platform,
            json.dumps(channel.options, sort_keys=True, default=str),
            channel.secret_env,
            channel.timezone,
        )
        publisher = self._dry_publishers.get(key)
        if publisher is None:
            publisher = publisher_for(channel, reveal=False)
            self._dry_publishers[key] = publisher
        return publisher

    # -- helpers -----------------------------------------------------------------

    def _watcher(self) -> Watcher:
        if self.watcher is None:
            self.watcher = Watcher(self.engine, self.settings, self._client())
        return self.watcher

    def _lanes(self) -> Lanes:
        if self.lanes is None:
            if self.client is not None:
                self.lanes = Lanes([self.client], CONNECTIONS)
            else:
                self.lanes = make_lanes(self.settings.request_timeout_seconds)
        return self.lanes

    def _client(self) -> httpx.AsyncClient:
        """The client for what is not a send (a source watch's check): the
        lanes' client apart, or the one client the dispatcher was given."""
        if self.client is None:
            self.client = self._lanes().apart()
        return self.client

    def _emit(self, event: SendEvent) -> None:
        if self.on_event is not None:
            self.on_event(event)


def _wake(waiter: asyncio.Future[None]) -> None:
    if not waiter.done():
        waiter.set_result(None)
