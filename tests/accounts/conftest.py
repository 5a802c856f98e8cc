"""Fixtures for the accounts tests: the authlib authorisation server on
127.0.0.1, a secret key in the environment, a migrated SQLite file (and the
real PostgreSQL of tests/reliability), channels pointed at the server, and a
"browser" that follows the authorisation URL back to the loopback callback."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy.engine import Engine

from scheduler.accounts import channels, oauth, tokens
from scheduler.storage import database, migrations

# The real PostgreSQL server and a fresh database on it (tests/reliability).
from tests.reliability.conftest import pg_server, pg_url  # noqa: F401

from .authserver import AuthServer


@pytest.fixture
def auth() -> Iterator[AuthServer]:
    server = AuthServer().start()
    server.add_client("x-app", None, "none")
    server.add_client("li-app", "li-secret", "client_secret_post")
    server.add_client("th-app", "th-secret", "client_secret_post")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    value = Fernet.generate_key().decode()
    monkeypatch.setenv("SCHEDULER_SECRET_KEY", value)
    return value


@pytest.fixture(autouse=True)
def _quick_retries(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    # Production waits seconds between tries at a failing token endpoint.
    monkeypatch.setattr(tokens, "BACKOFF", (0.01, 0.02, 0.04))
    monkeypatch.setattr(tokens, "TIMEOUT", 2.0)
    monkeypatch.setattr(oauth, "TIMEOUT", 2.0)
    saved = list(tokens._listeners)
    yield
    tokens._listeners[:] = saved


def migrated(url: str) -> Engine:
    engine = database.make_engine(url)
    migrations.upgrade(engine)
    return engine


@pytest.fixture
def sqlite_file(tmp_path: Path) -> Path:
    return tmp_path / "scheduler.db"


@pytest.fixture
def engine(sqlite_file: Path) -> Iterator[Engine]:
    engine = migrated(f"sqlite:///{sqlite_file}")
    yield engine
    engine.dispose()


def options_for(platform: str, auth: AuthServer) -> dict[str, str]:
    return {
        "x": {"api": auth.url, "auth_base": auth.url},
        "linkedin": {"author": "urn:li:person:4242", "api": auth.url, "auth_base": auth.url},
        "threads": {"api": f"{auth.url}/v1.0", "auth_base": auth.url},
        "mastodon": {"instance": auth.url},
    }[platform]


def add(engine: Engine, name: str, platform: str, auth: AuthServer) -> None:
    with database.session_scope(engine) as session:
        channels.add_channel(
            session,
            name,
            platform,
            options=options_for(platform, auth),
            secret_env=None,
            timezone="UTC",
            slots="mon-sun 09:00",
        )


def browse(url: str) -> httpx.Response:
    """What the user's browser does: open the page, approve, follow the redirect
    back to the loopback callback."""
    return httpx.get(url, follow_redirects=True, timeout=5)


@pytest.fixture
def browser() -> Iterator[Callable[[str], None]]:
    """An `open_url` for `oauth.connect`: browses in a thread, as a browser would."""
    threads: list[threading.Thread] = []
    answers: list[Any] = []

    def open_url(url: str) -> None:
        thread = threading.Thread(target=lambda: answers.append(browse(url)), daemon=True)
        thread.start()
        threads.append(thread)

    yield open_url
    for thread in threads:
        thread.join(5)


CLIENTS = {
    "x": {"client_id": "x-app"},
    "linkedin": {"client_id": "li-app", "client_secret": "li-secret"},
    "threads": {"client_id": "th-app", "client_secret": "th-secret"},
    "mastodon": {},
}


@pytest.fixture
def connected(
    engine: Engine, auth: AuthServer, key: str, browser: Callable[[str], None]
) -> Callable[[str, str], dict[str, Any]]:
    """Add channel NAME on PLATFORM and connect it through the server."""

    def run(name: str, platform: str) -> dict[str, Any]:
        add(engine, name, platform, auth)
        return oauth.connect(
            engine, name, open_url=browser, say=lambda _: None, timeout=10, **CLIENTS[platform]
        )

    return run
