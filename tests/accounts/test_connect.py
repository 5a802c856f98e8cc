"""`scheduler channels connect` against the authlib authorisation server on
127.0.0.1: the whole flow from the command line without a browser, each
platform's variant (PKCE, client secrets, Mastodon's app registration,
Threads' long-lived exchange), a forged `state` and a refusal storing
nothing, and a reconnect keeping the refresh token and the channel's posts."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlmodel import Session, select

from scheduler.accounts import oauth, secrets
from scheduler.errors import ConfigError, ConnectError, SecretKeyError
from scheduler.storage import database
from scheduler.storage.models import Channel, Credential, Post

from .conftest import CLIENTS, add, browse, options_for


def stored(engine, name: str) -> tuple[Credential, dict]:
    with Session(engine) as session:
        channel = session.exec(select(Channel).where(Channel.name == name)).one()
        row = session.exec(select(Credential).where(Credential.channel_id == channel.id)).one()
        return row, secrets.decrypt(row.secret)


def queue_post(engine, name: str, text: str, key: str) -> None:
    """One post due tomorrow on channel NAME."""
    with database.session_scope(engine) as session:
        channel = session.exec(select(Channel).where(Channel.name == name)).one()
        session.add(
            Post(
                channel_id=channel.id,
                text=text,
                due_at=dt.datetime.now(dt.UTC) + dt.timedelta(days=1),
                idempotency_key=key,
            )
        )


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """The real command line, in this process (a process start costs seconds
    on a loaded machine; the connect test below runs one for real)."""
    from scheduler.cli import app
    from scheduler.cli.common import run

    def call(db: Path, *args: str, key: str) -> Ran:
        monkeypatch.setenv("SCHEDULER_SECRET_KEY", key)
        capsys.readouterr()
        code = run(app, ["--db", f"sqlite:///{db}", *args])
        out, err = capsys.readouterr()
        return Ran(code, out, err)

    return call


def test_connect_x_from_the_command_line_end_to_end(
    tmp_path, sqlite_file, engine, auth, key, run_cli
):
    add(engine, "club-x", "x", auth)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    environ.update(
        {"SCHEDULER_DB": f"sqlite:///{sqlite_file}", "SCHEDULER_SECRET_KEY": key, "NO_COLOR": "1"}
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scheduler",
            "channels",
            "connect",
            "club-x",
            "--no-browser",
            "--client-id",
            "x-app",
            "--timeout",
            "30",
        ],
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=environ,
    )
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if line.startswith("http://127.0.0.1"):
            break
    url = lines[-1].strip()
    # The page is printed, the callback listens on a port of its own choosing.
    assert f"{auth.url}/i/oauth2/authorize?" in url
    assert "code_challenge_method=S256" in url and "redirect_uri=http%3A%2F%2F127.0.0.1%3A" in url
    assert browse(url).text.startswith("Connected.")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "connected channel club-x: id=4242, username=club_account" in out
    # The code went through PKCE: the server checked the verifier against the challenge.
    assert auth.counts["authorize"] == 1 and auth.counts["token"] == 1
    row, data = stored(engine, "club-x")
    issued = auth.tokens[-1]
    assert data["access_token"] == issued.access_token
    assert data["refresh_token"] == issued.refresh_token
    assert row.has_refresh and row.status == "connected"
    assert row.account and row.account["username"] == "club_account"

    # Never in clear text: not in the database file, its WAL, the listing, or JSON.
    engine.dispose()
    for path in sqlite_file.parent.glob("scheduler.db*"):
        raw = path.read_bytes()
        for secret in (issued.access_token, issued.refresh_token):
            assert secret.encode() not in raw, path
    listing = run_cli(sqlite_file, "channels", "list", key=key)
    as_json = run_cli(sqlite_file, "channels", "list", "--json", key=key)
    assert listing.returncode == 0 and as_json.returncode == 0
    assert "club-x: connected as club_account; token until" in listing.stdout
    assert json.loads(as_json.stdout)[0]["credential"].startswith("connected as club_account")
    for text in (out, err, listing.stdout, as_json.stdout):
        assert issued.access_token not in text and issued.refresh_token not in text
    preview_channel = run_cli(sqlite_file, "channels", "test", "club-x", key=key)
    assert preview_channel.returncode == 0, preview_channel.stderr
    assert "username=club_account" in preview_channel.stdout


def test_connect_refuses_one_line_each(sqlite_file, engine, auth, key, run_cli):
    with database.session_scope(engine) as session:
        from scheduler.accounts import channels

        channels.add_channel(
            session,
            "hook",
            "webhook",
            options={"url": f"{auth.url}/hook"},
            secret_env="HOOK",
            timezone="UTC",
            slots="mon 09:00",
        )
    add(engine, "club-x", "x", auth)
    engine.dispose()
    webhook = run_cli(sqlite_file, "channels", "connect", "hook", key=key)
    assert webhook.returncode != 0
    assert webhook.stderr.strip().count("\n") == 0
    assert "channels connect` is for linkedin, mastodon, threads, x" in webhook.stderr
    no_id = run_cli(sqlite_file, "channels", "connect", "club-x", "--no-browser", key=key)
    assert no_id.returncode != 0 and "x needs --client-id" in no_id.stderr
    bad_key = run_cli(sqlite_file, "channels", "connect", "club-x", "--no-browser", key="not-a-key")
    assert bad_key.returncode != 0 and "not a Fernet key" in bad_key.stderr
    assert "not-a-key" not in bad_key.stderr
    assert "Traceback" not in webhook.stderr + no_id.stderr + bad_key.stderr
    assert auth.counts["authorize"] == 0


def test_linkedin_threads_and_mastodon_connect(connected, engine, auth):
    linkedin = connected("club-li", "linkedin")
    assert linkedin["account"]["member"] == "urn:li:person:4242"
    threads = connected("club-th", "threads")
    # Threads: the one-hour token was exchanged for the 60-day one.
    assert auth.counts["threads_access_token"] == 1
    _, data = stored(engine, "club-th")
    long_lived = auth.token(data["access_token"])
    assert long_lived is not None and long_lived.expires_in == 5_184_000
    expires = dt.datetime.fromisoformat(threads["expires_at"])
    assert expires - dt.datetime.now(dt.UTC) > dt.timedelta(days=59)
    mastodon = connected("club-ma", "mastodon")
    # Mastodon: the app registered itself on the instance for this redirect.
    assert auth.counts["apps"] == 1
    assert mastodon["account"]["acct"] == "club_account"
    row, data = stored(engine, "club-ma")
    assert data["client_id"] in auth.clients and row.expires_at is None
    assert not mastodon["refreshes"]


def test_a_forged_state_or_a_refusal_stores_nothing(engine, auth, key, browser):
    add(engine, "club-x", "x", auth)
    auth.tamper_state = True
    with pytest.raises(ConnectError, match="state did not match"):
        oauth.connect(engine, "club-x", open_url=browser, say=lambda _: None, **CLIENTS["x"])
    auth.tamper_state, auth.deny = False, True
    with pytest.raises(ConnectError, match="did not authorise: access_denied"):
        oauth.connect(engine, "club-x", open_url=browser, say=lambda _: None, **CLIENTS["x"])
    with Session(engine) as session:
        assert session.exec(select(Credential)).all() == []
    assert auth.counts["token"] == 0


def test_reconnecting_keeps_the_refresh_token_and_the_posts(connected, engine, auth, browser):
    connected("club-x", "x")
    first_row, first = stored(engine, "club-x")
    queue_post(engine, "club-x", "queued before the reconnect", "k-1")
    # This grant brings an access token only (as a re-consent may).
    auth.issue_refresh = False
    again = oauth.connect(engine, "club-x", open_url=browser, say=lambda _: None, **CLIENTS["x"])
    assert again["refreshes"]
    row, data = stored(engine, "club-x")
    assert data["access_token"] != first["access_token"]
    assert data["refresh_token"] == first["refresh_token"]
    assert row.id == first_row.id and row.version == first_row.version + 1
    with Session(engine) as session:
        (post,) = session.exec(select(Post)).all()
        assert post.text == "queued before the reconnect"


def test_no_key_anywhere_is_one_clear_error(engine, auth, monkeypatch, browser):
    monkeypatch.delenv("SCHEDULER_SECRET_KEY", raising=False)
    monkeypatch.setattr(secrets, "_keyring", lambda: None)
    add(engine, "club-x", "x", auth)
    with pytest.raises(SecretKeyError, match="no key to encrypt credentials with"):
        oauth.connect(engine, "club-x", open_url=browser, say=lambda _: None, **CLIENTS["x"])
    assert auth.counts["authorize"] == 0


def test_channel_option_auth_base_moves_every_endpoint(auth):
    from scheduler.accounts.platforms import PLATFORMS, endpoint, threads_refresh_url

    x = PLATFORMS["x"]
    assert endpoint(x, x.token, {}) == "https://api.x.com/2/oauth2/token"
    assert endpoint(x, x.token, options_for("x", auth)) == f"{auth.url}/2/oauth2/token"
    assert threads_refresh_url({}) == "https://graph.threads.net/refresh_access_token"
    with pytest.raises(ConfigError):
        from scheduler.accounts.oauth import _client_credentials

        _client_credentials(PLATFORMS["linkedin"], {}, "li-app", None)


def test_disconnect_forgets_the_tokens_keeps_the_posts_and_pauses(
    connected, engine, sqlite_file, key, run_cli
):
    connected("club-x", "x")
    queue_post(engine, "club-x", "queued before the disconnect", "k-d")
    done = run_cli(sqlite_file, "channels", "disconnect", "club-x", key=key)
    assert done.returncode == 0, done.stderr
    assert "disconnected channel club-x" in done.stdout and "paused it" in done.stdout
    with Session(engine) as session:
        assert session.exec(select(Credential)).all() == []
        channel = session.exec(select(Channel).where(Channel.name == "club-x")).one()
        assert channel.paused
        (post,) = session.exec(select(Post)).all()
        assert post.text == "queued before the disconnect" and post.status == "queued"
    # Again: nothing left to forget, one line, no traceback.
    again = run_cli(sqlite_file, "channels", "disconnect", "club-x", key=key)
    assert again.returncode != 0
    assert "club-x is not connected" in again.stderr and "Traceback" not in again.stderr
    unknown = run_cli(sqlite_file, "channels", "disconnect", "nope", key=key)
    assert unknown.returncode != 0 and "no channel named 'nope'" in unknown.stderr
    # The listing no longer speaks of tokens.
    listing = run_cli(sqlite_file, "channels", "list", "--json", key=key)
    assert not json.loads(listing.stdout)[0]["credential"]
