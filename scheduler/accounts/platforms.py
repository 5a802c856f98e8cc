"""The OAuth 2 endpoints and token habits of each platform `channels connect`
supports: where to authorise and exchange codes, which scopes to ask for, how
the app authenticates at the token endpoint, how long before expiry to
refresh, and whether the platform refreshes at all.

A channel option moves the endpoints: `auth_base` (X, LinkedIn, Threads)
replaces the scheme and host of every URL here, keeping the path; Mastodon's
endpoints are on the channel's `instance`. Tests point them at 127.0.0.1.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit, urlunsplit

Refresh = Literal["oauth", "threads", "never"]


@dataclass(frozen=True)
class Platform:
    name: str
    authorize: str
    token: str
    scope: str
    #: How the app proves itself at the token endpoint (authlib's names).
    auth_method: str
    pkce: bool
    #: "oauth": RFC 6749 refresh_token grant; "threads": Meta's th_refresh_token;
    #: "never": the token does not expire (Mastodon).
    refresh: Refresh
    #: Refresh when less than this is left of the access token's life.
    margin: dt.timedelta
    #: Warn this long before a token that cannot be refreshed expires.
    warn: dt.timedelta = dt.timedelta(days=7)
    #: Mastodon: where an app registers itself on the instance.
    register: str | None = None
    #: Threads: where the short-lived token becomes a long-lived one.
    long_lived: str | None = None
    #: Threads: a token younger than this cannot be refreshed yet.
    min_age: dt.timedelta = dt.timedelta(0)
    needs_client_id: bool = True
    needs_client_secret: bool = False


PLATFORMS: dict[str, Platform] = {
    # X: OAuth 2.0 with PKCE; access tokens last 2 hours, offline.access gives a
    # refresh token, and X rotates it on every refresh.
    "x": Platform(
        name="x",
        authorize="https://x.com/i/oauth2/authorize",
        token="https://api.x.com/2/oauth2/token",
        scope="tweet.read tweet.write users.read offline.access",
        auth_method="none",  # a public client; client_secret_basic when a secret is given
        pkce=True,
        refresh="oauth",
        margin=dt.timedelta(minutes=10),
    ),
    # LinkedIn: 60-day member tokens; refresh tokens only for approved apps.
    "linkedin": Platform(
        name="linkedin",
        authorize="https://www.linkedin.com/oauth/v2/authorization",
        token="https://www.linkedin.com/oauth/v2/accessToken",
        scope="openid profile w_member_social",
        auth_method="client_secret_post",
        pkce=False,
        refresh="oauth",
        margin=dt.timedelta(days=7),
        needs_client_secret=True,
    ),
    # Threads: a 1-hour token, exchanged for a 60-day one, refreshed with
    # th_refresh_token once it is a day old and before it expires.
    "threads": Platform(
        name="threads",
        authorize="https://threads.net/oauth/authorize",
        token="https://graph.threads.net/oauth/access_token",
        scope="threads_basic,threads_content_publish",
        auth_method="client_secret_post",
        pkce=False,
        refresh="threads",
        margin=dt.timedelta(days=30),
        long_lived="https://graph.threads.net/access_token",
        min_age=dt.timedelta(hours=24),
        needs_client_secret=True,
    ),
    # Mastodon: the app registers on the instance first; tokens do not expire.
    "mastodon": Platform(
        name="mastodon",
        authorize="/oauth/authorize",
        token="/oauth/token",
        scope="read:accounts write:statuses write:media",
        auth_method="client_secret_post",
        pkce=True,
        refresh="never",
        margin=dt.timedelta(0),
        register="/api/v1/apps",
        needs_client_id=False,
    ),
}

THREADS_REFRESH_PATH = "/refresh_access_token"


def connectable(platform: str) -> bool:
    return platform in PLATFORMS


def endpoint(platform: Platform, url: str, options: Mapping[str, Any]) -> str:
    """`url` of `platform` as this channel reaches it (see the module docstring)."""
    if platform.name == "mastodon":
        return f"{str(options['instance']).rstrip('/')}{url}"
    base = options.get("auth_base")
    if not base:
        return url
    moved = urlsplit(str(base).rstrip("/"))
    parts = urlsplit(url)
    return urlunsplit((moved.scheme, moved.netloc, moved.path + parts.path, parts.query, ""))


def threads_refresh_url(options: Mapping[str, Any]) -> str:
    platform = PLATFORMS["threads"]
    assert platform.long_lived
    long_lived = endpoint(platform, platform.long_lived, options)
    return long_lived.rsplit("/", 1)[0] + THREADS_REFRESH_PATH
