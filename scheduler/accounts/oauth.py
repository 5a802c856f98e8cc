"""`channels connect`: the OAuth 2 authorisation-code flow for a channel.

It listens on a loopback port of its own choosing (RFC 8252), sends the user
to the platform's authorisation page (opened in a browser, or printed),
checks the `state` of the callback, exchanges the code (with PKCE where the
platform takes it) through authlib, asks the platform which account the
token belongs to (the adapter's own `check`), and stores the tokens
encrypted (`tokens.save_grant`). Mastodon first registers an app on the
instance; Threads exchanges its one-hour token for the 60-day one.

Connecting a channel again renews it in place: same channel, same posts.
"""

from __future__ import annotations

import asyncio
import html
import http.server
import secrets as random
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

import httpx

from scheduler.accounts import tokens
from scheduler.accounts.channels import get_channel
from scheduler.accounts.platforms import PLATFORMS, Platform, endpoint
from scheduler.errors import ConfigError, ConnectError, PublishError
from scheduler.publishers.base import ChannelInfo
from scheduler.storage.models import Channel

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

CALLBACK_PATH = "/callback"
TIMEOUT = 20.0


class _Callback(http.server.BaseHTTPRequestHandler):
    """Receives the one redirect back from the platform."""

    server: _Loopback

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != CALLBACK_PATH:
            self.send_error(404)
            return
        params = {k: v[0] for k, v in parse_qs(parts.query).items()}
        good = params.get("state") == self.server.state and "code" in params
        body = (
            "Connected. You can close this tab and go back to the terminal."
            if good
            else "Not connected: " + html.escape(params.get("error", "the answer did not match"))
        )
        self.send_response(200 if good else 400)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.end_headers()
        self.wfile.write(body.encode())
        if not self.server.done.is_set():
            self.server.params = params
            self.server.done.set()

    def log_message(self, format: str, *args: Any) -> None:
        # The request line carries the code: never print it.
        pass


class _Loopback(http.server.HTTPServer):
    def __init__(self, port: int) -> None:
        super().__init__(("127.0.0.1", port), _Callback)
        self.state = random.token_urlsafe(24)
        self.done = threading.Event()
        self.params: dict[str, str] = {}

    @property
    def redirect_uri(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}{CALLBACK_PATH}"


def _client_credentials(
    spec: Platform, options: dict[str, Any], client_id: str | None, client_secret: str | None
) -> tuple[str | None, str | None]:
    if spec.needs_client_id and not client_id:
        raise ConfigError(
            f"{spec.name} needs --client-id (the app's OAuth 2 client id from its developer portal)"
        )
    if spec.needs_client_secret and not client_secret:
        raise ConfigError(f"{spec.name} needs --client-secret-env NAME (the app's client secret)")
    return client_id, client_secret


def _register_mastodon(
    spec: Platform, options: dict[str, Any], redirect_uri: str
) -> tuple[str, str]:
    assert spec.register
    url = endpoint(spec, spec.register, options)
    try:
        response = httpx.post(
            url,
            data={
                "client_name": "scheduler",
                "redirect_uris": redirect_uri,
                "scopes": spec.scope,
            },
            timeout=TIMEOUT,
        )
    except httpx.HTTPError as exc:
        raise ConnectError(f"cannot register the app on {url}: {type(exc).__name__}") from None
    if response.status_code >= 300:
        raise ConnectError(f"the instance refused to register the app: HTTP {response.status_code}")
    data = response.json()
    return str(data["client_id"]), str(data["client_secret"])


def _long_lived(spec: Platform, options: dict[str, Any], token: dict, secret: str) -> dict:
    """Threads: the one-hour token, exchanged for the 60-day one."""
    assert spec.long_lived
    response = httpx.get(
        endpoint(spec, spec.long_lived, options),
        params={
            "grant_type": "th_exchange_token",
            "client_secret": secret,
            "access_token": token["access_token"],
        },
        timeout=TIMEOUT,
    )
    if response.status_code >= 300:
        raise ConnectError(
            f"Threads refused the long-lived token exchange: HTTP {response.status_code}"
        )
    return {**token, **response.json()}


def _account(channel: Channel, access_token: str) -> dict[str, Any]:
    """Who the token belongs to, as the adapter's `check` asks the platform."""
    from scheduler.delivery.lanes import make_client
    from scheduler.publishers import publisher_class

    info = ChannelInfo(
        name=channel.name,
        platform=channel.platform,
        options=dict(channel.options or {}),
        secret=access_token,
        timezone=channel.timezone,
    )
    publisher = publisher_class(channel.platform)(info)

    async def check() -> dict[str, Any]:
        async with make_client() as client:
            return await publisher.check(client)

    try:
        found = asyncio.run(check())
    except PublishError as exc:
        raise ConnectError(f"connected, but the account check failed: {exc}") from None
    return {k: v for k, v in found.items() if v is not None and not isinstance(v, dict)}


def connect(
    engine: Engine,
    name: str,
    *,
    client_id: str | None = None,
    client_secret: str | None = None,
    open_url: Callable[[str], object] | None = None,
    say: Callable[[str], object] = print,
    port: int = 0,
    timeout: float = 300.0,
) -> dict[str, Any]:
    """Run the flow for channel `name` and store its tokens; returns what was
    connected (account, expiry, whether it refreshes). Nothing is stored
    unless every step succeeded."""
    from authlib.common.security import generate_token
    from sqlmodel import Session

    OAuth2Client = tokens.oauth2_client()
    from authlib.integrations.base_client.errors import OAuthError

    from scheduler.accounts import secrets
    from scheduler.storage import database

    with Session(engine) as session:
        channel = get_channel(session, name)
        session.expunge(channel)
    spec = PLATFORMS.get(channel.platform)
    if spec is None:
        raise ConfigError(
            f"channel {name} is {channel.platform}: `channels connect` is for "
            f"{', '.join(sorted(PLATFORMS))}; other platforms take --secret-env"
        )
    secrets.load_keys(create=True)  # no key: say so before the user goes to the browser
    options = dict(channel.options or {})
    client_id, client_secret = _client_credentials(spec, options, client_id, client_secret)
    try:
        server = _Loopback(port)
    except OSError as exc:
        raise ConnectError(f"cannot listen on 127.0.0.1:{port}: {exc.strerror}") from None
    # A short poll: `shutdown` waits for the loop to notice.
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        if spec.register:
            client_id, client_secret = _register_mastodon(spec, options, server.redirect_uri)
        method = spec.auth_method
        if spec.name == "x" and client_secret:
            method = "client_secret_basic"  # a confidential X client
        oauth = OAuth2Client(
            client_id=client_id,
            client_secret=client_secret,
            token_endpoint_auth_method=method,
            redirect_uri=server.redirect_uri,
            scope=spec.scope,
            code_challenge_method="S256" if spec.pkce else None,
            timeout=TIMEOUT,
        )
        verifier = generate_token(48) if spec.pkce else None
        url, _state = oauth.create_authorization_url(
            endpoint(spec, spec.authorize, options), state=server.state, code_verifier=verifier
        )
        say(f"Authorise scheduler for channel {name} at:\n{url}")
        if open_url is not None:
            open_url(url)
        if not server.done.wait(timeout):
            raise ConnectError(f"no answer from the browser within {timeout:g} s; nothing stored")
        params = server.params
        if params.get("error"):
            why = params.get("error_description") or params["error"]
            raise ConnectError(f"{spec.name} did not authorise: {why}")
        if params.get("state") != server.state:
            raise ConnectError("the callback's state did not match: ignored, nothing stored")
        if not params.get("code"):
            raise ConnectError("the callback carried no code; nothing stored")
        try:
            token = dict(
                oauth.fetch_token(
                    endpoint(spec, spec.token, options),
                    code=params["code"],
                    code_verifier=verifier,
                )
            )
        except OAuthError as exc:
            raise ConnectError(f"the code exchange was refused: {exc.error}") from None
        except httpx.HTTPError as exc:
            raise ConnectError(f"the code exchange failed: {type(exc).__name__}") from None
        finally:
            oauth.close()
        if spec.long_lived:
            token = _long_lived(spec, options, token, client_secret or "")
    finally:
        server.shutdown()
        server.server_close()
    account = _account(channel, str(token["access_token"]))
    # The same channel row is kept: its posts stay where they are.
    with database.session_scope(engine) as session:
        row = tokens.save_grant(
            session,
            get_channel(session, name),
            token,
            client={"client_id": client_id, "client_secret": client_secret},
            account=account,
        )
        return {
            "channel": name,
            "platform": spec.name,
            "account": account,
            "expires_at": row.expires_at.isoformat() if row.expires_at else None,
            "refreshes": row.has_refresh or spec.refresh == "threads",
            "status": tokens.describe(row, spec.name),
        }
