"""The long-running publisher.

APScheduler drives time; the posts table is the queue. Jobs: a one-shot wake-up
at the next due time (re-armed after every pass) and a periodic sweep that
notices posts added or moved by other processes. On PostgreSQL the daemon also
LISTENs (see `wakeups.py`), so a post queued elsewhere wakes it at once, and
several daemons share one database: claims use `FOR UPDATE SKIP LOCKED`.

Sends run as tasks, at most `channel_concurrency` per channel; each finished
send wakes the loop to claim the next. Leases of posts in flight are renewed
while the daemon lives; if it is killed, they run out and any daemon takes the
posts back. SIGTERM/SIGINT stop new claims, let sends in flight finish (bounded
by the lease), then exit.

Beside the send loop, two tasks of their own, each with its own HTTP client:
polling feeds when they fall due (`scheduler.feeds.poller`; new articles are
planned and wake the loop) and delivering the notification outbox
(`notify`). Their database work is short and off the event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib
import logging
import signal
import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from sqlalchemy.engine import Engine

from scheduler.config import Settings
from scheduler.delivery import wakeups
from scheduler.delivery.dispatcher import Dispatcher
from scheduler.delivery.events import SendEvent
from scheduler.delivery.lanes import Lanes, make_client, make_lanes
from scheduler.errors import DatabaseUnavailable

if TYPE_CHECKING:
    # Imported where the long-running daemon starts its timers: `daemon --once`
    # has none, and APScheduler's import reads every package's entry points.
    from apscheduler.schedulers.asyncio import AsyncIOScheduler

log = logging.getLogger("scheduler.delivery.daemon")

#: How far ahead the daemon queues recurring posts (re-planned hourly).
RECURRING_HORIZON = dt.timedelta(days=2)


def wait_for_database(
    engine: Engine,
    *,
    say: Callable[[str], None],
    sleep: Callable[[float], None] = time.sleep,
    first_wait: float = 0.5,
    longest_wait: float = 30.0,
) -> None:
    """Return once the database answers with the schema this version needs.
    While it does not answer (PostgreSQL down, a full disk), wait and try
    again with growing waits, saying so each time, as a running daemon does
    when it loses its database; a database that answers but is not prepared
    (`scheduler init`) is an error at once."""
    from scheduler.storage import database

    wait = first_wait
    while True:
        try:
            database.require_schema(engine)
            return
        except DatabaseUnavailable as exc:
            say(f"{exc}; trying again in {wait:.1f}s")
        sleep(wait)
        wait = min(wait * 2, longest_wait)


class Daemon:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        dry_run: bool = False,
        on_event: Callable[[SendEvent], None] | None = None,
        listen: bool = True,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.dry_run = dry_run
        self.on_event = on_event
        self.listen = listen and wakeups.supported(engine) and not dry_run
        self._stop = asyncio.Event()
        self._wake = asyncio.Event()
        self._scheduler: AsyncIOScheduler | None = None
        self._armed: dt.datetime | None = None
        self.dispatcher: Dispatcher | None = None
        #: Set once the LISTEN connection is up (tests wait on it).
        self.listening = asyncio.Event()
        #: Feed polls and notifications delivered so far (tests and status count them).
        self.feed_polls = 0
        self.notified = 0
        #: APScheduler jobs running now (recurring planning, token upkeep).
        self._jobs: set[asyncio.Task[object]] = set()

    async def run_once(self) -> list[SendEvent]:
        """Publish what is due now, then return (`scheduler daemon --once`)."""
        async with make_lanes(self.settings.request_timeout_seconds) as lanes:
            self.dispatcher = self._dispatcher(lanes)
            return await self.dispatcher.run_due()

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread
                loop.add_signal_handler(sig, self.stop)
        from apscheduler.schedulers.asyncio import AsyncIOScheduler
        from apscheduler.triggers.interval import IntervalTrigger

        async with make_lanes(self.settings.request_timeout_seconds) as lanes:
            self.dispatcher = self._dispatcher(lanes)
            self._scheduler = AsyncIOScheduler(timezone=dt.UTC)
            self._scheduler.add_job(
                self._wake_job,
                IntervalTrigger(seconds=self._sweep_seconds()),
                id="sweep",
                coalesce=True,
                # The job only sets an event; while the loop is busy with a
                # pass, a second instance waiting is harmless (no warning).
                max_instances=8,
            )
            if not self.dry_run:
                # Channels with recurring settings (evergreen, calendar posts) get
                # their next two days queued now and every hour after.
                self._scheduler.add_job(
                    self._recurring_job,
                    IntervalTrigger(hours=1),
                    id="recurring",
                    next_run_time=dt.datetime.now(dt.UTC),
                    coalesce=True,
                    max_instances=1,
                    # Run even when the loop was busy at its time (start-up on
                    # a loaded machine); APScheduler's default drops it after 1 s.
                    misfire_grace_time=None,
                )
                # Connected channels' tokens: refreshed before they run out even
                # when the channel posts rarely; warnings a week ahead.
                self._scheduler.add_job(
                    self._credentials_job,
                    IntervalTrigger(hours=1),
                    id="credentials",
                    next_run_time=dt.datetime.now(dt.UTC),
                    coalesce=True,
                    max_instances=1,
                )
            self._scheduler.start()
            # Leases are renewed until the last send in flight is done.
            stop_beat = self.dispatcher.start_heartbeat()
            background: list[asyncio.Task[None]] = []
            side: list[asyncio.Task[None]] = []
            if self.listen:
                background.append(
                    asyncio.create_task(
                        wakeups.listen(
                            self.engine, self._notified, self._stop, on_ready=self.listening.set
                        )
                    )
                )
            if not self.dry_run:
                # Feeds and notifications run beside the send loop, each on its
                # own HTTP client: a slow feed or notifier never holds a send.
                side.append(asyncio.create_task(self._feeds_loop()))
                side.append(asyncio.create_task(self._notify_loop()))
            self.wake()
            await self._loop()
            # Stopping: no new claims; sends in flight finish. If they outlast a
            # lease, we leave anyway and the posts are recovered like a crash.
            self.dispatcher.claiming = False
            # A job still running (a stop right after the start, during the
            # first planning of recurring posts) ends first: APScheduler's
            # shutdown cancels it half-way and logs that as a crash, traceback
            # and all. No job starts meanwhile.
            self._scheduler.pause()
            if self._jobs:
                await asyncio.wait(set(self._jobs), timeout=self.settings.lease_seconds)
            self._scheduler.shutdown(wait=False)
            await self.dispatcher.drain(timeout=self.settings.lease_seconds)
            stop_beat()
            # A poll or a delivery cut short is taken up again later (a feed's
            # claim runs out; a notification is delivered at least once).
            for task in side:
                task.cancel()
            for task in side:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            for task in background:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(task, timeout=5)
        log.info("daemon stopped")

    def stop(self) -> None:
        self._stop.set()
        self._wake.set()

    def wake(self) -> None:
        """Look at the queue again soon (safe to call often: wake-ups coalesce)."""
        self._wake.set()

    def _notified(self) -> None:
        """Posts were queued elsewhere, maybe on a channel that had nothing
        due at the last look: the next pass looks at every channel."""
        self.dispatcher.exchange.forget_due()
        self.wake()

    async def _wake_job(self) -> None:
        # An async job runs on the event loop itself (a plain function would run
        # in APScheduler's thread pool, where touching asyncio objects is unsafe).
        self.wake()

    @contextlib.contextmanager
    def _job(self) -> Iterator[None]:
        """Counts a job as running until it returns (see `run_forever`'s stop)."""
        task = asyncio.current_task()
        if task is not None:
            self._jobs.add(task)
        try:
            yield
        finally:
            if task is not None:
                self._jobs.discard(task)

    async def _recurring_job(self) -> None:
        with self._job():
            try:
                created = await asyncio.to_thread(self._plan_recurring)
            except Exception:
                # A broken recurring template must not stop the daemon publishing.
                log.exception("planning recurring posts failed")
                return
        if created:
            log.info("queued %d recurring posts", created)
            self.wake()

    async def _credentials_job(self) -> None:
        from scheduler.accounts.tokens import upkeep

        with self._job():
            try:
                await asyncio.to_thread(upkeep, self.engine)
            except Exception:
                log.exception("checking connected channels' tokens failed")

    def _plan_recurring(self) -> int:
        from scheduler.compose import make_environment
        from scheduler.planning.recurring import plan_recurring
        from scheduler.storage import database

        now = dt.datetime.now(dt.UTC)
        env = make_environment(self.settings.templates)
        with database.session_scope(self.engine) as session:
            result = plan_recurring(session, env, now, now + RECURRING_HORIZON)
            return len(result.created)

    async def _loop(self) -> None:
        assert self.dispatcher is not None
        while not self._stop.is_set():
            await self._wake.wait()
            self._wake.clear()
            if self._stop.is_set():
                break
            try:
                if self.dry_run:
                    await self.dispatcher.run_due()
                else:
                    await self.dispatcher.pump()
                    self._arm_wake_up()
            except Exception:
                # A database hiccup must not kill the daemon; the sweep retries.
                log.exception("dispatch pass failed")

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=max(seconds, 0.05))

    async def _feeds_loop(self) -> None:
        """Poll each feed when it is due; wake the send loop when posts were planned."""
        # Imported off the event loop: at start-up the loop has timers to keep.
        for name in ("scheduler.feeds.poller", "scheduler.compose", "scheduler.ingest.fetch"):
            await asyncio.to_thread(importlib.import_module, name)
        from scheduler.compose import make_environment
        from scheduler.feeds.poller import Poller

        async with make_client(self.settings.request_timeout_seconds) as client:
            poller = Poller(
                self.engine,
                self.settings,
                client,
                lambda: make_environment(self.settings.templates),
            )
            while not self._stop.is_set():
                wait = self._sweep_seconds()
                try:
                    polled = await poller.poll()
                    self.feed_polls += len(polled)
                    if any(p.posts for p in polled):
                        self.wake()
                    nxt = await asyncio.to_thread(poller.next_due)
                    if nxt is not None:
                        wait = min(wait, (nxt - dt.datetime.now(dt.UTC)).total_seconds())
                    # Not below a second: a feed due but claimed by another
                    # daemon must not make this one spin.
                    wait = max(wait, min(1.0, self._sweep_seconds()))
                except Exception:
                    log.exception("polling feeds failed")
                await self._pause(wait)

    async def _notify_loop(self) -> None:
        """Deliver the notification outbox, retrying what did not get through."""
        await asyncio.to_thread(importlib.import_module, "scheduler.delivery.notify")
        from scheduler.delivery.notify import Notifier

        async with make_client(self.settings.request_timeout_seconds) as client:
            notifier = Notifier(
                self.engine, self.settings, client, retry_seconds=self.settings.notify_retry_seconds
            )
            while not self._stop.is_set():
                try:
                    self.notified += await notifier.drain()
                except Exception:
                    log.exception("delivering notifications failed")
                await self._pause(min(self._sweep_seconds(), 5.0))

    def _arm_wake_up(self) -> None:
        if self._scheduler is None or self._stop.is_set() or self.dispatcher is None:
            return
        now = dt.datetime.now(dt.UTC)
        when = self.dispatcher.next_wake(now)
        if when is None or when == self._armed:
            return
        self._armed = when
        from apscheduler.triggers.date import DateTrigger

        self._scheduler.add_job(
            self._wake_job,
            DateTrigger(run_date=max(when, now + dt.timedelta(milliseconds=10))),
            id="wake-up",
            replace_existing=True,
            misfire_grace_time=None,
            max_instances=8,
        )

    def _sweep_seconds(self) -> float:
        return (
            min(self.settings.sweep_seconds, 1.0) if self.dry_run else self.settings.sweep_seconds
        )

    def _dispatcher(self, lanes: Lanes) -> Dispatcher:
        return Dispatcher(
            self.engine,
            self.settings,
            lanes=lanes,
            dry_run=self.dry_run,
            on_event=self.on_event,
            on_capacity=self.wake,
        )
