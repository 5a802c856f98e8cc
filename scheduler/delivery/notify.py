"""Telling people what happened to their posts: a post failed, is unknown,
missed or held, or a channel was paused for bad credentials (through the
apprise URLs in `notify_urls`: email, ntfy, Slack, Matrix...), and each step of
a post's life (created, approved, sent, failed) to the optional
`lifecycle_webhook`, as JSON.

An outbox: `enqueue` writes the messages on the caller's connection, inside
the transaction that records the outcome they tell of, so a message exists
exactly when its outcome does. `Notifier.drain` (run by the daemon beside the
send loop, on its own HTTP client) delivers the due ones and retries a failed
delivery with growing waits; publishing never waits on a notifier. Not to be
confused with `wakeups`, PostgreSQL's LISTEN/NOTIFY between daemons.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import httpx
import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session

from scheduler.config import Settings
from scheduler.storage.models import Notification, utcnow

log = logging.getLogger("scheduler.delivery.notify")

#: Events a person is told of through `notify_urls`.
ALERTS = frozenset({"failed", "unknown", "missed", "held", "paused"})
#: Events the lifecycle webhook gets.
LIFECYCLE = frozenset({"created", "approved", "sent", "failed"})
#: A claimed delivery belongs to its daemon this long before another may retry it.
_CLAIM_SECONDS = 120.0


@dataclass(frozen=True)
class Notice:
    """Something to tell: `event` of post `post_id` on `channel` (its name)."""

    event: str
    post_id: int | None
    channel: str
    channel_id: int | None = None
    detail: str | None = None


def wanted(settings: Settings) -> bool:
    """Whether anything is listening (no rows are written otherwise)."""
    return bool(settings.notify_urls or settings.lifecycle_webhook)


def text_of(notice: Notice) -> str:
    """The message a person reads, with the command that shows the post."""
    subject = f"post {notice.post_id}" if notice.post_id is not None else "channel"
    line = f"scheduler: {subject} on {notice.channel} {notice.event}"
    if notice.detail:
        line += f": {notice.detail}"
    if notice.post_id is not None:
        line += f"\nsee: scheduler queue show {notice.post_id}"
    else:
        line += f"\nsee: scheduler channels list (resume with `channels resume {notice.channel}`)"
    return line


def rows_for(settings: Settings, notices: Iterable[Notice], now: dt.datetime) -> list[dict]:
    """Outbox rows for `notices`: one per apprise URL for alerts, one for the
    lifecycle webhook. The URLs are not stored (they hold secrets): a row names
    its URL by its place in `notify_urls`."""
    rows: list[dict] = []
    for n in notices:
        base = {
            "event": n.event,
            "post_id": n.post_id,
            "channel_id": n.channel_id,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
        }
        if n.event in ALERTS:
            text = text_of(n)
            for index in range(len(settings.notify_urls)):
                rows.append({**base, "target": f"apprise:{index}", "message": text})
        if n.event in LIFECYCLE and settings.lifecycle_webhook:
            body = {
                "event": n.event,
                "post_id": n.post_id,
                "channel": n.channel,
                "detail": n.detail,
                "at": now.isoformat(),
                "show": f"scheduler queue show {n.post_id}" if n.post_id is not None else None,
            }
            rows.append({**base, "target": "webhook", "message": json.dumps(body)})
    return rows


def enqueue(conn: Connection | Session, settings: Settings, notices: Sequence[Notice]) -> int:
    """Write `notices` to the outbox on `conn`, uncommitted: they are part of
    the caller's transaction. Returns the rows written."""
    if not notices or not wanted(settings):
        return 0
    rows = rows_for(settings, notices, utcnow())
    if rows:
        conn.execute(sa.insert(Notification.__table__), rows)  # type: ignore[attr-defined]
    return len(rows)


def backoff(attempts: int, base: float) -> float:
    return min(base * 2 ** max(attempts - 1, 0), 3600.0)


@dataclass(frozen=True)
class _Due:
    id: int
    target: str
    message: str
    attempts: int


class Notifier:
    """Delivers the outbox. Several daemons may share one: each row is claimed
    (its next attempt moved on) before it is delivered."""

    def __init__(
        self,
        engine: Engine,
        settings: Settings,
        client: httpx.AsyncClient,
        *,
        retry_seconds: float = 30.0,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.client = client
        self.retry_seconds = retry_seconds

    async def drain(self, limit: int = 50) -> int:
        """Deliver up to `limit` due messages; returns how many got through."""
        due = await asyncio.to_thread(self._claim, limit)
        if not due:
            return 0
        results = await asyncio.gather(*(self._deliver(d) for d in due))
        await asyncio.to_thread(self._record, list(zip(due, results, strict=True)))
        return sum(1 for r in results if r is None)

    def _claim(self, limit: int) -> list[_Due]:
        table = Notification.__table__  # type: ignore[attr-defined]
        now = utcnow()
        out: list[_Due] = []
        with self.engine.connect() as conn:
            rows = conn.execute(
                sa.select(table.c.id, table.c.target, table.c.message, table.c.attempts)
                .where(
                    table.c.delivered_at.is_(None),
                    table.c.next_attempt_at <= now,
                    table.c.attempts < self.settings.notify_max_attempts,
                )
                .order_by(table.c.next_attempt_at, table.c.id)
                .limit(limit)
            ).all()
            until = now + dt.timedelta(seconds=_CLAIM_SECONDS)
            for row in rows:
                taken = conn.execute(
                    sa.update(table)
                    .where(table.c.id == row.id, table.c.attempts == row.attempts)
                    .values(attempts=row.attempts + 1, next_attempt_at=until)
                ).rowcount
                if taken == 1:
                    out.append(_Due(row.id, row.target, row.message, row.attempts + 1))
            conn.commit()
        return out

    async def _deliver(self, due: _Due) -> str | None:
        """None when delivered, else why not (one line)."""
        try:
            if due.target == "webhook":
                url = self.settings.lifecycle_webhook
                if not url:
                    return "no lifecycle_webhook is set any more"
                resp = await self.client.post(
                    url,
                    content=due.message.encode(),
                    headers={"Content-Type": "application/json"},
                )
                if resp.is_success:
                    return None
                return f"the webhook answered HTTP {resp.status_code}"
            index = int(due.target.partition(":")[2] or -1)
            if not 0 <= index < len(self.settings.notify_urls):
                return "its notify_urls entry is gone"
            url = self.settings.notify_urls[index]
            ok = await asyncio.to_thread(_apprise_send, url, due.message)
            return None if ok else "apprise could not deliver it (see the daemon's log)"
        except Exception as exc:
            text = str(exc).strip()
            return (text.splitlines()[0] if text else type(exc).__name__)[:300]

    def _record(self, results: list[tuple[_Due, str | None]]) -> None:
        table = Notification.__table__  # type: ignore[attr-defined]
        now = utcnow()
        with self.engine.connect() as conn:
            for due, error in results:
                if error is None:
                    values = {"delivered_at": now, "last_error": None}
                else:
                    wait = backoff(due.attempts, self.retry_seconds)
                    values = {
                        "last_error": error,
                        "next_attempt_at": now + dt.timedelta(seconds=wait),
                    }
                    if due.attempts >= self.settings.notify_max_attempts:
                        log.error("notification %s given up: %s", due.id, error)
                    else:
                        log.warning("notification %s not delivered: %s", due.id, error)
                conn.execute(sa.update(table).where(table.c.id == due.id).values(**values))
            conn.commit()


def _apprise_send(url: str, message: str) -> bool:
    import apprise

    title, _, body = message.partition("\n")
    app = apprise.Apprise()
    if not app.add(url):
        return False
    return bool(app.notify(title=title, body=body or title))


def pending(session: Session) -> list[Notification]:
    """Messages not delivered yet, oldest first (tests, `status`)."""
    from sqlmodel import select

    return list(
        session.exec(
            select(Notification)
            .where(Notification.delivered_at.is_(None))  # type: ignore[union-attr]
            .order_by(Notification.id)
        )
    )
