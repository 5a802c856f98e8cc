"""Credentials at rest and in use: rotating the key (all rows or none), a
wrong key as one line, the daemon sending through a connected channel with
its refreshed token and nothing secret in its log, previews showing `***`,
and environment-variable channels working as before."""

from __future__ import annotations

import logging

import keyring
import pytest
from cryptography.fernet import Fernet
from keyring.backend import KeyringBackend
from sqlmodel import Session, select

from scheduler.accounts import secrets
from scheduler.cli import app
from scheduler.cli.common import run
from scheduler.errors import SecretKeyError
from scheduler.storage import database
from scheduler.storage.models import Channel, Credential, Post

from .test_refresh import due_soon, stored


@pytest.fixture
def cli(capsys, monkeypatch, sqlite_file):
    def call(*args: str, key: str | None = None, **env: str) -> tuple[int, str, str]:
        if key is not None:
            monkeypatch.setenv("SCHEDULER_SECRET_KEY", key)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = run(app, ["--db", f"sqlite:///{sqlite_file}", *args])
        out, err = capsys.readouterr()
        return code, out, err

    return call


def test_rotate_key_re_encrypts_every_credential_at_once(connected, engine, key, cli):
    connected("club-x", "x")
    connected("club-ma", "mastodon")
    _, x_before = stored(engine, "club-x")
    new = Fernet.generate_key().decode()
    code, out, err = cli("channels", "rotate-key", "--new-key-env", "NEW_KEY", NEW_KEY=new)
    assert code == 0, err
    assert "re-encrypted 2 credential(s)" in out and new not in out
    # The old key opens nothing now; the new one opens everything.
    with pytest.raises(SecretKeyError, match="do not decrypt"):
        stored(engine, "club-x")
    code, out, err = cli("channels", "rotate-key", "--new-key-env", "NEW_KEY")
    assert code == 1 and err.count("\n") == 1 and "do not decrypt" in err
    assert key not in err and "Traceback" not in err
    _, x_after = stored_with(engine, "club-x", new)
    assert x_after == x_before


def stored_with(engine, name, key):
    import os

    old = os.environ["SCHEDULER_SECRET_KEY"]
    os.environ["SCHEDULER_SECRET_KEY"] = key
    try:
        return stored(engine, name)
    finally:
        os.environ["SCHEDULER_SECRET_KEY"] = old


def test_a_rotation_that_cannot_finish_changes_nothing(connected, engine, key, cli):
    connected("club-x", "x")
    connected("club-li", "linkedin")
    # One row sealed under a key we no longer have: the rotation must stop there.
    stray = secrets.Keys((Fernet.generate_key().decode(),), "env")
    with database.session_scope(engine) as session:
        row = session.exec(select(Credential).order_by(Credential.id.desc())).first()
        row.secret = secrets.encrypt({"access_token": "x"}, stray)
        session.add(row)
    with Session(engine) as session:
        before = {r.id: (r.secret, r.version) for r in session.exec(select(Credential))}
    new = Fernet.generate_key().decode()
    code, _, err = cli("channels", "rotate-key", "--new-key-env", "NEW_KEY", NEW_KEY=new)
    assert code == 1 and "do not decrypt" in err
    with Session(engine) as session:
        after = {r.id: (r.secret, r.version) for r in session.exec(select(Credential))}
    assert after == before
    # During a rotation SCHEDULER_SECRET_KEY may list NEW,OLD: both open.
    both = secrets.Keys((new, key), "env")
    assert secrets.decrypt(secrets.encrypt({"a": 1}, secrets.Keys((key,), "env")), both) == {"a": 1}


def test_the_daemon_sends_through_a_connected_channel(
    connected, engine, auth, key, cli, caplog, sqlite_file
):
    connected("club-x", "x")
    _, before = stored(engine, "club-x")
    due_soon(engine, "club-x")  # the daemon must refresh before it sends
    code, _, err = cli("queue", "add", "club-x", "Full time: 2-1", "--at", "now")
    assert code == 0, err
    with caplog.at_level(logging.DEBUG):
        code, out, err = cli("preview", "--json")
        assert code == 0, err
        assert '"Authorization": "Bearer ***"' in out
        code, out, err = cli("daemon", "--once")
    assert code == 0, err
    assert auth.posts == [{"text": "Full time: 2-1"}]
    assert auth.counts["refresh"] == 1
    with Session(engine) as session:
        (post,) = session.exec(select(Post)).all()
        assert post.status == "sent" and post.remote_id == "1001"
    _, after = stored(engine, "club-x")
    logged = "\n".join(r.getMessage() for r in caplog.records) + out + err
    for secret in (before["access_token"], before["refresh_token"], after["access_token"]):
        assert secret not in logged
    assert after["refresh_token"] not in logged


def test_environment_variable_channels_work_as_before(engine, auth, key, cli, monkeypatch):
    issued = auth.add_client("env-app", None, "none")
    # A token obtained elsewhere, kept in the environment as before.
    from .authserver import USER, Token

    token = Token(issued.client_id, USER, "env-token-123", None, "tweet.write", 7200)
    auth.tokens.append(token)
    monkeypatch.setenv("X_TOKEN", "env-token-123")
    code, _, err = cli(
        "channels", "add", "env-x", "--platform", "x", "--secret-env", "X_TOKEN",
        "-o", f"api={auth.url}",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = cli("channels", "test", "env-x")
    assert code == 0, err
    assert "username=club_account" in out
    code, out, _ = cli("channels", "list")
    assert "X_TOKEN" in out and "connected" not in out
    # A connectable platform without --secret-env is told how to connect it.
    code, _, _ = cli("channels", "add", "later-x", "--platform", "x", "-o", f"api={auth.url}")
    assert code == 0
    code, _, err = cli("channels", "test", "later-x")
    assert code == 1 and "not connected: run `scheduler channels connect later-x`" in err
    with Session(engine) as session:
        names = [c.name for c in session.exec(select(Channel))]
    assert names == ["env-x", "later-x"]


class MemoryKeyring(KeyringBackend):
    """A keyring backend that keeps passwords in a dict (keyring's own API)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.passwords: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.passwords.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.passwords[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.passwords.pop((service, username), None)


def test_the_key_can_live_in_the_system_keyring(connected, engine, monkeypatch, cli):
    monkeypatch.delenv("SCHEDULER_SECRET_KEY")
    ring = MemoryKeyring()
    previous = keyring.get_keyring()
    keyring.set_keyring(ring)
    try:
        connected("club-x", "x")  # no key yet: one is made in the keyring
        first = ring.passwords[("scheduler", "secret-key")]
        row, data = stored(engine, "club-x")
        assert data["access_token"] and first not in row.secret
        code, out, err = cli("channels", "rotate-key")
        assert code == 0, err
        assert "re-encrypted 1 credential(s)" in out
        second = ring.passwords[("scheduler", "secret-key")]
        assert second != first and ring.passwords[("scheduler", "secret-key-previous")] == first
        assert stored(engine, "club-x")[1] == data
        # Under the new key alone too: the previous one is only a safety net.
        del ring.passwords[("scheduler", "secret-key-previous")]
        assert stored(engine, "club-x")[1] == data
    finally:
        keyring.set_keyring(previous)
