r"""The tables, and the post state machine.

    draft -> queued -> sending -> sent
                 ^        |  \-> failed     (permanent error, or retries used up)
                 |        |  \-> unknown    (the platform may have it; never resent blindly)
                 +--------+                 (retryable error, or an expired lease)
    queued -> cancelled | missed (past due beyond the channel's grace period)
    draft -> rejected                       (a person said no at review)
    failed | cancelled | missed -> queued   (`queue retry`)
    sending -> held                         (source watch: the quoted words changed)
    held -> queued | cancelled              (`queue retry` releases it as it is)
    unknown -> sent | queued                (`queue reconcile` decides)

Times are stored in UTC; `UTCDateTime` hands back aware datetimes on every dialect.
"""

from __future__ import annotations

import datetime as dt
import enum
from typing import Any

import sqlalchemy as sa
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


class UTCDateTime(TypeDecorator[dt.datetime]):
    """Stores naive UTC, returns aware UTC: SQLite has no time zone type."""

    impl = sa.DateTime
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(dt.UTC).replace(tzinfo=None)

    def process_result_value(self, value: dt.datetime | None, dialect: Any) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC)

    def bind_processor(self, dialect: Any) -> Any:
        """On SQLite, the two steps (to naive UTC, then SQLAlchemy's text form)
        in one: the same text, from `isoformat` (C) instead of a %-format of
        seven fields. Four of these a post on the daemon's path."""
        composed = super().bind_processor(dialect)
        impl = self.impl_instance
        if (
            dialect.name != "sqlite"
            or composed is None
            or getattr(impl, "_storage_format", None) != _SQLITE_DATETIME
        ):
            return composed
        utc, datetime = dt.UTC, dt.datetime

        def process(value: Any) -> Any:
            if type(value) is datetime and value.tzinfo is not None:
                return value.astimezone(utc).replace(tzinfo=None).isoformat(" ", "microseconds")
            return composed(value)  # None, naive (refused), a subclass

        return process


#: SQLAlchemy's text form of a DATETIME on SQLite (`bind_processor` above
#: writes the same text only for this form).
_SQLITE_DATETIME = (
    "%(year)04d-%(month)02d-%(day)02d %(hour)02d:%(minute)02d:%(second)02d.%(microsecond)06d"
)


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class PostStatus(enum.StrEnum):
    draft = "draft"
    queued = "queued"
    sending = "sending"
    sent = "sent"
    failed = "failed"
    cancelled = "cancelled"
    unknown = "unknown"
    missed = "missed"
    rejected = "rejected"
    #: Not sent because its source changed under it (source watch); waits for a person.
    held = "held"


#: Which status may follow which; anything else is a bug or a race lost.
TRANSITIONS: dict[PostStatus, frozenset[PostStatus]] = {
    PostStatus.draft: frozenset({PostStatus.queued, PostStatus.cancelled, PostStatus.rejected}),
    PostStatus.queued: frozenset(
        {PostStatus.sending, PostStatus.cancelled, PostStatus.missed, PostStatus.draft}
    ),
    PostStatus.sending: frozenset(
        {PostStatus.sent, PostStatus.failed, PostStatus.unknown, PostStatus.queued, PostStatus.held}
    ),
    PostStatus.sent: frozenset(),
    PostStatus.failed: frozenset({PostStatus.queued}),
    PostStatus.cancelled: frozenset({PostStatus.queued}),
    PostStatus.missed: frozenset({PostStatus.queued, PostStatus.cancelled}),
    PostStatus.unknown: frozenset({PostStatus.sent, PostStatus.queued, PostStatus.failed}),
    PostStatus.rejected: frozenset(),
    PostStatus.held: frozenset({PostStatus.queued, PostStatus.cancelled}),
}

#: Statuses a person gave a post on purpose: planning never brings such a post
#: back for the same source, template and channel unless asked (`plan --again`).
REMOVED_BY_HAND = frozenset({PostStatus.cancelled, PostStatus.rejected})

#: Statuses a user may still edit or move.
PENDING = frozenset({PostStatus.draft, PostStatus.queued})


def can_move(old: PostStatus | str, new: PostStatus | str) -> bool:
    return PostStatus(new) in TRANSITIONS[PostStatus(old)]


class Article(SQLModel, table=True):
    __tablename__ = "articles"

    id: int | None = Field(default=None, primary_key=True)
    #: sha256 of the cleaned text: the same article ingested twice is one row.
    content_hash: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    source: str
    url: str | None = Field(default=None, index=True)
    title: str | None = None
    text: str = Field(sa_type=sa.Text)
    published: dt.date | None = None
    #: The page's summary and lead image (sha256 of a stored `MediaFile`), for link cards.
    description: str | None = Field(default=None, sa_type=sa.Text)
    image_sha256: str | None = Field(default=None, max_length=64)
    ingested_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Source watch: when the page was last re-checked, its validators then, and
    #: its text then when that differs from `text` (None: unchanged or never checked).
    watch_checked_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    watch_etag: str | None = None
    watch_last_modified: str | None = None
    watch_text: str | None = Field(default=None, sa_type=sa.Text)


class Quote(SQLModel, table=True):
    __tablename__ = "quotes"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True)
    text: str = Field(sa_type=sa.Text)
    speaker: str | None = None
    cue: str | None = None
    #: Offsets of the quoted words in `Article.text`.
    start: int
    end: int
    #: Free label for evergreen recycling ("motivation", "season"...).
    category: str | None = Field(default=None, index=True)


class Milestone(SQLModel, table=True):
    __tablename__ = "milestones"

    id: int | None = Field(default=None, primary_key=True)
    article_id: int = Field(foreign_key="articles.id", index=True)
    text: str = Field(sa_type=sa.Text)
    start: int
    end: int
    date: dt.date
    precision: str = Field(max_length=8)
    tense: str = Field(max_length=8)
    person: str | None = None
    #: The sentence made to stand alone as a post (a pronoun or "the museum"
    #: named, "two years later" and stale "last year" rewritten); "" when it
    #: cannot stand alone, so no post is proposed; None on rows made before
    #: wordings were kept (and by hand), which post the sentence as it is.
    wording: str | None = Field(default=None, sa_type=sa.Text)


class Channel(SQLModel, table=True):
    __tablename__ = "channels"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(sa_column_kwargs={"unique": True})
    platform: str
    #: Non-secret adapter options (URL, handle, instance...).
    options: dict[str, Any] = Field(default_factory=dict, sa_type=sa.JSON)
    #: Name of the environment variable that holds the credential; never the value.
    secret_env: str | None = None
    timezone: str = "UTC"
    #: Posting slots, e.g. "mon-fri 09:00,13:00; sat 10:00".
    slots: str = "mon-sun 09:00"
    paused: bool = False
    grace_seconds: float | None = None
    #: Recurring posts the channel plans for itself (evergreen recycling, on-this-day,
    #: countdowns, throwbacks); see `scheduler.recurring` for the shape. None: off.
    recurring: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    #: Posts planned for the channel are drafts until a person approves them.
    #: None: the database-wide `review` setting decides.
    review: bool | None = None
    #: When `channels remove` retired the channel; it is kept for its history.
    removed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Credential(SQLModel, table=True):
    """A connected channel's OAuth tokens. `secret` is one Fernet token holding
    the access token, the refresh token and the app's client credentials, so
    they are written together (a rotated refresh token can never be saved
    without its access token) and nothing secret is ever in clear text here.
    The other columns are what may be shown: expiry, account, state."""

    __tablename__ = "credentials"

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(
        sa_column=sa.Column(
            sa.Integer,
            sa.ForeignKey("channels.id", ondelete="CASCADE"),
            unique=True,
            nullable=False,
        )
    )
    secret: str = Field(sa_type=sa.Text)
    expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    has_refresh: bool = False
    scope: str | None = None
    #: Who the token belongs to, as the platform said at connect (id, username).
    account: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON)
    #: connected | revoked | expired
    status: str = Field(default="connected", max_length=16)
    detail: str | None = Field(default=None, sa_type=sa.Text)
    #: Bumped on every write of `secret`: a refresh that lost a race sees it.
    version: int = 1
    obtained_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    refreshed_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: When the "expires soon" warning was given (once per token).
    warned_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)


class Post(SQLModel, table=True):
    __tablename__ = "posts"
    __table_args__ = (
        # The claim query: due queued posts in time order.
        sa.Index("ix_posts_status_due", "status", "due_at", "id"),
        # Queue listings per channel, and in time order overall.
        sa.Index("ix_posts_channel_due", "channel_id", "due_at", "id"),
        sa.Index("ix_posts_due", "due_at", "id"),
        # One channel's due posts (claim per channel, "which channels have work"),
        # without walking that channel's sent history; and --channel --status lists.
        sa.Index("ix_posts_channel_status_due", "channel_id", "status", "due_at", "id"),
        # The daemon's next wake-up: first queued due_at, first retry time.
        sa.Index("ix_posts_wake", "status", "next_attempt_at", "due_at"),
        # The daemon's expiry check, every few seconds: queued posts past
        # expires_at. Partial: posts without an expiry (most) never touch it.
        sa.Index(
            "ix_posts_expiry",
            "status",
            "expires_at",
            sqlite_where=sa.text("expires_at IS NOT NULL"),
            postgresql_where=sa.text("expires_at IS NOT NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    channel_id: int = Field(foreign_key="channels.id")
    status: str = Field(default=PostStatus.queued.value, max_length=12)
    text: str = Field(sa_type=sa.Text)
    template: str | None = None
    source_kind: str | None = Field(default=None, max_length=12)
    source_id: int | None = None
    article_id: int | None = Field(default=None, foreign_key="articles.id")
    link: str | None = None
    #: Attached media, in order: [{sha256, mime, size, width, height, alt, path}],
    #: each naming a stored `MediaFile`; None: text only. Kept on the row so a
    #: claim reads it with the post, without a join.
    media: list[dict[str, Any]] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    #: The link preview from the article as ingested: {uri, title, description,
    #: thumb (an attachment like those in `media`, or None)}; None: no card.
    link_card: dict[str, Any] | None = Field(default=None, sa_type=sa.JSON(none_as_null=True))
    due_at: dt.datetime = Field(sa_type=UTCDateTime)
    #: After this moment the post must not go out at all (old news, a countdown
    #: whose day has passed); None: no expiry.
    expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: Why the planner chose this post and this time, in words (`scheduler explain`).
    reason: str | None = Field(default=None, sa_type=sa.Text)
    #: False once an edit left the quote no longer word for word from its source
    #: (`queue edit --not-verbatim`); None: not edited that way.
    verbatim: bool | None = None
    #: Stable across every retry; adapters derive the platform's dedupe key from it.
    idempotency_key: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    lease_owner: str | None = None
    lease_expires_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    attempts: int = 0
    next_attempt_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    remote_id: str | None = None
    remote_url: str | None = None
    sent_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    updated_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    #: Source watch held the post and a person released it (`queue retry`): it
    #: goes out as it is, without another look at the page.
    watch_released: bool = Field(default=False, sa_column_kwargs={"server_default": sa.false()})


class Feed(SQLModel, table=True):
    """An RSS or Atom feed the daemon polls; new entries are ingested and planned."""

    __tablename__ = "feeds"

    id: int | None = Field(default=None, primary_key=True)
    url: str = Field(sa_column_kwargs={"unique": True})
    #: Names of the channels each new entry's article is planned for.
    channels: list[str] = Field(default_factory=list, sa_type=sa.JSON)
    every_seconds: float = 900.0
    #: Fetch (the feed and its entries' pages) from non-public addresses too.
    allow_private: bool = False
    #: The validators of the last answer, sent back as If-None-Match / If-Modified-Since.
    etag: str | None = None
    last_modified: str | None = None
    last_polled_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_status: int | None = None
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    #: Polls failed in a row; the wait before the next one grows with it.
    failures: int = 0
    next_poll_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, index=True)
    entries_seen: int = 0
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class FeedEntry(SQLModel, table=True):
    """One entry of a feed, seen once: its article is ingested at most once."""

    __tablename__ = "feed_entries"
    __table_args__ = (sa.UniqueConstraint("feed_id", "entry_key", name="uq_feed_entries_key"),)

    id: int | None = Field(default=None, primary_key=True)
    feed_id: int = Field(
        sa_column=sa.Column(sa.ForeignKey("feeds.id", ondelete="CASCADE"), nullable=False)
    )
    #: The entry's id (guid), else its link.
    entry_key: str = Field(max_length=500)
    url: str | None = None
    article_id: int | None = Field(default=None, foreign_key="articles.id")
    #: Why its article could not be ingested (it is not tried again).
    error: str | None = Field(default=None, sa_type=sa.Text)
    seen_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Notification(SQLModel, table=True):
    """The outbox of messages to people: written with the outcome it tells of,
    delivered (and retried) by the daemon."""

    __tablename__ = "notifications"
    __table_args__ = (
        sa.Index(
            "ix_notifications_pending",
            "next_attempt_at",
            sqlite_where=sa.text("delivered_at IS NULL"),
            postgresql_where=sa.text("delivered_at IS NULL"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    #: failed | unknown | missed | held | paused | created | approved | sent
    event: str = Field(max_length=16)
    post_id: int | None = None
    channel_id: int | None = None
    message: str = Field(sa_type=sa.Text)
    #: apprise (the `notify_urls`) or webhook (the lifecycle webhook).
    target: str = Field(max_length=12)
    attempts: int = 0
    next_attempt_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    delivered_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, sa_type=sa.Text)
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class MediaFile(SQLModel, table=True):
    """One stored file (an image, a video, a rendered card), by content: the
    same bytes are one row and one file however many posts carry them."""

    __tablename__ = "media"

    id: int | None = Field(default=None, primary_key=True)
    sha256: str = Field(max_length=64, sa_column_kwargs={"unique": True})
    #: Read from the bytes, never from the file name.
    mime: str = Field(max_length=40)
    size: int
    width: int | None = None
    height: int | None = None
    #: Where the bytes are, relative to the media folder (`sha256[:2]/sha256.ext`).
    path: str
    created_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)


class Attempt(SQLModel, table=True):
    """One try at sending a post, written before the request leaves."""

    __tablename__ = "attempts"

    id: int | None = Field(default=None, primary_key=True)
    post_id: int = Field(foreign_key="posts.id", index=True)
    owner: str
    started_at: dt.datetime = Field(default_factory=utcnow, sa_type=UTCDateTime)
    finished_at: dt.datetime | None = Field(default=None, sa_type=UTCDateTime)
    #: sent | retry | failed | unknown; NULL while in flight (or lost in a crash).
    outcome: str | None = Field(default=None, max_length=12)
    status_code: int | None = None
    error: str | None = Field(default=None, sa_type=sa.Text)
    remote_id: str | None = None


#: Row ids are 64-bit signed integers on both databases.
ID_RANGE = range(-(2**63), 2**63)


def in_id_range(value: int) -> bool:
    """Whether `value` can be a row id at all (a larger number cannot be sent
    to the database: it is simply no row)."""
    return value in ID_RANGE
