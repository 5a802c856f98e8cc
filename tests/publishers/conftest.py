"""Test peers for the publisher adapters: a loopback HTTP stub for platforms
whose whole API is a webhook or a few JSON calls, the reference Bluesky PDS
(started from tests/publishers/pds, installed by .ci/install-pds.sh), and the
npm peers of peers.py (installed by .ci/install-peers.sh): telegram-test-api
and Prism on Mastodon's and Discord's OpenAPI documents."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from scheduler.publishers.base import ChannelInfo, OutgoingPost

from . import peers

PDS_DIR = Path(__file__).parent / "pds"
# Posts in the tests fall due when the test session starts (whole seconds).
NOW = dt.datetime.now(dt.UTC).replace(microsecond=0)


def run(coro):
    return asyncio.run(coro)


async def with_client(fn, timeout: float = 10.0):
    async with httpx.AsyncClient(timeout=timeout) as client:
        return await fn(client)


def channel(platform: str, secret: str | None = None, **options: Any) -> ChannelInfo:
    return ChannelInfo(name=f"test-{platform}", platform=platform, options=options, secret=secret)


def outgoing(
    text: str = "Hello",
    *parts: str,
    key: str = "post-1-key",
    post_id: int = 1,
    attempt: int = 1,
    due_at: dt.datetime | None = None,
) -> OutgoingPost:
    return OutgoingPost(
        post_id=post_id,
        idempotency_key=key,
        text=text,
        due_at=due_at or NOW,
        attempt=attempt,
        parts=tuple(parts),
    )


# -- loopback HTTP stub -----------------------------------------------------------------


@dataclass
class Seen:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Responder = Callable[[Seen], Reply]


class Stub:
    """A real HTTP server on 127.0.0.1 that records requests and answers with
    whatever `responder` returns (or the next queued Reply)."""

    def __init__(self) -> None:
        self.requests: list[Seen] = []
        self.queue: list[Reply] = []
        self.responder: Responder | None = None
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                parts = urlsplit(self.path)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    body,
                )
                stub.requests.append(seen)
                if stub.queue:
                    reply = stub.queue.pop(0)
                elif stub.responder:
                    reply = stub.responder(seen)
                else:
                    reply = Reply(404, {"error": "no route"})
                if reply.delay:
                    time.sleep(reply.delay)
                if isinstance(reply.body, bytes | str):
                    data = reply.body.encode() if isinstance(reply.body, str) else reply.body
                    ctype = "text/plain; charset=utf-8"
                elif reply.body is None:
                    data, ctype = b"", "text/plain"
                else:
                    data, ctype = json.dumps(reply.body).encode(), "application/json"
                try:
                    self.send_response(reply.status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(data)))
                    for name, value in reply.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stub():
    server = Stub()
    yield server
    server.close()


# -- the reference PDS ------------------------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Pds:
    url: str
    handle: str
    password: str
    did: str
    access_jwt: str
    jwt_secret: str

    def create_account(self, handle: str, password: str = "test-password-1") -> dict[str, Any]:
        response = httpx.post(
            f"{self.url}/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": f"{handle}@example.test", "password": password},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        return response.json()

    def get_record(self, uri: str) -> dict[str, Any]:
        repo, collection, rkey = uri.removeprefix("at://").split("/")
        response = httpx.get(
            f"{self.url}/xrpc/com.atproto.repo.getRecord",
            params={"repo": repo, "collection": collection, "rkey": rkey},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()

    def list_records(self, did: str) -> list[dict[str, Any]]:
        response = httpx.get(
            f"{self.url}/xrpc/com.atproto.repo.listRecords",
            params={"repo": did, "collection": "app.bsky.feed.post", "limit": 100},
            timeout=10,
        )
        response.raise_for_status()
        return response.json()["records"]


@pytest.fixture(scope="session")
def pds():
    node = shutil.which("node")
    if node is None:
        pytest.skip("the Bluesky PDS tests need Node 20 (node not found)")
    if not (PDS_DIR / "node_modules" / "@atproto" / "pds").is_dir():
        pytest.skip("the reference PDS is not installed: run .ci/install-pds.sh")
    data = tempfile.mkdtemp(prefix="scheduler-pds-")
    jwt_secret = secrets.token_hex(16)
    plc_port, pds_port = _free_port(), _free_port()
    env = {
        **os.environ,
        "PLC_PORT": str(plc_port),
        "PDS_PORT": str(pds_port),
        "PDS_DATA_DIRECTORY": data,
        "PDS_RATE_LIMITS_ENABLED": "true",
        "PDS_JWT_SECRET": jwt_secret,
        "LOG_ENABLED": "false",
    }
    log = open(Path(data) / "pds.log", "w+b")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [node, "start.js"], cwd=PDS_DIR, env=env, stdout=subprocess.PIPE, stderr=log
    )
    try:
        line = _read_ready(proc, timeout=60)
        if line is None:
            log.seek(0)
            pytest.fail("the PDS did not start:\n" + log.read().decode(errors="replace")[-3000:])
        url = json.loads(line)["pds"]
        handle, password = "sched.test", "app-pass-1234-abcd"
        created = httpx.post(
            f"{url}/xrpc/com.atproto.server.createAccount",
            json={"handle": handle, "email": "sched@example.test", "password": password},
            timeout=30,
        )
        assert created.status_code == 200, created.text
        body = created.json()
        yield Pds(url, handle, password, body["did"], body["accessJwt"], jwt_secret)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
        shutil.rmtree(data, ignore_errors=True)


def _read_ready(proc: subprocess.Popen, timeout: float) -> str | None:
    result: list[str] = []

    def reader() -> None:
        line = proc.stdout.readline()
        if line:
            result.append(line.decode())

    thread = threading.Thread(target=reader, daemon=True)
    thread.start()
    thread.join(timeout)
    return result[0] if result else None


class LoseAnswers(httpx.AsyncBaseTransport):
    """A real transport that, for the first `times` requests matching `when`,
    lets the request reach the server and then loses the answer (a read
    timeout): the outcome a publisher cannot see."""

    def __init__(self, when: Callable[[httpx.Request], bool], times: int = 1) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.when = when
        self.left = times
        self.lost: list[httpx.Request] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await self.inner.handle_async_request(request)
        if self.left and self.when(request):
            self.left -= 1
            await response.aread()
            await response.aclose()
            self.lost.append(request)
            raise httpx.ReadTimeout("answer lost", request=request)
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()


async def with_transport(transport: httpx.AsyncBaseTransport, fn):
    async with httpx.AsyncClient(transport=transport, timeout=10) as client:
        return await fn(client)


# -- npm peers (peers.py) -----------------------------------------------------------------


@pytest.fixture(scope="module")
def telegram_server():
    with peers.telegram_server() as peer:
        yield peer


@pytest.fixture(scope="module")
def mastodon_prism():
    spec = peers.shared_specs() / "mastodon-openapi.json"
    if not spec.is_file():
        pytest.skip(f"Mastodon's OpenAPI document is not at {spec} (../shared/specs/)")
    with peers.prism(spec) as peer:
        yield peer


@pytest.fixture(scope="module")
def discord_prism(tmp_path_factory):
    spec = tmp_path_factory.mktemp("discord-spec") / "discord-webhooks.json"
    peers.write_discord_spec(spec)
    with peers.prism(spec) as peer:
        yield peer
