"""Keeping connected channels connected, against the authlib server on
127.0.0.1: refresh before expiry with a rotated refresh token saved with its
access token, one refresh after a 401, transient token-endpoint failures
retried and never taken for a revoked grant, `invalid_grant` pausing the
channel with a line and a callback, LinkedIn's and Threads' 60-day tokens,
two daemons on PostgreSQL refreshing once, and a kill -9 mid-refresh."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from sqlmodel import Session, select

from scheduler.accounts import channels, oauth, secrets, tokens
from scheduler.delivery.lanes import make_client
from scheduler.errors import (
    CredentialRejected,
    GrantRevoked,
    RetryableError,
    TokenEndpointUnavailable,
)
from scheduler.publishers.base import OutgoingPost
from scheduler.storage import database
from scheduler.storage.models import Channel, Credential

from .conftest import CLIENTS, add

NOW = dt.datetime.now(dt.UTC)


def channel_of(engine, name: str) -> Channel:
    with Session(engine) as session:
        channel = session.exec(select(Channel).where(Channel.name == name)).one()
        session.expunge(channel)
        return channel


def stored(engine, name: str) -> tuple[Credential, dict]:
    with Session(engine) as session:
        channel = session.exec(select(Channel).where(Channel.name == name)).one()
        row = session.exec(select(Credential).where(Credential.channel_id == channel.id)).one()
        session.expunge(row)
        return row, secrets.decrypt(row.secret)


def set_row(engine, name: str, **values) -> None:
    with database.session_scope(engine) as session:
        channel = session.exec(select(Channel).where(Channel.name == name)).one()
        row = session.exec(select(Credential).where(Credential.channel_id == channel.id)).one()
        for key, value in values.items():
            setattr(row, key, value)
        session.add(row)


def due_soon(engine, name: str) -> None:
    """The stored token has a minute left: inside X's refresh margin."""
    set_row(engine, name, expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(minutes=1))


def test_refresh_before_expiry_saves_the_rotated_pair_together(connected, engine, auth):
    connected("club-x", "x")
    _, before = stored(engine, "club-x")
    due_soon(engine, "club-x")
    source = tokens.ChannelTokens(engine, channel_of(engine, "club-x"))
    token = source.current()
    assert auth.counts["refresh"] == 1
    row, after = stored(engine, "club-x")
    issued = auth.token(token)
    assert issued is not None and after["access_token"] == token
    # Rotation: a new refresh token, stored with the access token it came with.
    assert after["refresh_token"] == issued.refresh_token != before["refresh_token"]
    old = next(t for t in auth.tokens if t.refresh_token == before["refresh_token"])
    assert old.refresh_revoked
    assert row.expires_at and row.expires_at > NOW + dt.timedelta(minutes=100)
    assert row.refreshed_at is not None
    # Fresh now: asking again is answered from memory, no second refresh.
    assert source.current() == token and auth.counts["refresh"] == 1


def test_a_401_is_refreshed_once_and_the_post_goes_out(connected, engine, auth):
    connected("club-x", "x")
    _, data = stored(engine, "club-x")
    # The platform ends the token early; the database still thinks it is good.
    auth.expire(data["access_token"])
    publisher = channels.publisher_for(channel_of(engine, "club-x"), reveal=True, engine=engine)
    post = OutgoingPost(1, "key-1", "Match day!", NOW)

    async def send():
        async with make_client() as client:
            return await publisher.publish(client, post)

    result = asyncio.run(send())
    assert result.remote_id == "1001"
    assert auth.counts["refresh"] == 1
    assert auth.posts == [{"text": "Match day!"}]
    # A second 401 after the refresh is the platform's answer, not refreshed again.
    _, data = stored(engine, "club-x")
    auth.expire(data["access_token"])
    auth.issue_refresh = False
    for t in auth.tokens:
        t.refresh_revoked = True
    with pytest.raises(GrantRevoked, match="paused"):
        asyncio.run(send())
    assert channel_of(engine, "club-x").paused


def test_transient_failures_are_retried_and_never_revoke(connected, engine, auth):
    revoked = []
    tokens.on_revoked(revoked.append)
    connected("club-x", "x")
    due_soon(engine, "club-x")
    auth.faults = ["503", "503"]
    token = tokens.ChannelTokens(engine, channel_of(engine, "club-x")).current()
    assert auth.token(token) is not None
    assert auth.counts["token"] == 1 + 3 and auth.counts["refresh"] == 1
    # Every try fails: a retryable error; the grant and the channel stand.
    due_soon(engine, "club-x")
    auth.faults = ["503"] * 4
    with pytest.raises(TokenEndpointUnavailable, match="4 times; will try again"):
        tokens.ChannelTokens(engine, channel_of(engine, "club-x")).current()
    row, data = stored(engine, "club-x")
    assert row.status == "connected" and data["access_token"] == token
    assert not channel_of(engine, "club-x").paused and revoked == []


def test_connection_refused_is_transient(connected, engine, auth):
    connected("club-x", "x")
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        dead = probe.getsockname()[1]
    with database.session_scope(engine) as session:
        channel = session.exec(select(Channel).where(Channel.name == "club-x")).one()
        channel.options = {**channel.options, "auth_base": f"http://127.0.0.1:{dead}"}
        session.add(channel)
    due_soon(engine, "club-x")
    with pytest.raises(TokenEndpointUnavailable, match="ConnectError"):
        tokens.ChannelTokens(engine, channel_of(engine, "club-x")).current()
    row, _ = stored(engine, "club-x")
    assert row.status == "connected" and not channel_of(engine, "club-x").paused


def test_invalid_grant_pauses_with_a_line_and_a_callback(connected, engine, auth, browser):
    heard = []
    tokens.on_revoked(heard.append)
    connected("club-x", "x")
    auth.revoke_everything()  # the user removed the app on X
    due_soon(engine, "club-x")
    with pytest.raises(GrantRevoked):
        tokens.ChannelTokens(engine, channel_of(engine, "club-x")).current()
    assert channel_of(engine, "club-x").paused
    row, _ = stored(engine, "club-x")
    assert row.status == "revoked"
    (event,) = heard
    assert event.kind == "revoked" and event.channel == "club-x"
    assert "channels connect club-x" in event.message
    with Session(engine) as session:
        (listed,) = channels.channel_rows(session)
    assert listed["paused"]
    assert listed["credential"].startswith("REVOKED as club_account: ")
    with Session(engine) as session:
        (state,) = tokens.credential_states(session)
    assert state["status"] == "revoked" and state["channel"] == "club-x"
    assert "run `channels connect`" in listed["credential"]
    # Connecting again renews the channel in place and resumes it.
    oauth.connect(engine, "club-x", open_url=browser, say=lambda _: None, **CLIENTS["x"])
    assert not channel_of(engine, "club-x").paused
    assert stored(engine, "club-x")[0].status == "connected"


def test_linkedin_without_refresh_tokens_warns_a_week_before(connected, engine, auth):
    heard = []
    tokens.on_expiring(heard.append)
    auth.issue_refresh = False  # an app LinkedIn has not approved for refresh tokens
    connected("club-li", "linkedin")
    row, _ = stored(engine, "club-li")
    assert not row.has_refresh
    set_row(engine, "club-li", expires_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=5, hours=1))
    source = tokens.ChannelTokens(engine, channel_of(engine, "club-li"))
    source.current()
    tokens.ChannelTokens(engine, channel_of(engine, "club-li")).current()
    (event,) = heard  # once, however often the token is asked for
    assert event.kind == "expiring" and "expires in 5 days" in event.message
    with Session(engine) as session:
        (listed,) = channels.channel_rows(session)
    assert "EXPIRES in 5 d" in listed["credential"]
    assert auth.counts["refresh"] == 0
    set_row(engine, "club-li", expires_at=dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
    with pytest.raises(CredentialRejected, match="expired on"):
        tokens.ChannelTokens(engine, channel_of(engine, "club-li")).current()


def test_threads_refreshes_its_long_lived_token_well_before_60_days(connected, engine, auth):
    connected("club-th", "threads")
    _, before = stored(engine, "club-th")
    source = tokens.ChannelTokens(engine, channel_of(engine, "club-th"))
    assert source.current() == before["access_token"]  # 60 days left: nothing to do
    now = dt.datetime.now(dt.UTC)
    set_row(
        engine,
        "club-th",
        obtained_at=now - dt.timedelta(days=31),
        expires_at=now + dt.timedelta(days=29),
    )
    # The daemon's hourly check refreshes it, though the channel sent nothing.
    assert tokens.upkeep(engine) == {"checked": 1, "failed": 0}
    _, data = stored(engine, "club-th")
    token = data["access_token"]
    assert auth.counts["threads_refresh_access_token"] == 1
    assert token != before["access_token"] and auth.token(token) is not None
    row, _ = stored(engine, "club-th")
    assert row.expires_at and row.expires_at > now + dt.timedelta(days=59)


def test_a_threads_refresh_that_keeps_failing_is_said_early(connected, engine, auth):
    heard = []
    tokens.on_expiring(heard.append)
    connected("club-th", "threads")
    _, before = stored(engine, "club-th")
    now = dt.datetime.now(dt.UTC)
    set_row(
        engine,
        "club-th",
        obtained_at=now - dt.timedelta(days=55),
        expires_at=now + dt.timedelta(days=5, hours=1),
    )
    auth.faults = ["503"] * 4
    # The refresh fails, but the token in hand has days left: it is used.
    token = tokens.ChannelTokens(engine, channel_of(engine, "club-th")).current()
    assert token == before["access_token"]
    assert auth.counts["threads_refresh_access_token"] == 4
    (event,) = heard
    assert "expires in 5 days" in event.message and "has not been refreshed" in event.message
    row, _ = stored(engine, "club-th")
    assert row.status == "connected" and row.warned_at is not None
    with Session(engine) as session:
        (listed,) = channels.channel_rows(session)
    assert "EXPIRES in 5 d" in listed["credential"]


def test_a_connected_threads_channel_publishes_with_its_stored_token(connected, engine, auth):
    connected("club-th", "threads")
    _, data = stored(engine, "club-th")
    publisher = channels.publisher_for(channel_of(engine, "club-th"), reveal=True, engine=engine)

    async def send():
        async with make_client() as client:
            return await publisher.publish(client, OutgoingPost(1, "k-1", "Kick-off at 3", NOW))

    result = asyncio.run(send())
    assert result.remote_id == "m1"
    (sent,) = auth.posts
    # The token travels in the form: the stored one, not a placeholder.
    assert sent["access_token"] == data["access_token"] and sent["text"] == "Kick-off at 3"


@pytest.mark.postgres
def test_two_daemons_on_postgres_refresh_a_channel_once(pg_url, auth, key, browser):
    first = database.make_engine(pg_url)
    second = database.make_engine(pg_url)
    try:
        add(first, "club-x", "x", auth)
        oauth.connect(first, "club-x", open_url=browser, say=lambda _: None, **CLIENTS["x"])
        due_soon(first, "club-x")
        connected_version = stored(first, "club-x")[0].version

        # The first refresh is not answered until the other daemon is waiting
        # for the channel's row (a backend waiting on a lock): both asked while
        # the first was in flight, whatever the machine's speed.
        def other_daemon_waits() -> None:
            with second.connect() as conn:
                for _ in range(400):
                    waiting = conn.execute(
                        sa.text(
                            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
                        )
                    ).scalar_one()
                    if waiting:
                        return
                    conn.rollback()
                    time.sleep(0.01)

        auth.before_refresh = other_daemon_waits
        channel = channel_of(first, "club-x")
        start = threading.Barrier(2)
        got: dict[str, str] = {}

        def daemon(name, engine):
            source = tokens.ChannelTokens(engine, channel)
            start.wait()
            got[name] = source.current()

        workers = [
            threading.Thread(target=daemon, args=("a", first)),
            threading.Thread(target=daemon, args=("b", second)),
        ]
        for w in workers:
            w.start()
        for w in workers:
            w.join(20)
        # One call at the token endpoint after the connect's, not one per daemon.
        assert auth.counts["token"] == 2 and auth.counts["refresh"] == 1
        assert got["a"] == got["b"] and auth.token(got["a"]) is not None
        row, data = stored(first, "club-x")
        assert row.version == connected_version + 1 and data["access_token"] == got["a"]
    finally:
        first.dispose()
        second.dispose()


def test_kill_9_between_receiving_and_saving_loses_nothing(
    connected, engine, auth, key, sqlite_file: Path
):
    # A server that keeps the old refresh token good until the new one is used
    # (a strictly rotating server would have spent it: no client can save that).
    auth.strict_rotation = False
    connected("club-x", "x")
    before_row, before = stored(engine, "club-x")
    due_soon(engine, "club-x")
    engine.dispose()
    script = Path(__file__).with_name("crash_refresh.py")
    environ = {**os.environ, "SCHEDULER_SECRET_KEY": key}
    proc = subprocess.run(
        [sys.executable, str(script), f"sqlite:///{sqlite_file}", "club-x"],
        capture_output=True,
        text=True,
        env=environ,
        cwd=Path(__file__).parents[2],
        timeout=60,
    )
    assert proc.returncode == -9, proc.stderr
    assert "received and written, not committed" in proc.stdout
    assert auth.counts["refresh"] == 1  # the server did rotate
    # Both tokens or neither: the old pair, whole, and the channel still connected.
    row, data = stored(engine, "club-x")
    assert (data["access_token"], data["refresh_token"]) == (
        before["access_token"],
        before["refresh_token"],
    )
    assert row.version == before_row.version and row.status == "connected"
    assert not channel_of(engine, "club-x").paused
    # The next daemon refreshes with the pair it has.
    token = tokens.ChannelTokens(engine, channel_of(engine, "club-x")).current()
    assert auth.counts["refresh"] == 2 and auth.token(token) is not None


def test_a_daemon_without_the_key_keeps_posts_queued(connected, engine, monkeypatch):
    connected("club-x", "x")
    monkeypatch.setenv("SCHEDULER_SECRET_KEY", Fernet.generate_key().decode())
    source = tokens.ChannelTokens(engine, channel_of(engine, "club-x"))
    with pytest.raises(RetryableError, match="do not decrypt") as caught:
        asyncio.run(source.access_token())
    assert not isinstance(caught.value, GrantRevoked)


def test_a_revoked_grant_is_told_through_the_notifications(connected, engine, auth, monkeypatch):
    """With notifications set, the pause writes a `paused` notice in the same
    transaction (the desk's outbox, delivered by the daemon's notifier)."""
    from scheduler.storage.models import Notification

    monkeypatch.setenv("SCHEDULER_NOTIFY_URLS", '["json://127.0.0.1:9/alerts"]')
    connected("club-x", "x")
    auth.revoke_everything()
    due_soon(engine, "club-x")
    with pytest.raises(GrantRevoked):
        tokens.ChannelTokens(engine, channel_of(engine, "club-x")).current()
    with Session(engine) as session:
        notes = session.exec(select(Notification)).all()
    assert [(n.event, n.post_id) for n in notes] == [("paused", None)]
    assert "channels connect club-x" in notes[0].message
