"""Database access: the engine per dialect, the schema check, the atomic claim,
and how a send's outcome is written back.

The posts table is the queue of record. A daemon claims due posts by moving
them queued -> sending with a lease in one statement (`FOR UPDATE SKIP LOCKED`
on PostgreSQL; a conditional UPDATE under SQLite's single writer), so two
daemons never hold the same post. The daemon renews the leases of posts it is
sending; a daemon that dies stops renewing, and after one lease any daemon puts
its posts back (or marks them `unknown` when a request may have left for a
platform that does not dedupe).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError
from sqlmodel import Session

from scheduler.errors import DatabaseError, DatabaseUnavailable
from scheduler.storage import migrations
from scheduler.storage.models import Post, PostStatus

SQLITE_BUSY_MS = 30_000

T = TypeVar("T")
log = logging.getLogger("scheduler.storage.database")


def normalise_url(url: str) -> str:
    """Accept the URLs people type: a bare path means SQLite, and plain
    `postgresql://` means psycopg 3."""
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser()}"
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def make_engine(url: str, *, busy_timeout: float | None = None) -> Engine:
    """`busy_timeout` (seconds, SQLite): how long a write waits for another
    writer before `database is locked`; the callers retry after that."""
    url = normalise_url(url)
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise DatabaseError(f"not a database URL: {url}") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(
                url, SQLITE_BUSY_MS if busy_timeout is None else busy_timeout * 1000
            )
        return sa.create_engine(url, pool_pre_ping=True, future=True)
    except NoSuchModuleError:
        raise DatabaseError(f"no driver for {parsed.drivername!r}") from None
    except ModuleNotFoundError as exc:
        if parsed.get_backend_name() == "postgresql":
            raise DatabaseError(
                "PostgreSQL needs the postgres extra: pip install 'scheduler[postgres]'"
            ) from None
        raise DatabaseError(f"database driver missing: {exc.name}") from None


def _sqlite_engine(url: str, busy_ms: float = SQLITE_BUSY_MS) -> Engine:
    database = make_url(url).database
    if database and database != ":memory:":
        parent = Path(database).expanduser().resolve().parent
        if not parent.is_dir():
            raise DatabaseError(f"folder for the database does not exist: {parent}")
    engine = sa.create_engine(url, connect_args={"timeout": busy_ms / 1000}, future=True)

    @event.listens_for(engine, "connect")
    def _pragmas(dbapi_conn, _record):  # type: ignore[no-untyped-def]
        # WAL lets readers (CLI listings, previews) run beside the daemon's writes;
        # the busy timeout makes a locked database wait instead of failing.
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute(f"PRAGMA busy_timeout={int(busy_ms)}")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.close()

    return engine


def describe(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def init_database(engine: Engine) -> dict[str, str | None]:
    """Create or migrate the schema (`scheduler init`): where, what happened, which revision."""
    try:
        before, after = migrations.upgrade(engine)
    except sa.exc.DBAPIError as exc:
        error = DatabaseUnavailable if is_transient(exc) else DatabaseError
        raise error(f"cannot open database {describe(engine)}: {_first_line(exc)}") from None
    what = "created" if before is None else ("already current" if before == after else "migrated")
    return {"database": describe(engine), "result": what, "revision": after}


def status(engine: Engine) -> dict[str, Any]:
    """What `scheduler status` reports: the database, its revision, posts by
    status, and when the next queued post is due (the schema was checked)."""
    with Session(engine) as session:
        rows = session.execute(sa.select(Post.status, sa.func.count()).group_by(Post.status)).all()
        next_due = session.execute(
            sa.select(sa.func.min(Post.due_at)).where(Post.status == PostStatus.queued.value)
        ).scalar()
    return {
        "database": describe(engine),
        "revision": migrations.current_revision(engine),
        "posts": {status: count for status, count in rows},
        "next_due": next_due.isoformat() if isinstance(next_due, dt.datetime) else next_due,
    }


def require_schema(engine: Engine) -> None:
    """Refuse to work on a database that `scheduler init` has not prepared."""
    database = engine.url.database
    if (
        engine.dialect.name == "sqlite"
        and database not in (None, "", ":memory:")
        and not Path(database).exists()
    ):
        # Checked first so a typo in --db does not leave an empty file behind.
        raise DatabaseError(f"no database at {database}; run `scheduler init` to create it")
    try:
        current = migrations.current_revision(engine)
    except sa.exc.DBAPIError as exc:
        error = DatabaseUnavailable if is_transient(exc) else DatabaseError
        raise error(f"cannot open database {describe(engine)}: {_first_line(exc)}") from None
    head = migrations.head_revision(engine)
    if current is None:
        raise DatabaseError(f"database {describe(engine)} is not initialised; run `scheduler init`")
    if current != head:
        raise DatabaseError(
            f"database {describe(engine)} is at revision {current}, this version needs "
            f"{head}; run `scheduler init` to migrate"
        )


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


# -- transient failures -------------------------------------------------------

#: SQLite under another writer past its busy timeout, PostgreSQL restarting or
#: dropping a connection, a deadlock or serialization failure: all worth trying
#: again rather than failing a pass (or a post).
_TRANSIENT_WORDS = (
    "database is locked",
    "database table is locked",
    "database is busy",
    "deadlock detected",
    "could not serialize",
    "server closed the connection",
    "connection refused",
    "terminating connection",
    "the database system is",
    "connection is closed",
    "consuming input failed",
    # A full disk clears when space is made: worth waiting for, and said
    # plainly (`disk_full`).
    "database or disk is full",
    "no space left on device",
    "could not extend file",
)
_DISK_FULL_WORDS = _TRANSIENT_WORDS[-3:]


def disk_full(exc: BaseException) -> bool:
    """Whether a database error means the disk it writes to is full."""
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(word in text for word in _DISK_FULL_WORDS)


def is_transient(exc: BaseException) -> bool:
    """A database error that goes away if the same work is tried again."""
    if not isinstance(exc, (OperationalError, DBAPIError)):
        return False
    if getattr(exc, "connection_invalidated", False):
        return True
    text = str(getattr(exc, "orig", None) or exc).lower()
    return any(word in text for word in _TRANSIENT_WORDS)


def retry_transient(
    fn: Callable[[], T],
    *,
    seconds: float = 60.0,
    first_wait: float = 0.05,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `fn` (which opens its own session) again while it fails transiently,
    up to `seconds`; the last error is raised when time runs out."""
    retrying = _Retrying(seconds, first_wait)
    while True:
        try:
            return fn()
        except Exception as exc:
            wait = retrying.wait_after(exc)
            if wait is None:
                raise
        sleep(wait)


async def retry_transient_async(fn: Callable[[], T], *, seconds: float = 60.0) -> T:
    """`retry_transient` for the daemon: waits without blocking the event loop."""
    retrying = _Retrying(seconds, 0.05)
    while True:
        try:
            return fn()
        except Exception as exc:
            wait = retrying.wait_after(exc)
            if wait is None:
                raise
        await asyncio.sleep(wait)


class _Retrying:
    """The rule both retry loops follow: transient errors only, growing jittered
    waits (at most about 2 s), until the deadline."""

    def __init__(self, seconds: float, first_wait: float) -> None:
        self.deadline = time.monotonic() + seconds
        self.wait = first_wait

    def wait_after(self, exc: Exception) -> float | None:
        """How long to wait before trying again after `exc`; None: give up."""
        if not is_transient(exc) or time.monotonic() + self.wait > self.deadline:
            return None
        if disk_full(exc):
            log.error("the database's disk is full (%s); trying again", _first_line(exc))
        else:
            log.warning("database busy or unreachable (%s); trying again", _first_line(exc))
        wait = self.wait
        self.wait = min(self.wait * 2, 2.0) * random.uniform(0.8, 1.2)
        return wait
