"""Channels: where posts go. A channel names its platform adapter, the adapter's
non-secret options, the environment variable holding its credential, its time
zone, its posting slots and whether its posts need review. A channel is edited
in place and removed by retiring it: its sent posts and their attempts stay."""

from __future__ import annotations

import asyncio
import json
import os
import re
import zoneinfo
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import sqlalchemy as sa
from pydantic import ValidationError
from sqlmodel import Session, select

from scheduler.accounts.platforms import connectable
from scheduler.compose import options as post_options
from scheduler.errors import ConfigError, NotFoundError, PermanentError
from scheduler.publishers import ChannelInfo, Publisher, publisher_class
from scheduler.publishers.base import REDACTED
from scheduler.storage.models import Attempt, Channel, Post, PostStatus, utcnow

if TYPE_CHECKING:
    import jinja2
    from sqlalchemy.engine import Engine

    from scheduler.planning.rules import CalendarRule, EvergreenRule

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
_ENV = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # A name people type in the wrong case (europe/paris) gets its spelling.
        spelled = {z.lower(): z for z in zoneinfo.available_timezones()}.get(name.lower())
        hint = f"did you mean {spelled}?" if spelled else "use an IANA name like Europe/Paris"
        raise ConfigError(f"unknown time zone {name!r} ({hint})") from None
    return name


def parse_options(pairs: list[str]) -> dict[str, Any]:
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ConfigError(f"option {pair!r} must look like key=value")
        options[key.strip().replace("-", "_")] = value
    return options


#: Options the scheduler reads itself, whatever the platform; adapters never see them.
#: `watch`: re-check a quote's source page before sending (default on).
SCHEDULER_OPTIONS = ("watch",)
_TRUE, _FALSE = ("true", "yes", "on", "1"), ("false", "no", "off", "0")


def _flag(name: str, value: Any) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise ConfigError(f"option {name} takes true or false, not {value!r}")


def watch_enabled(channel: Channel) -> bool:
    """Whether source watch re-checks this channel's quote posts before they go."""
    return _flag("watch", (channel.options or {}).get("watch", True))


def validate_options(platform: str, options: dict[str, Any]) -> dict[str, Any]:
    """The adapter's options and the post-text ones (credit, hashtags, link;
    `compose.options`), each checked by its own model."""
    cls = publisher_class(platform)
    post, rest = post_options.split(options)
    own = {k: _flag(k, rest[k]) for k in SCHEDULER_OPTIONS if k in rest}
    theirs = {k: v for k, v in rest.items() if k not in SCHEDULER_OPTIONS}
    try:
        model = cls.Options.model_validate(theirs)
        post_model = post_options.PostOptions.model_validate(post)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "options"
        raise ConfigError(f"{platform} option {field}: {err['msg']}") from None
    return (
        model.model_dump(mode="json", exclude_defaults=False)
        | post_model.model_dump(mode="json", exclude_defaults=True)
        | own
    )


def add_channel(
    session: Session,
    name: str,
    platform: str,
    *,
    options: dict[str, Any],
    secret_env: str | None,
    timezone: str,
    slots: str,
    review: bool | None = None,
) -> Channel:
    if not _NAME.match(name):
        raise ConfigError(f"bad channel name {name!r}: letters, digits, '_', '.', '-'")
    same = session.exec(select(Channel).where(Channel.name == name)).first()
    if same is not None and same.removed_at is None:
        raise ConfigError(f"channel {name!r} already exists")
    _check_env(secret_env)
    if same is not None:
        # The name is free again: the retired channel keeps its history under
        # a name no person can type (`~` is not allowed in names).
        same.name = f"{name}~{same.id}"
        session.add(same)
        session.flush()
    cls = publisher_class(platform)
    if cls.needs_secret and not secret_env and not connectable(platform):
        raise ConfigError(f"{platform} needs --secret-env NAME (the variable holding the token)")
    channel = Channel(
        name=name,
        platform=platform,
        options=validate_options(platform, options),
        secret_env=secret_env,
        timezone=check_timezone(timezone),
        slots=slots,
        review=review,
    )
    # Imported here: planning's slot and rule modules (APScheduler's triggers)
    # are a tenth of a second that the daemon, which only reads channels,
    # would pay at every start.
    from scheduler.planning.slots import parse_slots

    parse_slots(slots, channel.timezone)
    session.add(channel)
    session.flush()
    return channel


def _check_env(secret_env: str | None) -> None:
    if secret_env is not None and not _ENV.match(secret_env):
        raise ConfigError(
            f"--secret-env takes the NAME of an environment variable, not {secret_env[:3]}…"
        )


def get_channel(session: Session, name: str) -> Channel:
    channel = session.exec(select(Channel).where(Channel.name == name)).first()
    if channel is None or channel.removed_at is not None:
        known = ", ".join(c.name for c in list_channels(session)) or "none"
        if channel is None:
            raise NotFoundError(f"no channel named {name!r} (known: {known})")
        raise NotFoundError(f"channel {name!r} was removed (known: {known})")
    return channel


def list_channels(session: Session, *, removed: bool = False) -> list[Channel]:
    """The channels in name order; `removed` includes retired ones."""
    stmt = select(Channel).order_by(Channel.name)
    if not removed:
        stmt = stmt.where(Channel.removed_at.is_(None))
    return list(session.exec(stmt))


def channel_info(channel: Channel, *, reveal: bool, engine: Engine | None = None) -> ChannelInfo:
    """What the adapter sees. With reveal=False (previews, dry runs) the secret is
    a placeholder, so nothing secret can reach a screen or a log. With the
    engine, a connected channel (`channels connect`) gets its stored OAuth
    tokens, which take the place of the environment variable."""
    secret = None
    if channel.secret_env:
        secret = os.environ.get(channel.secret_env) if reveal else _placeholder(channel.secret_env)
    elif not reveal and connectable(channel.platform):
        secret = REDACTED
    tokens = None
    if reveal and engine is not None and connectable(channel.platform) and channel.id:
        from scheduler.accounts.tokens import ChannelTokens, credential_for

        with Session(engine) as session:
            if credential_for(session, channel.id) is not None:
                tokens, secret = ChannelTokens(engine, channel), None
    return ChannelInfo(
        name=channel.name,
        platform=channel.platform,
        options={
            k: v
            for k, v in post_options.split(channel.options or {})[1].items()
            if k not in SCHEDULER_OPTIONS
        },
        secret=secret,
        timezone=channel.timezone,
        tokens=tokens,
    )


def _placeholder(env: str) -> str:
    """The secret as previews see it: `***`, or, for a secret made of named
    keys (X's four OAuth 1.0a keys as JSON), the same keys each `***`, so the
    preview builds the same kind of request as the send."""
    value = (os.environ.get(env) or "").strip()
    if value.startswith("{"):
        try:
            keys = json.loads(value)
        except ValueError:
            return REDACTED
        if isinstance(keys, dict):
            return json.dumps({str(k): REDACTED for k in keys})
    return REDACTED


def publisher_for(channel: Channel, *, reveal: bool, engine: Engine | None = None) -> Publisher:
    cls = publisher_class(channel.platform)
    info = channel_info(channel, reveal=reveal, engine=engine)
    if reveal and cls.needs_secret and not info.secret and info.tokens is None:
        if not channel.secret_env:
            raise PermanentError(
                f"channel {channel.name} is not connected: run "
                f"`scheduler channels connect {channel.name}`"
            )
        raise PermanentError(
            f"channel {channel.name}: environment variable {channel.secret_env} is not set"
        )
    return cls(info)


def as_dict(channel: Channel) -> dict[str, Any]:
    return {
        "name": channel.name,
        "platform": channel.platform,
        "options": channel.options,
        "secret_env": channel.secret_env,
        "timezone": channel.timezone,
        "slots": channel.slots,
        "paused": channel.paused,
        "review": channel.review,
        "removed_at": channel.removed_at.isoformat() if channel.removed_at else None,
    }


# -- what the `channels` commands do ------------------------------------------


def channel_rows(
    session: Session, *, removed: bool = False, review_default: bool = False
) -> list[dict[str, Any]]:
    """Every channel as plain data, with its recurring settings, whether its
    posts need review (`review_default`: the database-wide setting), the last
    post sent, the last error, the next post due and, for a connected
    channel, the state of its tokens (never a token)."""
    from scheduler.accounts.tokens import credential_for, describe

    rows = []
    for c in list_channels(session, removed=removed):
        row = (
            as_dict(c)
            | {
                "recurring": c.recurring,
                "needs_review": review_default if c.review is None else c.review,
            }
            | activity(session, c)
        )
        if connectable(c.platform) and c.id:
            cred = credential_for(session, c.id)
            row["credential"] = describe(cred, c.platform) if cred else None
        rows.append(row)
    return rows


def activity(session: Session, channel: Channel) -> dict[str, Any]:
    """The channel's last post sent, last error and next post due, each as
    {id, at, at_local, ...} or None. A few index seeks per channel."""
    from scheduler.when import show

    def when(at: Any) -> dict[str, Any]:
        return {"at": at.isoformat(), "at_local": show(at, channel.timezone)}

    sent = session.execute(
        sa.select(Post.id, Post.sent_at, Post.remote_url)
        .where(Post.channel_id == channel.id, Post.status == PostStatus.sent.value)
        .order_by(Post.sent_at.desc(), Post.id.desc())
        .limit(1)
    ).first()
    failed = session.execute(
        sa.select(Attempt.post_id, Attempt.started_at, Attempt.error)
        .join(Post, Post.id == Attempt.post_id)
        .where(Post.channel_id == channel.id, Attempt.error.is_not(None))
        .order_by(Attempt.id.desc())
        .limit(1)
    ).first()
    due = session.execute(
        sa.select(Post.id, Post.due_at)
        .where(Post.channel_id == channel.id, Post.status == PostStatus.queued.value)
        .order_by(Post.due_at, Post.id)
        .limit(1)
    ).first()
    drafts = session.execute(
        sa.select(sa.func.count())
        .select_from(Post)
        .where(Post.channel_id == channel.id, Post.status == PostStatus.draft.value)
    ).scalar_one()
    return {
        "last_sent": (
            {"id": sent[0], **when(sent[1]), "url": sent[2]} if sent and sent[1] else None
        ),
        "last_error": (
            {"id": failed[0], **when(failed[1]), "error": failed[2]} if failed else None
        ),
        "next_due": {"id": due[0], **when(due[1])} if due else None,
        "drafts": drafts,
    }


def edit_channel(
    session: Session,
    name: str,
    *,
    slots: str | None = None,
    timezone: str | None = None,
    options: dict[str, Any] | None = None,
    secret_env: str | None = None,
    review: bool | None = None,
) -> Channel:
    """Change what is given and keep the rest; `options` are merged into the
    channel's own and checked by its adapter. Posts already planned keep their
    times (`queue move` or `plan` again to follow new slots)."""
    channel = get_channel(session, name)
    zone = check_timezone(timezone) if timezone is not None else channel.timezone
    if slots is not None or timezone is not None:
        from scheduler.planning.slots import parse_slots

        parse_slots(slots if slots is not None else channel.slots, zone)
    if options:
        channel.options = validate_options(channel.platform, dict(channel.options or {}) | options)
    if secret_env is not None:
        _check_env(secret_env)
        channel.secret_env = secret_env
    if slots is not None:
        channel.slots = slots
    channel.timezone = zone
    if review is not None:
        channel.review = review
    session.add(channel)
    session.flush()
    return channel


def remove_channel(session: Session, name: str, *, cancel_posts: bool = False) -> dict[str, Any]:
    """Retire a channel: refused while it has drafts or queued posts unless
    `cancel_posts` (then they are cancelled), and while a send is in flight.
    Sent posts and their attempts are kept; the channel no longer lists, plans
    or sends, and its name may be used again."""
    channel = get_channel(session, name)
    counts = dict(
        session.execute(
            sa.select(Post.status, sa.func.count())
            .where(Post.channel_id == channel.id)
            .group_by(Post.status)
        ).all()
    )
    if counts.get(PostStatus.sending.value):
        raise ConfigError(
            f"channel {name!r} has {counts[PostStatus.sending.value]} post(s) being sent "
            "right now; remove it once they settle"
        )
    pending = counts.get(PostStatus.queued.value, 0) + counts.get(PostStatus.draft.value, 0)
    if pending and not cancel_posts:
        raise ConfigError(
            f"channel {name!r} still has {pending} queued or draft post(s); cancel them "
            "(`queue cancel`) or pass --cancel-posts"
        )
    now = utcnow()
    cancelled = 0
    if pending:
        cancelled = session.execute(
            sa.update(Post)
            .where(
                Post.channel_id == channel.id,
                Post.status.in_([PostStatus.queued.value, PostStatus.draft.value]),
            )
            .values(status=PostStatus.cancelled.value, updated_at=now)
        ).rowcount
    # Paused as well, so every query that skips paused channels skips it too.
    channel.removed_at, channel.paused, channel.recurring = now, True, None
    session.add(channel)
    session.flush()
    return {"channel": name, "removed": True, "cancelled": cancelled, "kept": counts}


def set_paused(session: Session, name: str, paused: bool) -> Channel:
    channel = get_channel(session, name)
    channel.paused = paused
    session.add(channel)
    return channel


def set_evergreen_rule(
    session: Session,
    name: str,
    rule: EvergreenRule | None,
    *,
    category: str,
    templates: Callable[[], jinja2.Environment],
) -> dict[str, Any]:
    """Add or replace (None: remove) the channel's evergreen rule for `category`.
    `templates` gives the template environment; it is asked for only when there
    is a rule whose template must exist."""
    from scheduler.compose import load
    from scheduler.planning.rules import set_evergreen

    channel = get_channel(session, name)
    if rule is not None:
        load(templates(), rule.template)
    set_evergreen(channel, rule, category=category)
    session.add(channel)
    return {"channel": name, "recurring": channel.recurring}


def set_calendar_rule(session: Session, name: str, rule: CalendarRule | None) -> dict[str, Any]:
    """Replace (None: turn off) the channel's calendar settings."""
    from scheduler.planning.rules import set_calendar

    channel = get_channel(session, name)
    set_calendar(channel, rule)
    session.add(channel)
    return {"channel": name, "recurring": channel.recurring}


def check_account(engine: Engine, name: str) -> dict[str, Any]:
    """Ask the platform who the channel's credential belongs to (`channels test`).
    The database is closed before the request goes out."""
    from scheduler.delivery.lanes import make_client

    with Session(engine) as session:
        publisher = publisher_for(get_channel(session, name), reveal=True, engine=engine)

    async def check() -> dict[str, Any]:
        async with make_client() as client:
            return await publisher.check(client)

    return asyncio.run(check())


def disconnect(engine: Engine, name: str) -> dict[str, Any]:
    """Delete NAME's stored tokens in one transaction. The posts stay queued.
    With no `--secret-env` to fall back on, the channel is paused (a send would
    only fail with "not connected"); `channels connect` then `resume` brings it
    back. The grant itself stays valid at the platform until the account
    holder revokes the app there: nothing here can call every platform's
    revocation endpoint (the sheet names none for X, LinkedIn or Threads)."""
    from scheduler.accounts.tokens import credential_for

    with Session(engine) as session, session.begin():
        channel = get_channel(session, name)
        row = credential_for(session, channel.id) if channel.id else None
        if row is None:
            raise NotFoundError(f"channel {name} is not connected: no stored tokens to forget")
        session.delete(row)
        pause = not channel.secret_env and not channel.paused
        if pause:
            channel.paused = True
            session.add(channel)
        falls_back = channel.secret_env
    return {"channel": name, "disconnected": True, "paused": pause, "secret_env": falls_back}
