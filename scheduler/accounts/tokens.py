"""Connected channels' tokens: stored encrypted, kept fresh, never lost.

- `save_grant` stores what a connect obtained; a refresh token the new grant
  did not replace is kept (reconnecting never wipes it).
- `ChannelTokens` is what an adapter asks for a token (publishers.base's
  `TokenSource`): it refreshes shortly before expiry, and once after a 401.
- A refresh writes the new access token and a rotated refresh token in one
  row, in one transaction, so a crash loses both or neither. On PostgreSQL the
  row is locked (`SELECT ... FOR UPDATE`) across the call to the token
  endpoint, so several daemons refresh a channel once; elsewhere the write is
  guarded by the row's `version` and the loser reads the winner's tokens.
- A 5xx, a timeout or a refused connection at the token endpoint is retried
  with backoff (`BACKOFF`) and then reported as retryable; it never marks the
  grant revoked. Only `invalid_grant` (Threads: an OAuth error on the
  refresh) does: the credential becomes `revoked`, the channel is paused, and
  every `on_revoked` callback is called. `on_expiring` callbacks hear of a
  token that cannot be refreshed a week before it runs out; a notifier in
  another process can poll `credential_states` instead (the same facts, from
  the database). `upkeep` (hourly in the daemon) refreshes what is due.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlmodel import Session, select

from scheduler.accounts import secrets
from scheduler.accounts.platforms import PLATFORMS, Platform, endpoint, threads_refresh_url
from scheduler.errors import (
    CredentialRejected,
    GrantRevoked,
    PermanentError,
    RetryableError,
    SecretKeyError,
    TokenEndpointUnavailable,
)
from scheduler.storage.models import Channel, Credential, utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

log = logging.getLogger(__name__)

#: Waits between attempts at the token endpoint after a transient failure.
BACKOFF: tuple[float, ...] = (0.5, 2.0, 5.0)
TIMEOUT = 15.0
#: A token with less than this left is not used when its refresh failed.
STILL_GOOD = dt.timedelta(seconds=60)

CONNECTED, REVOKED, EXPIRED = "connected", "revoked", "expired"


@dataclass(frozen=True)
class CredentialEvent:
    """What a notifier hears: `kind` is "revoked" or "expiring"."""

    kind: str
    channel: str
    platform: str
    message: str


_listeners: list[tuple[str, Callable[[CredentialEvent], None]]] = []


def on_revoked(callback: Callable[[CredentialEvent], None]) -> None:
    """Call `callback` when a channel's grant is found revoked (it is then paused)."""
    _listeners.append(("revoked", callback))


def on_expiring(callback: Callable[[CredentialEvent], None]) -> None:
    """Call `callback` once per token that cannot be refreshed and runs out soon."""
    _listeners.append(("expiring", callback))


def _tell(event: CredentialEvent) -> None:
    for kind, callback in list(_listeners):
        if kind == event.kind:
            try:
                callback(event)
            except Exception:
                # A broken notifier must not stop the daemon from sending.
                log.exception("credential %s callback failed", kind)


# -- storing a grant ---------------------------------------------------------------


def expires_at(token: dict[str, Any], now: dt.datetime) -> dt.datetime | None:
    seconds = token.get("expires_in")
    try:
        return now + dt.timedelta(seconds=float(seconds)) if seconds else None
    except (TypeError, ValueError):
        return None


def save_grant(
    session: Session,
    channel: Channel,
    token: dict[str, Any],
    *,
    client: dict[str, Any],
    account: dict[str, Any],
) -> Credential:
    """Store a connect's tokens for `channel`, replacing the old ones in place
    (one row per channel) but keeping a stored refresh token the new grant
    did not replace. A channel paused because its grant was revoked resumes."""
    assert channel.id is not None
    now = utcnow()
    row = session.exec(
        select(Credential).where(Credential.channel_id == channel.id).with_for_update()
    ).first()
    keys = secrets.load_keys(create=True)
    data = {
        "access_token": str(token["access_token"]),
        "refresh_token": token.get("refresh_token"),
        "token_type": token.get("token_type", "Bearer"),
        **{k: v for k, v in client.items() if v},
    }
    if row is not None and not data["refresh_token"]:
        try:
            data["refresh_token"] = secrets.decrypt(row.secret, keys).get("refresh_token")
        except Exception:
            data["refresh_token"] = None  # undecryptable: nothing to keep
    if row is None:
        row = Credential(channel_id=channel.id, secret="")
    elif row.status == REVOKED and channel.paused:
        channel.paused = False
        session.add(channel)
    row.secret = secrets.encrypt(data, keys)
    row.has_refresh = bool(data["refresh_token"])
    row.expires_at = expires_at(token, now)
    row.scope = _scope(token)
    row.account = account
    row.status, row.detail = CONNECTED, None
    row.version = (row.version or 0) + 1
    row.obtained_at, row.refreshed_at, row.warned_at = now, None, None
    session.add(row)
    session.flush()
    return row


def _scope(token: dict[str, Any]) -> str | None:
    scope = token.get("scope")
    if isinstance(scope, list):
        return " ".join(str(s) for s in scope)
    return str(scope) if scope else None


def credential_for(session: Session, channel_id: int) -> Credential | None:
    return session.exec(select(Credential).where(Credential.channel_id == channel_id)).first()


def credential_states(session: Session) -> list[dict[str, Any]]:
    """Every connected channel's credential state, for a notifier that polls
    instead of registering `on_revoked` (another process than the daemon)."""
    rows = session.exec(
        select(Channel, Credential).join(Credential, Credential.channel_id == Channel.id)
    ).all()
    return [
        {
            "channel": channel.name,
            "platform": channel.platform,
            "status": row.status,
            "detail": row.detail,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "warned_at": row.warned_at.isoformat() if row.warned_at else None,
            "line": describe(row, channel.platform),
        }
        for channel, row in rows
    ]


def describe(row: Credential | None, platform: str, now: dt.datetime | None = None) -> str:
    """The credential's state in a few words for `channels list` (never a token)."""
    if row is None:
        return ""
    now = now or utcnow()
    account = row.account or {}
    who = account.get("username") or account.get("acct") or account.get("name") or ""
    who = f" as {who}" if who else ""
    if row.status == REVOKED:
        return f"REVOKED{who}: {row.detail or 'the grant was revoked'}; run `channels connect`"
    if row.status == EXPIRED:
        return f"EXPIRED{who}: {row.detail or 'token expired'}; run `channels connect`"
    spec = PLATFORMS.get(platform)
    text = f"connected{who}"
    if row.expires_at is None:
        return text
    left = row.expires_at - now
    if left <= dt.timedelta(0) and not row.has_refresh:
        return f"EXPIRED{who} on {row.expires_at:%Y-%m-%d}; run `channels connect`"
    refreshable = row.has_refresh or (spec is not None and spec.refresh == "threads")
    overdue = spec is not None and spec.margin > spec.warn  # refresh should be long done
    if spec is not None and left <= spec.warn and (not refreshable or overdue):
        return f"{text}; EXPIRES in {max(left.days, 0)} d ({row.expires_at:%Y-%m-%d}); run `channels connect`"
    return f"{text}; token until {row.expires_at:%Y-%m-%d %H:%M} UTC" + (
        ", refreshed automatically" if refreshable else ""
    )


# -- the token endpoint ------------------------------------------------------------


class _Revoked(Exception):
    """The token endpoint said the grant is dead (invalid_grant)."""


class _Transient(Exception):
    """The token endpoint did not answer usefully; trying again may work."""


def oauth2_client() -> type:
    """authlib's OAuth 2 client on httpx. authlib 1.9 warns on import that it
    would rather have httpx2; the warning is for us, not the user's terminal."""
    import warnings

    # Importing authlib.deprecate turns its warnings on ("always"): first that,
    # then the filter that silences them.
    from authlib.deprecate import AuthlibDeprecationWarning

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", AuthlibDeprecationWarning)
        from authlib.integrations.httpx_client import OAuth2Client

    return OAuth2Client


def _call_endpoint(spec: Platform, options: dict[str, Any], data: dict[str, Any]) -> dict[str, Any]:
    """One refresh at the platform's token endpoint, classified."""
    OAuth2Client = oauth2_client()
    from authlib.integrations.base_client.errors import OAuthError

    try:
        if spec.refresh == "threads":
            response = httpx.get(
                threads_refresh_url(options),
                params={"grant_type": "th_refresh_token", "access_token": data["access_token"]},
                timeout=TIMEOUT,
            )
            return _threads_answer(response)
        secret = data.get("client_secret")
        method = spec.auth_method
        if spec.name == "x" and secret:
            method = "client_secret_basic"
        with OAuth2Client(
            client_id=data.get("client_id"),
            client_secret=secret,
            token_endpoint_auth_method=method,
            timeout=TIMEOUT,
        ) as oauth:
            return dict(
                oauth.refresh_token(
                    endpoint(spec, spec.token, options), refresh_token=data["refresh_token"]
                )
            )
    except OAuthError as exc:
        if exc.error == "invalid_grant":
            raise _Revoked(exc.description or "invalid_grant") from None
        raise PermanentError(
            f"the token endpoint refused the app: {exc.error}"
            + (f" ({exc.description})" if exc.description else "")
        ) from None
    except httpx.HTTPStatusError as exc:
        status = exc.response.status_code
        if status >= 500 or status == 429:
            raise _Transient(f"HTTP {status}") from None
        raise PermanentError(f"the token endpoint answered HTTP {status}") from None
    except httpx.TransportError as exc:
        # Connection refused, timeouts, resets: nothing was decided about the grant.
        raise _Transient(type(exc).__name__) from None


def _threads_answer(response: httpx.Response) -> dict[str, Any]:
    if response.status_code >= 500 or response.status_code == 429:
        raise _Transient(f"HTTP {response.status_code}")
    try:
        body = response.json()
    except ValueError:
        body = {}
    if response.status_code >= 400 or "access_token" not in body:
        error = body.get("error") if isinstance(body, dict) else None
        if isinstance(error, dict) and (
            error.get("type") == "OAuthException" or error.get("code") == 190
        ):
            raise _Revoked(str(error.get("message") or "the token cannot be refreshed"))
        raise PermanentError(f"Threads refresh answered HTTP {response.status_code}")
    return body


def _with_retries(call: Callable[[], dict[str, Any]], name: str) -> dict[str, Any]:
    waits = list(BACKOFF)
    while True:
        try:
            return call()
        except _Transient as exc:
            if not waits:
                raise TokenEndpointUnavailable(
                    f"channel {name}: the token endpoint failed ({exc}) "
                    f"{len(BACKOFF) + 1} times; will try again (the grant is kept)"
                ) from None
            wait = waits.pop(0)
            log.warning("channel %s: token endpoint %s; retrying in %.1f s", name, exc, wait)
            time.sleep(wait)


# -- refreshing ---------------------------------------------------------------------

_locks: dict[tuple[int, int], threading.Lock] = {}
_locks_guard = threading.Lock()


def _local_lock(engine: Engine, channel_id: int) -> threading.Lock:
    """One refresh at a time per channel within a process (per engine: a
    process has one; the database lock is what keeps processes apart)."""
    with _locks_guard:
        return _locks.setdefault((id(engine), channel_id), threading.Lock())


_table = Credential.__table__  # type: ignore[attr-defined]


def _read(conn: Connection, channel_id: int, *, lock: bool) -> Any:
    query = sa.select(_table).where(_table.c.channel_id == channel_id)
    if lock:
        query = query.with_for_update()
    return conn.execute(query).first()


def _store_refreshed(
    conn: Connection, row: Any, data: dict[str, Any], token: dict[str, Any], now: dt.datetime
) -> bool:
    """Write the refreshed tokens (access and a rotated refresh token in the
    one encrypted value). False when another process wrote first."""
    merged = dict(data)
    merged["access_token"] = str(token["access_token"])
    if token.get("refresh_token"):
        merged["refresh_token"] = token["refresh_token"]
    result = conn.execute(
        _table.update()
        .where(_table.c.id == row.id, _table.c.version == row.version)
        .values(
            secret=secrets.encrypt(merged),
            has_refresh=bool(merged.get("refresh_token")),
            expires_at=expires_at(token, now) or row.expires_at,
            status=CONNECTED,
            detail=None,
            version=row.version + 1,
            refreshed_at=now,
            warned_at=None,
        )
    )
    return result.rowcount == 1


def _mark_revoked(conn: Connection, row: Any, why: str, now: dt.datetime) -> None:
    conn.execute(
        _table.update()
        .where(_table.c.id == row.id)
        .values(status=REVOKED, detail=f"{why} ({now:%Y-%m-%d %H:%M} UTC)", version=row.version + 1)
    )
    channels = Channel.__table__  # type: ignore[attr-defined]
    conn.execute(channels.update().where(channels.c.id == row.channel_id).values(paused=True))
    # A person is told through the desk's notifications, in this transaction, so
    # the pause and the word of it commit together.
    from scheduler.config import load_settings
    from scheduler.delivery import notify

    settings = load_settings()
    if notify.wanted(settings):
        name = conn.execute(
            sa.select(channels.c.name).where(channels.c.id == row.channel_id)
        ).scalar_one()
        notify.enqueue(
            conn,
            settings,
            [
                notify.Notice(
                    "paused",
                    None,
                    name,
                    row.channel_id,
                    f"its grant was revoked ({why}); run `scheduler channels connect {name}`",
                )
            ],
        )


def refresh(
    engine: Engine, channel: Channel, *, seen_version: int | None = None
) -> tuple[str, dt.datetime | None, int]:
    """Refresh `channel`'s tokens unless someone did since `seen_version`;
    returns (access token, its expiry, row version). Raises GrantRevoked
    (channel paused), TokenEndpointUnavailable, or PermanentError."""
    assert channel.id is not None
    spec = PLATFORMS[channel.platform]
    options = dict(channel.options or {})
    with _local_lock(engine, channel.id):
        postgres = engine.dialect.name == "postgresql"
        revoked: str | None = None
        with engine.connect() as conn:
            # PostgreSQL: the row stays locked while the token endpoint is asked,
            # so another daemon waits here and then finds the new version.
            tx = conn.begin()
            try:
                row = _read(conn, channel.id, lock=postgres)
                if row is None:
                    raise PermanentError(f"channel {channel.name} is not connected")
                data = secrets.decrypt(row.secret)
                if row.status == REVOKED:
                    raise GrantRevoked(f"channel {channel.name}: {row.detail}", retry_after=3600)
                if seen_version is not None and row.version != seen_version:
                    tx.commit()
                    return data["access_token"], row.expires_at, row.version
                if not postgres:
                    tx.commit()  # SQLite: no transaction held across the network
                try:
                    token = _with_retries(lambda: _call_endpoint(spec, options, data), channel.name)
                except _Revoked as exc:
                    revoked = str(exc)
                    token = {}
                now = utcnow()
                if not postgres:
                    tx = conn.begin()
                if revoked is not None:
                    newer = _read(conn, channel.id, lock=False)
                    if newer is not None and newer.version != row.version:
                        # Another process refreshed first and spent the old token.
                        tx.commit()
                        fresh = secrets.decrypt(newer.secret)
                        return fresh["access_token"], newer.expires_at, newer.version
                    _mark_revoked(conn, row, revoked, now)
                elif not _store_refreshed(conn, row, data, token, now):
                    newer = _read(conn, channel.id, lock=False)
                    tx.commit()
                    fresh = secrets.decrypt(newer.secret)
                    return fresh["access_token"], newer.expires_at, newer.version
                tx.commit()
            except BaseException:
                if tx.is_active:
                    tx.rollback()
                raise
    if revoked is not None:
        message = f"channel {channel.name} paused: the {spec.name} grant was revoked ({revoked}); run `scheduler channels connect {channel.name}`"
        _tell(CredentialEvent("revoked", channel.name, channel.platform, message))
        log.error("%s", message)
        raise GrantRevoked(message, retry_after=3600)
    log.info("channel %s: token refreshed", channel.name)
    return str(token["access_token"]), expires_at(token, now) or row.expires_at, row.version + 1


class ChannelTokens:
    """A connected channel's access token, as adapters ask for it."""

    def __init__(self, engine: Engine, channel: Channel) -> None:
        self.engine = engine
        self.channel = channel
        self.spec = PLATFORMS[channel.platform]
        self._token: str | None = None
        self._expires: dt.datetime | None = None
        self._version: int | None = None

    def _due(self, expires: dt.datetime | None, now: dt.datetime) -> bool:
        return expires is not None and expires - now <= self.spec.margin

    def current(self) -> str:
        """A token good for now (runs in a worker thread: it may wait on a lock)."""
        now = utcnow()
        if self._token and not self._due(self._expires, now):
            return self._token
        with Session(self.engine) as session:
            row = credential_for(session, self.channel.id or 0)
            if row is None:
                raise PermanentError(f"channel {self.channel.name} is not connected")
            session.expunge(row)
        if row.status == REVOKED:
            raise GrantRevoked(f"channel {self.channel.name}: {row.detail}", retry_after=3600)
        data = secrets.decrypt(row.secret)
        token, expires, version = data["access_token"], row.expires_at, row.version
        refreshable = self._refreshable(row, now)
        if self._due(expires, now) and refreshable:
            try:
                token, expires, version = refresh(self.engine, self.channel, seen_version=version)
            except TokenEndpointUnavailable as exc:
                if expires is None or expires - now <= STILL_GOOD:
                    raise
                # The token in hand still works: send with it, refresh next time.
                log.warning("%s; sending with the current token meanwhile", exc)
                self._warn(row, now)
                return token
        if expires is not None and (not refreshable or self.spec.margin > self.spec.warn):
            # No refresh possible, or one long overdue (Threads refreshes with
            # 30 days left; a week left means it kept failing): say so early.
            self._warn(row, now, expires)
        if expires is not None and expires <= now:
            raise CredentialRejected(
                f"channel {self.channel.name}: the {self.spec.name} token expired on "
                f"{expires:%Y-%m-%d}; run `scheduler channels connect {self.channel.name}`"
            )
        self._token, self._expires, self._version = token, expires, version
        return token

    def _refreshable(self, row: Credential, now: dt.datetime) -> bool:
        if self.spec.refresh == "oauth":
            return row.has_refresh
        if self.spec.refresh == "threads":
            # Threads refreshes only a token at least a day old and not expired.
            issued = row.refreshed_at or row.obtained_at
            return now - issued >= self.spec.min_age and (
                row.expires_at is None or row.expires_at > now
            )
        return False

    def _warn(self, row: Credential, now: dt.datetime, expires: dt.datetime | None = None) -> None:
        expires = expires or row.expires_at
        if expires is None or expires - now > self.spec.warn or row.warned_at:
            return
        with self.engine.begin() as conn:
            claimed = conn.execute(
                _table.update()
                .where(_table.c.id == row.id, _table.c.warned_at.is_(None))
                .values(warned_at=now)
            ).rowcount
        if claimed:
            days = max((expires - now).days, 0)
            message = (
                f"channel {self.channel.name}: the {self.spec.name} token expires in {days} days "
                f"({expires:%Y-%m-%d}) and has not been refreshed; run "
                f"`scheduler channels connect {self.channel.name}` before then"
            )
            log.warning("%s", message)
            _tell(CredentialEvent("expiring", self.channel.name, self.channel.platform, message))

    def replace(self, rejected: str) -> str:
        """After a 401 on `rejected`: the stored token if it is newer (another
        process refreshed, or the user reconnected), else one refresh."""
        with Session(self.engine) as session:
            row = credential_for(session, self.channel.id or 0)
            if row is None:
                raise PermanentError(f"channel {self.channel.name} is not connected")
            session.expunge(row)
        data = secrets.decrypt(row.secret)
        if data["access_token"] != rejected and row.status == CONNECTED:
            token, expires, version = data["access_token"], row.expires_at, row.version
        elif self.spec.refresh == "never" or (self.spec.refresh == "oauth" and not row.has_refresh):
            raise CredentialRejected(
                f"channel {self.channel.name}: {self.spec.name} refused the token and there is "
                f"no refresh token; run `scheduler channels connect {self.channel.name}`"
            )
        else:
            token, expires, version = refresh(self.engine, self.channel, seen_version=row.version)
        self._token, self._expires, self._version = token, expires, version
        return token

    async def access_token(self) -> str:
        return await asyncio.to_thread(_keyed, self.channel.name, self.current)

    async def refreshed(self, rejected: str) -> str:
        return await asyncio.to_thread(_keyed, self.channel.name, self.replace, rejected)


def _keyed(name: str, call: Callable[..., str], *args: Any) -> str:
    """A missing or wrong key at send time keeps the post queued (it is the
    daemon's setup, not the post, that is wrong) instead of failing it."""
    try:
        return call(*args)
    except SecretKeyError as exc:
        raise RetryableError(f"channel {name}: {exc}", retry_after=600) from None


def upkeep(engine: Engine) -> dict[str, int]:
    """Refresh every connected channel's token that is due, and give the
    week-ahead warnings (the daemon runs this hourly). Returns counts."""
    with Session(engine) as session:
        rows = session.exec(
            select(Channel)
            .join(Credential, Credential.channel_id == Channel.id)
            .where(Credential.status == CONNECTED, Channel.paused.is_(False))  # type: ignore[attr-defined]
        ).all()
        for channel in rows:
            session.expunge(channel)
    counts = {"checked": 0, "failed": 0}
    for channel in rows:
        if channel.platform not in PLATFORMS:
            continue
        counts["checked"] += 1
        try:
            ChannelTokens(engine, channel).current()
        except Exception as exc:
            # Each channel on its own: one that cannot refresh now is logged
            # (and paused, if revoked); the next hour tries again.
            counts["failed"] += 1
            log.warning("channel %s: %s", channel.name, exc)
    return counts
