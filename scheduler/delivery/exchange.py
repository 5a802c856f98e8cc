"""The daemon's exchange with the database: record outcomes, claim, begin
attempts, renew leases, take back dead daemons' posts. No network, no event
loop: every method is one short transaction that a caller may run again.

A pass (`Exchange.run`) is one transaction: write the outcomes of the sends
that finished since the last pass, claim (lease) up to each channel's free room
and count those posts' attempts, read the rows (one that no longer reads fails
alone), build each post's requests as a check (a failure here sends nothing,
so the post is `failed` and its attempt is taken back; media files are looked
at, not read: the send reads them once, see `outgoing.unread`), write the attempt rows, commit. Only
then may the requests leave (`delivery.dispatcher`). Batching is what keeps the
scheduler's cost per post near the HTTP client's own (benchmarks/dispatch.py).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.engine import Connection, Engine
from sqlmodel import Session, select

from scheduler.accounts.channels import publisher_for, watch_enabled
from scheduler.config import Settings
from scheduler.delivery import attempts, claims, notify, watch
from scheduler.delivery.events import SendEvent
from scheduler.delivery.outgoing import outgoing, unread
from scheduler.errors import SchedulerError
from scheduler.planning.expiry import EXPIRED, expire_due
from scheduler.publishers import OutgoingPost, Publisher, publisher_class
from scheduler.storage import database
from scheduler.storage.models import Channel, Post

log = logging.getLogger("scheduler.delivery.exchange")

#: How long a complete look at the due channels is trusted while sending (see
#: `Exchange._due_in_turn`): a post that another process adds for a channel
#: that had nothing due waits at most this long behind a busy channel's backlog.
_KNOWN_SECONDS = 1.0


@dataclass
class Flight:
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
    #: time.monotonic() until which the lease is ours: set at the claim (taken
    #: before the claim's statement ran) and moved on by each renewal.
    lease_until: float = 0.0
    #: Passes that failed to write this send's outcome so far.
    record_tries: int = 0
    #: Set when the post's source page is re-checked before it goes (source watch).
    watch: watch.Target | None = None

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


@dataclass
class Pass:
    """What a pass's transaction did (`Exchange.run`)."""

    #: False when the outcomes could not be written together (see `Exchange.run`).
    recorded: bool = True
    kept: set[int] = field(default_factory=set)
    started: list[Flight] = field(default_factory=list)
    failed: list[SendEvent] = field(default_factory=list)


def one_line(exc: BaseException) -> str:
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
    return one_line(exc)


class Exchange:
    """One daemon's (one `owner`'s) statements against the queue."""

    def __init__(self, engine: Engine, settings: Settings, owner: str, batch: int = 200) -> None:
        self.engine = engine
        self.settings = settings
        self.owner = owner
        self.batch = batch
        #: Platform -> whether its adapter dedupes a resend by key.
        self._idempotent: dict[str, bool] = {}
        self._publishers: dict[tuple[Any, ...], Publisher] = {}
        self._last_publisher: dict[int, tuple[Channel, str | None, Publisher]] = {}
        self._channel_rows: dict[int, tuple[tuple[Any, ...], Channel]] = {}
        #: How a channel's stored values are converted (None: read again).
        self._converters = claims.channel_converters(engine.dialect)
        #: The channel the last claim took posts from (see `_claim`).
        self._after = 0
        #: A channel id after which the last look found no due channel.
        self._none_after = -1
        #: The due channels the last complete look found, and until when no
        #: other channel can have become due by time (see `_due_in_turn`).
        self._known_due: list[int] | None = None
        self._known_until: dt.datetime | None = None
        #: Find due channels from the due posts (fewer of them than channels,
        #: as the last upkeep counted; PostgreSQL only): see `claims`.
        self._by_post = False
        #: The connection passes run on while sends are in flight (`_connection`).
        self._conn: Connection | None = None

    @property
    def lease(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.settings.lease_seconds)

    # -- a pass ----------------------------------------------------------------

    def run(
        self,
        done: list[Flight],
        now: dt.datetime,
        room: Callable[[int], int] | None,
        budget: int = 1 << 30,
    ) -> Pass:
        """The pass's transaction: record `done`, then, unless `room` is None,
        claim up to `room(channel_id)` posts of each due channel and at most
        `budget` in all, build each
        claimed post's requests, fail the ones that cannot be sent (nothing has
        left, so nothing is unknown), and write the others' attempts. Commits
        before any of them is sent. Keeps no state of the pass: it may be run
        again after a transient error."""
        finished = [attempts.Finished(f.post.id, f.attempt_id, f.result) for f in done]
        result = Pass()
        conn = self._connection()
        try:
            try:
                result.kept = attempts.finish_many(conn, self.owner, finished, commit=False)
            except Exception as exc:
                if database.is_transient(exc):
                    raise
                # One outcome the database refuses must not stop the pass: the
                # caller writes them one by one instead (`finish_each`).
                conn.rollback()
                result.recorded = False
            else:
                # In the outcomes' transaction: a message exists iff its outcome does.
                self._tell(conn, [f for f in done if f.post.id in result.kept])
            if room is not None and budget > 0:
                self._claim(conn, now, room, budget, result)
            conn.commit()
        except BaseException:
            # Whatever failed (a lock, a dropped connection), the next pass
            # starts on a fresh connection with nothing of this one's work.
            self.release()
            raise
        return result

    def _connection(self) -> Connection:
        """The passes' connection, kept from one pass to the next while the
        daemon is sending: checking one out of the pool every pass cost about
        2 % of a send's CPU on SQLite, and on PostgreSQL `pool_pre_ping` made
        it a round trip a pass. Between passes no transaction is open (each
        pass commits), so nothing is held that another daemon waits for."""
        conn = self._conn
        if conn is None or conn.closed or conn.invalidated:
            conn = self._conn = self.engine.connect()
        return conn

    def release(self) -> None:
        """Give the passes' connection back to the pool (the daemon is idle,
        stopping, or the last pass failed); the next pass checks one out, and
        looks at every channel again."""
        self.forget_due()
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _tell(self, conn: Connection, done: list[Flight]) -> None:
        """Outbox rows for recorded outcomes a person should hear of; and a
        channel whose credentials were refused (HTTP 401) is paused, since
        every other post of it would fail the same way."""
        if not done:
            return
        paused: dict[int, Flight] = {}
        notices: list[notify.Notice] = []
        for f in done:
            outcome = f.result
            status = outcome.status.value
            if status == "failed" and outcome.status_code == 401:
                paused.setdefault(f.channel_id, f)
            if status in ("failed", "unknown", "held", "sent"):
                notices.append(
                    notify.Notice(status, f.post.id, f.channel.name, f.channel_id, outcome.error)
                )
        for channel_id, f in paused.items():
            channels_table = Channel.__table__  # type: ignore[attr-defined]
            conn.execute(
                sa.update(channels_table)
                .where(channels_table.c.id == channel_id)
                .values(paused=True)
            )
            log.error("channel %s paused: its credentials were refused", f.channel.name)
            notices.append(
                notify.Notice(
                    "paused",
                    None,
                    f.channel.name,
                    channel_id,
                    f"its credentials were refused (post {f.post.id}: {f.result.error})",
                )
            )
        if notify.wanted(self.settings):
            notify.enqueue(conn, self.settings, notices)

    def _claim(
        self,
        conn: Connection,
        now: dt.datetime,
        room: Callable[[int], int],
        budget: int,
        result: Pass,
    ) -> None:
        failures: list[tuple[int, str]] = []
        for channel_id, row in self._due_in_turn(conn, now, budget):
            free = min(room(channel_id), self.batch, budget)
            if free <= 0:
                continue
            claimed = attempts.claim_and_begin(conn, self.owner, now, self.lease, free, channel_id)
            if claimed:
                budget -= len(claimed)
                self._after = channel_id
            channel = self._channel(conn, channel_id, row)
            for post in claimed:
                flight = self._ready(channel_id, channel, post, now, result, failures)
                if flight is not None:
                    result.started.append(flight)
            if budget <= 0:
                break
        attempts.fail_unsent(conn, self.owner, failures)
        if failures and notify.wanted(self.settings):
            names = {e.post_id: e.channel for e in result.failed}
            notify.enqueue(
                conn,
                self.settings,
                [notify.Notice("failed", i, names.get(i, "?"), None, e) for i, e in failures],
            )
        ids = attempts.insert_attempts(conn, self.owner, [f.post.id for f in result.started], now)
        watched = [f for f in result.started if f.post.watchable and self._watched(f.channel)]
        if watched:
            found = watch.targets(conn, [f.post.id for f in watched])
            for flight in watched:
                flight.watch = found.get(flight.post.id)
        for flight in result.started:
            flight.started = attempts.Started(ids[flight.post.id], flight.post.attempts)

    def _due_in_turn(
        self, conn: Connection, now: dt.datetime, budget: int
    ) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """Due channels in turn: those after the channel the last claim took
        posts from, then from the first up to it, so with more due channels
        than the budget allows none waits on the others' backlogs. Read a few
        rows at a time, as the caller consumes them: a pass that starts 10
        sends reads about 10 channels, not every channel with a post due.

        A look that read every due channel (fewer than the budget) is kept
        while the daemon is sending: until the next post falls due, or for
        `_KNOWN_SECONDS` at most (a post added by another process, a channel
        unpaused), later passes look only at those channels. One busy channel
        beside 10,000 idle ones otherwise cost a probe of each idle channel at
        every pass: 1,949 instead of 713 µs a post on SQLite."""
        known = self._known_due
        if known and self._known_until is not None and now < self._known_until:
            yield from self._known_in_turn(conn, now, known)
            return
        self._known_due = None
        seen: list[int] = []
        chunk = min(budget + 16, 256)
        legs: list[tuple[int, int | None]] = [(self._after, None)]
        if self._after > 0:
            if self._after == self._none_after:
                # The last look found no due channel after this one (one
                # channel, or the last by id): start from the first, one
                # statement instead of an empty one and then the wrap-around.
                legs = [(0, None)]
            else:
                legs.append((0, self._after))
        for low, upto in legs:
            while True:
                rows = claims.due_channel_rows_after(
                    conn, now, low, chunk, upto, by_post=self._by_post
                )
                if upto is None and len(rows) < chunk:
                    # Read to the end: no due channel after the last row.
                    self._none_after = rows[-1][0] if rows else low
                for row in rows:
                    seen.append(row[0])
                    yield row[0], row
                if len(rows) < chunk:
                    break
                low = rows[-1][0]
        # Reached only when the caller took every due channel: the look was complete.
        self._known_due = sorted(seen)
        later = claims.next_due_at(conn, after=now)
        until = now + dt.timedelta(seconds=_KNOWN_SECONDS)
        self._known_until = min(until, later) if later is not None else until

    def _known_in_turn(
        self, conn: Connection, now: dt.datetime, known: list[int]
    ) -> Iterator[tuple[int, tuple[Any, ...]]]:
        """The channels of the last complete look that still have a post due,
        in turn from the one after the last claim; the others are dropped."""
        rows = {row[0]: row for row in claims.due_channel_rows_among(conn, now, known)}
        self._known_due = [i for i in known if i in rows]
        after = self._after
        for channel_id in [i for i in known if i > after] + [i for i in known if i <= after]:
            row = rows.get(channel_id)
            if row is not None:
                yield channel_id, row

    def forget_due(self) -> None:
        """Look at every channel again at the next pass."""
        self._known_due = None

    def _ready(
        self,
        channel_id: int,
        channel: Channel | str,
        claimed: attempts.Claimed | tuple[int, str],
        now: dt.datetime,
        result: Pass,
        failures: list[tuple[int, str]],
    ) -> Flight | None:
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
            publisher = self.publisher(channel)
            out = outgoing(post, publisher)
            with contextlib.suppress(NotImplementedError):
                # A check only: the send builds the requests it sends, once.
                publisher.build_requests(unread(out))
        except Exception as exc:
            error = f"cannot prepare the post: {_describe(exc, channel)}"
            failures.append((post.id, error))
            result.failed.append(
                SendEvent(post.id, channel.name, "failed", post.due_at, now, post.text, error=error)
            )
            return None
        return Flight(channel_id, post, channel, publisher, out)

    def _watched(self, channel: Channel) -> bool:
        try:
            return watch_enabled(channel)
        except SchedulerError:
            return True  # a stored value that does not read: watch, the safe side

    def _channel(self, conn: Connection, channel_id: int, stored: tuple[Any, ...]) -> Channel | str:
        """The channel as an object, or why its row cannot be read. Rows rarely
        change: the object built for the same stored values is reused (building
        one costs more than a send)."""
        cached = self._channel_rows.get(channel_id)
        if cached is not None and cached[0] == stored:
            return cached[1]
        try:
            channel = Channel(**claims.channel_row(conn, channel_id, stored, self._converters))
        except Exception as exc:
            if database.is_transient(exc):
                raise
            return one_line(exc)
        self._channel_rows[channel_id] = (stored, channel)
        return channel

    def publisher(self, channel: Channel) -> Publisher:
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
            publisher = publisher_for(channel, reveal=True, engine=self.engine)
            self._publishers[key] = publisher
        self._last_publisher[channel.id or 0] = (channel, secret, publisher)
        return publisher

    # -- outcomes ----------------------------------------------------------------

    def recorded(self, done: list[Flight], result: Pass) -> tuple[set[int], set[int]]:
        """(lease still ours, recorded) after a pass."""
        if result.recorded:
            return result.kept, {f.post.id for f in done}
        return self.finish_each(done)

    def finish_each(self, done: list[Flight]) -> tuple[set[int], set[int]]:
        """Outcomes one transaction each: (lease still ours, recorded)."""
        kept, recorded = set(), set()
        for flight in done:
            post_id = flight.post.id
            try:
                with self.engine.connect() as conn:
                    if attempts.finish(conn, post_id, flight.attempt_id, self.owner, flight.result):
                        kept.add(post_id)
                        # Its own transaction after the outcome's: this path is
                        # the rare one (a batch the database refused).
                        self._tell(conn, [flight])
                        conn.commit()
                recorded.add(post_id)
            except Exception as exc:
                # The post stays leased until its lease runs out; then it is
                # recovered (resent when safe, else `unknown`).
                log.error("post %s: outcome not recorded: %s", post_id, one_line(exc))
        return kept, recorded

    def earlier_unsure(self, post_id: int) -> bool:
        """Whether an earlier attempt of the post may have reached the platform."""
        with Session(self.engine) as session:
            return attempts.earlier_unsure(session, post_id)

    # -- leases and upkeep -------------------------------------------------------

    def renew(self, post_ids: list[int], now: dt.datetime) -> set[int]:
        """Renew the leases still ours among `post_ids`; returns those."""
        with Session(self.engine) as session:
            return claims.renew_leases(session, self.owner, post_ids, now, self.lease)

    def upkeep(self, now: dt.datetime, holding: Collection[int] = ()) -> list[SendEvent]:
        """Take back dead daemons' posts, expire and mark missed posts; the
        missed ones, and the posts a dead daemon left `unknown`, come back as
        events. `holding`: the posts this daemon is still sending, never taken
        back from itself, whatever their lease says (a daemon that stalled past
        its lease is still the one sending them)."""
        unknown: list[SendEvent] = []

        def tell_unknown(session: Session, post_ids: list[int]) -> None:
            # A post that may or may not be on the platform waits for a person
            # (`queue reconcile`, `queue retry`): said on the daemon's output
            # and in a notice, as for a send that itself ended unknown.
            found = self._upkeep_events(session, post_ids, now, claims.LOST_UNSAFE, "unknown")
            unknown[:] = found
            if notify.wanted(self.settings):
                notify.enqueue(
                    session,
                    self.settings,
                    [notify.Notice("unknown", e.post_id, e.channel, None, e.error) for e in found],
                )

        with database.session_scope(self.engine) as session:
            recovered = claims.recover_expired_leases(
                session,
                now,
                self.idempotent_platforms(session),
                holding=holding,
                tell=tell_unknown,
            )
            if any(recovered.values()):
                log.info("took back posts from stopped daemons: %s", recovered)
                self.forget_due()  # they may be due on channels the last look passed over
            expired = expire_due(session, now)
            missed = claims.mark_missed(session, now, self.settings.grace_seconds)
            if self.engine.dialect.name == "postgresql":
                self._by_post = claims.fewer_due_than_channels(session, now)
            missed_events = [
                *self._upkeep_events(session, [i for i in expired], now, EXPIRED),
                *self._upkeep_events(session, [i for i, _grace in missed], now),
            ]
            if missed_events and notify.wanted(self.settings):
                notify.enqueue(
                    session,
                    self.settings,
                    [
                        notify.Notice("missed", e.post_id, e.channel, None, e.error)
                        for e in missed_events
                    ],
                )
        if self.engine.dialect.name == "postgresql" and claims.refresh_statistics(self.engine):
            log.info("analysed the posts table: its statistics were out of date")
        return [*unknown, *missed_events]

    def _upkeep_events(
        self,
        session: Session,
        post_ids: list[int],
        now: dt.datetime,
        why: str | None = None,
        status: str = "missed",
    ) -> list[SendEvent]:
        """One `status` event per post, in the order given. The rows are read a chunk
        at a time: a daemon back from a week away may find thousands missed,
        and a query per post made that upkeep the slowest step of its start.
        A chunk that does not read (one bad stored date) is read again post
        by post, so only the bad row falls back to a bare event."""
        found: dict[int, tuple[Any, ...]] = {}
        for start in range(0, len(post_ids), 500):
            chunk = post_ids[start : start + 500]
            try:
                found.update(
                    (row[0], tuple(row[1:])) for row in session.execute(self._upkeep_rows(chunk))
                )
            except Exception as exc:
                if database.is_transient(exc):
                    raise
                for post_id in chunk:
                    with contextlib.suppress(Exception):
                        row = session.execute(self._upkeep_rows([post_id])).one()
                        found[post_id] = tuple(row[1:])
        events = []
        for post_id in post_ids:
            due, text, name = found.get(post_id, (now, "", "?"))
            events.append(SendEvent(post_id, name, status, due, now, text, error=why))
        return events

    @staticmethod
    def _upkeep_rows(post_ids: list[int]) -> sa.Select[Any]:
        return (
            sa.select(Post.id, Post.due_at, Post.text, Channel.name)
            .join(Channel, Channel.id == Post.channel_id)
            .where(Post.id.in_(post_ids))  # type: ignore[attr-defined]
        )

    def next_due_at(self, now: dt.datetime) -> dt.datetime | None:
        with Session(self.engine) as session:
            return claims.next_due_at(session, after=now)

    def idempotent_platforms(self, session: Session) -> list[str]:
        """Platforms of the queue's channels whose adapter dedupes a resend by
        key. Only the platforms in use are asked: loading every installed
        adapter took a tenth of a second at each daemon start. Read again at
        every upkeep, so a channel added meanwhile counts; a platform left out
        is treated as unsafe (its lost sends become `unknown`), never the other
        way round."""
        in_use = session.execute(sa.select(Channel.platform).distinct()).scalars()
        names = []
        for name in in_use:
            safe = self._idempotent.get(name)
            if safe is None:
                try:
                    safe = bool(publisher_class(name).idempotent)
                except SchedulerError:
                    # Not installed (any more): cannot say, so not safe; asked
                    # again next time, in case it is installed meanwhile.
                    continue
                self._idempotent[name] = safe
            if safe:
                names.append(name)
        return names

    # -- the dry run ---------------------------------------------------------------

    def due_posts(
        self, now: dt.datetime, after: dt.datetime | None = None
    ) -> list[tuple[Post, Channel]]:
        """Posts due now on active channels, in send order, without claiming;
        with `after`, only those that fell due after it (a walk over a virtual
        clock reads each post once, not once per moment)."""
        stmt = (
            select(Post, Channel)
            .join(Channel, Channel.id == Post.channel_id)
            .where(claims.due_clause(now), Channel.paused.is_(False))
            .order_by(Post.due_at, Post.id)
        )
        if after is not None:
            stmt = stmt.where(Post.due_at > after)
        with Session(self.engine) as session:
            rows = session.exec(stmt).all()
            return [(post, channel) for post, channel in rows]

    def may_have_landed(self, post_ids: list[int]) -> set[int]:
        """See `claims.may_have_landed`."""
        if not post_ids:
            return set()
        with Session(self.engine) as session:
            return claims.may_have_landed(session, post_ids)
