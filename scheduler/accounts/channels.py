"""Channels: where posts go. A channel names its platform adapter, the adapter's
non-secret options, the environment variable holding its credential, its time
zone and its posting slots."""

from __future__ import annotations

import asyncio
import json
import os
import re
import zoneinfo
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import ValidationError
from sqlmodel import Session, select

from scheduler.accounts.platforms import connectable
from scheduler.errors import ConfigError, NotFoundError, PermanentError
from scheduler.planning.rules import CalendarRule, EvergreenRule, set_calendar, set_evergreen
from scheduler.planning.slots import parse_slots
from scheduler.publishers import ChannelInfo, Publisher, publisher_class
from scheduler.publishers.base import REDACTED
from scheduler.storage.models import Channel

if TYPE_CHECKING:
    import jinja2
    from sqlalchemy.engine import Engine

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


def validate_options(platform: str, options: dict[str, Any]) -> dict[str, Any]:
    cls = publisher_class(platform)
    try:
        model = cls.Options.model_validate(options)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"]) or "options"
        raise ConfigError(f"{platform} option {field}: {err['msg']}") from None
    return model.model_dump(mode="json", exclude_defaults=False)


def add_channel(
    session: Session,
    name: str,
    platform: str,
    *,
    options: dict[str, Any],
    secret_env: str | None,
    timezone: str,
    slots: str,
) -> Channel:
    if not _NAME.match(name):
        raise ConfigError(f"bad channel name {name!r}: letters, digits, '_', '.', '-'")
    if session.exec(select(Channel).where(Channel.name == name)).first():
        raise ConfigError(f"channel {name!r} already exists")
    if secret_env is not None and not _ENV.match(secret_env):
        raise ConfigError(
            f"--secret-env takes the NAME of an environment variable, not {secret_env[:3]}…"
        )
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
    )
    parse_slots(slots, channel.timezone)
    session.add(channel)
    session.flush()
    return channel


def get_channel(session: Session, name: str) -> Channel:
    channel = session.exec(select(Channel).where(Channel.name == name)).first()
    if channel is None:
        known = ", ".join(session.exec(select(Channel.name).order_by(Channel.name)).all())
        raise NotFoundError(f"no channel named {name!r} (known: {known or 'none yet'})")
    return channel


def list_channels(session: Session) -> list[Channel]:
    return list(session.exec(select(Channel).order_by(Channel.name)))


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
        options=dict(channel.options or {}),
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
    }


# -- what the `channels` commands do ------------------------------------------


def channel_rows(session: Session) -> list[dict[str, Any]]:
    """Every channel as plain data, with its recurring settings and, for a
    connected channel, the state of its tokens (never a token)."""
    from scheduler.accounts.tokens import credential_for, describe

    rows = []
    for c in list_channels(session):
        row = as_dict(c) | {"recurring": c.recurring}
        if connectable(c.platform) and c.id:
            cred = credential_for(session, c.id)
            row["credential"] = describe(cred, c.platform) if cred else None
        rows.append(row)
    return rows


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

    channel = get_channel(session, name)
    if rule is not None:
        load(templates(), rule.template)
    set_evergreen(channel, rule, category=category)
    session.add(channel)
    return {"channel": name, "recurring": channel.recurring}


def set_calendar_rule(session: Session, name: str, rule: CalendarRule | None) -> dict[str, Any]:
    """Replace (None: turn off) the channel's calendar settings."""
    channel = get_channel(session, name)
    set_calendar(channel, rule)
    session.add(channel)
    return {"channel": name, "recurring": channel.recurring}


def check_account(engine: Engine, name: str) -> dict[str, Any]:
    """Ask the platform who the channel's credential belongs to (`channels test`).
    The database is closed before the request goes out."""
    from scheduler.delivery.outgoing import make_client

    with Session(engine) as session:
        publisher = publisher_for(get_channel(session, name), reveal=True, engine=engine)

    async def check() -> dict[str, Any]:
        async with make_client() as client:
            return await publisher.check(client)

    return asyncio.run(check())
