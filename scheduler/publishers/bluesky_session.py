"""Bluesky app-password sessions, kept for the life of the process.

createSession is limited to 30 per 5 minutes and 300 per day per account, so a
scheduler must log in once and then refresh: the access token lives 2 hours and
an expired one is answered with HTTP 400 `ExpiredToken`. Sessions are cached per
(service, identifier) at module level, so every adapter instance for the same
account shares one, and a lock per event loop stops concurrent posts from
logging in twice. Tokens stay in memory only.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import httpx

from scheduler.errors import PermanentError, PublishError, RetryableError
from scheduler.publishers.base import PreparedRequest, send_classified
from scheduler.publishers.ratelimit import first, header_retry_after, until_epoch
from scheduler.publishers.sending import by_status, json_body


@dataclass
class Session:
    access_jwt: str
    refresh_jwt: str
    did: str
    handle: str
    #: The account's own PDS from the DID document the session came with
    #: (`#atproto_pds`), when it named one: service tokens name it as audience.
    pds: str | None = None


class ExpiredTokenError(PublishError):
    """The access token expired (400 ExpiredToken): refresh and try once more."""


def classify(response: httpx.Response) -> None:
    """Bluesky's reading of a status: XRPC errors carry `{error, message}`."""
    if response.status_code < 300:
        return
    body = json_body(response)
    name = str(body.get("error") or "")
    words = str(body.get("message") or "")
    message = f"{name}: {words}" if name and words else (name or words or None)
    if response.status_code == 400 and name == "ExpiredToken":
        raise ExpiredTokenError(message or "ExpiredToken", status_code=400)
    wait = first(until_epoch(response.headers.get("ratelimit-reset")), header_retry_after(response))
    raise by_status(response, message, wait=wait)


class SessionStore:
    def __init__(self) -> None:
        self._sessions: dict[tuple[str, str], Session] = {}
        self._locks: dict[tuple[str, str, int], asyncio.Lock] = {}
        #: How many times each account logged in with its password (for tests and
        #: for spotting a login loop).
        self.logins: dict[tuple[str, str], int] = {}

    def cached(self, service: str, identifier: str) -> Session | None:
        return self._sessions.get((service, identifier))

    def forget(self, service: str, identifier: str) -> None:
        self._sessions.pop((service, identifier), None)

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        loop_key = (*key, id(asyncio.get_running_loop()))
        return self._locks.setdefault(loop_key, asyncio.Lock())

    async def get(
        self, client: httpx.AsyncClient, service: str, identifier: str, password: str
    ) -> Session:
        key = (service, identifier)
        async with self._lock(key):
            session = self._sessions.get(key)
            if session is None:
                session = await self._create(client, service, identifier, password)
                self._sessions[key] = session
            return session

    async def refresh(
        self,
        client: httpx.AsyncClient,
        service: str,
        identifier: str,
        password: str,
        stale: Session,
    ) -> Session:
        """A fresh session after `stale` expired; logs in again only when the
        refresh token itself is no longer accepted."""
        key = (service, identifier)
        async with self._lock(key):
            current = self._sessions.get(key)
            if current is not None and current.access_jwt != stale.access_jwt:
                return current  # another task refreshed it meanwhile
            try:
                session = await self._refresh(client, service, stale)
            except (ExpiredTokenError, PermanentError):
                session = await self._create(client, service, identifier, password)
            self._sessions[key] = session
            return session

    async def _create(
        self, client: httpx.AsyncClient, service: str, identifier: str, password: str
    ) -> Session:
        request = PreparedRequest(
            "POST",
            f"{service}/xrpc/com.atproto.server.createSession",
            json={"identifier": identifier, "password": password},
            secrets=(password,),
        )
        key = (service, identifier)
        self.logins[key] = self.logins.get(key, 0) + 1
        try:
            response = await send_classified(client, request, idempotent=True, classify=classify)
        except ExpiredTokenError as exc:  # pragma: no cover - not sent by createSession
            raise PermanentError(str(exc)) from None
        except PermanentError as exc:
            raise PermanentError(f"Bluesky login as {identifier} failed: {exc}") from None
        return _session(json_body(response))

    async def _refresh(self, client: httpx.AsyncClient, service: str, stale: Session) -> Session:
        request = PreparedRequest(
            "POST",
            f"{service}/xrpc/com.atproto.server.refreshSession",
            headers={"Authorization": f"Bearer {stale.refresh_jwt}"},
            secrets=(stale.refresh_jwt,),
        )
        response = await send_classified(client, request, idempotent=True, classify=classify)
        return _session(json_body(response))


def _pds(doc: object) -> str | None:
    """The `#atproto_pds` service endpoint of a DID document, if it names one."""
    services = doc.get("service") if isinstance(doc, dict) else None
    for service in services if isinstance(services, list) else []:
        if (
            isinstance(service, dict)
            and str(service.get("id", "")).endswith("#atproto_pds")
            and isinstance(service.get("serviceEndpoint"), str)
        ):
            return service["serviceEndpoint"].rstrip("/")
    return None


def _session(data: dict) -> Session:
    try:
        return Session(
            access_jwt=str(data["accessJwt"]),
            refresh_jwt=str(data["refreshJwt"]),
            did=str(data["did"]),
            handle=str(data.get("handle") or data["did"]),
            pds=_pds(data.get("didDoc")),
        )
    except KeyError as exc:
        raise RetryableError(f"Bluesky session answer lacks {exc.args[0]}") from None


#: The process-wide store every Bluesky adapter uses.
SESSIONS = SessionStore()
