"""The long-running publisher.

APScheduler drives time; the posts table is the queue. Jobs: a one-shot wake-up
at the next due time (re-armed after every pass), and a periodic sweep that
notices posts added or moved by other processes. SIGTERM/SIGINT stop new claims,
let in-flight sends finish (bounded by the lease), then exit.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import signal
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.date import DateTrigger
from apscheduler.triggers.interval import IntervalTrigger
from sqlalchemy.engine import Engine
from sqlmodel import Session

from scheduler import store
from scheduler.config import Settings
from scheduler.dispatch import Dispatcher, SendEvent, make_client

log = logging.getLogger("scheduler.daemon")


class Daemon:
    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        *,
        dry_run: bool = False,
        on_event: Callable[[SendEvent], None] | None = None,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.dry_run = dry_run
        self.on_event = on_event
        self._stop = asyncio.Event()
        self._pass_lock = asyncio.Lock()
        self._scheduler: AsyncIOScheduler | None = None
        self.dispatcher: Dispatcher | None = None

    async def run_once(self) -> list[SendEvent]:
        """Publish what is due now, then return (`scheduler daemon --once`)."""
        async with make_client() as client:
            self.dispatcher = self._dispatcher(client)
            return await self.dispatcher.run_due()

    async def run_forever(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # not main thread
                loop.add_signal_handler(sig, self.stop)
        async with make_client() as client:
            self.dispatcher = self._dispatcher(client)
            self._scheduler = AsyncIOScheduler(timezone=dt.UTC)
            self._scheduler.add_job(
                self._pass,
                IntervalTrigger(seconds=self._sweep_seconds()),
                id="sweep",
                coalesce=True,
                max_instances=1,
            )
            self._scheduler.start()
            await self._pass()
            await self._stop.wait()
            self._scheduler.shutdown(wait=False)
            # Let a pass in progress finish its sends; a lease bounds how long a
            # post stays claimed if we are killed instead.
            async with self._pass_lock:
                pass
        log.info("daemon stopped")

    def stop(self) -> None:
        self._stop.set()

    async def _pass(self) -> None:
        if self._stop.is_set():
            return
        async with self._pass_lock:
            assert self.dispatcher is not None
            try:
                await self.dispatcher.run_due()
            except Exception:
                # A database hiccup must not kill the daemon; the next pass retries.
                log.exception("dispatch pass failed")
            self._arm_wake_up()

    def _arm_wake_up(self) -> None:
        if self._scheduler is None or self._stop.is_set() or self.dry_run:
            # A dry run leaves posts queued, so "next due" never moves on; it
            # relies on the (shortened) sweep instead.
            return
        with Session(self.engine) as session:
            when = store.next_due_at(session)
        if when is None:
            return
        now = dt.datetime.now(dt.UTC)
        self._scheduler.add_job(
            self._pass,
            DateTrigger(run_date=max(when, now + dt.timedelta(milliseconds=10))),
            id="wake-up",
            replace_existing=True,
            misfire_grace_time=None,
        )

    def _sweep_seconds(self) -> float:
        return (
            min(self.settings.sweep_seconds, 1.0) if self.dry_run else self.settings.sweep_seconds
        )

    def _dispatcher(self, client) -> Dispatcher:  # type: ignore[no-untyped-def]
        return Dispatcher(
            self.engine,
            self.settings,
            client=client,
            dry_run=self.dry_run,
            on_event=self.on_event,
        )
