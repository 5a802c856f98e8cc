"""Wake-ups between daemons on PostgreSQL: LISTEN on `scheduler_posts`.

A trigger (migration 0003) sends a NOTIFY after any statement leaves posts
queued: added, moved, retried, handed back. Each daemon keeps one psycopg 3
async connection listening and runs a pass when something arrives, so a post
queued for "now" by another process goes out at once rather than at the next
sweep. Notifications are only a hint: the sweep still runs, and a dropped
listening connection is reopened with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
from collections.abc import Callable

from sqlalchemy.engine import Engine

CHANNEL = "scheduler_posts"

log = logging.getLogger("scheduler.delivery.wakeups")


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql"


def conninfo(engine: Engine) -> str:
    """The engine's URL as a libpq URI (psycopg does not read SQLAlchemy's
    `postgresql+psycopg://`)."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


async def listen(
    engine: Engine,
    on_notify: Callable[[], None],
    stop: asyncio.Event,
    *,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Call `on_notify` for every notification until `stop` is set."""
    import psycopg

    wait = 0.5
    while not stop.is_set():
        try:
            conn = await psycopg.AsyncConnection.connect(conninfo(engine), autocommit=True)
        except (psycopg.Error, OSError) as exc:
            log.warning("cannot listen for wake-ups (%s); retrying in %.1fs", exc, wait)
            await _sleep_or_stop(stop, wait)
            wait = min(wait * 2, 30.0) * random.uniform(0.8, 1.2)
            continue
        try:
            async with conn:
                await conn.execute(f"LISTEN {CHANNEL}")
                wait = 0.5
                if on_ready is not None:
                    on_ready()
                # Anything queued while we were not listening is found by this pass.
                on_notify()
                while not stop.is_set():
                    async for _ in conn.notifies(timeout=1.0):
                        on_notify()
                        if stop.is_set():
                            break
        except (psycopg.Error, OSError) as exc:
            if stop.is_set():
                break
            log.warning("wake-up connection lost (%s); reconnecting", exc)
            await _sleep_or_stop(stop, wait)


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)


def notify(engine: Engine) -> None:
    """Wake every listening daemon now (for code paths outside the trigger)."""
    if not supported(engine):
        return
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(sa.text("SELECT pg_notify(:c, '')"), {"c": CHANNEL})
