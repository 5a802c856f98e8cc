"""The npm test peers that .ci/install-peers.sh installs into .ci/cache/peers:
telegram-test-api (a local Telegram Bot API server) and Prism, a mock server
that checks every request against an OpenAPI document (Mastodon's, read from
../shared/specs/ beside the checkout; Discord's webhook paths, written by the
fixture). Each runs as a child process on a free 127.0.0.1 port, is waited for
by polling its port, and is stopped after its tests. The fixtures are in
conftest.py; tests skip with the reason when a peer is not installed."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PEERS_DIR = ROOT / ".ci" / "cache" / "peers"
NODE_MODULES = PEERS_DIR / "node_modules"
PRISM = NODE_MODULES / ".bin" / "prism"
INSTALL = "run .ci/install-peers.sh"

# Start-up polls, 0.1 s apart: a generous cap, Prism reads Mastodon's 1.4 MB
# document in a few seconds on a quiet machine and this one is shared.
START_POLLS = 1200
STOP_WAIT = 10


def shared_specs() -> Path:
    """../shared/specs beside the checkout (or beside its main checkout, when
    this is a git worktree)."""
    here = ROOT.parent / "shared" / "specs"
    git = ROOT / ".git"
    if not here.exists() and git.is_file():
        common = Path(git.read_text().split("gitdir:", 1)[-1].strip())
        # .../main/.git/worktrees/NAME -> the main checkout's parent
        beside_main = common.parents[3] / "shared" / "specs"
        if beside_main.exists():
            return beside_main
    return here


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def need_node(package: str) -> str:
    node = shutil.which("node")
    if node is None:
        pytest.skip(f"{package} needs Node 20 (node not found)")
    if not (NODE_MODULES / package).is_dir():
        pytest.skip(f"{package} is not installed: {INSTALL}")
    return node


@dataclass
class Peer:
    name: str
    url: str
    proc: subprocess.Popen
    log: Path

    def log_tail(self, chars: int = 3000) -> str:
        try:
            return self.log.read_text(errors="replace")[-chars:]
        except OSError:
            return ""

    def require_alive(self) -> None:
        """Fail (not hang) when the peer died under an earlier test."""
        if self.proc.poll() is not None:
            pytest.fail(f"{self.name} exited ({self.proc.returncode}):\n{self.log_tail()}")


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


@contextmanager
def running(name: str, argv: list[str], port: int, env: dict[str, str]) -> Iterator[Peer]:
    folder = Path(tempfile.mkdtemp(prefix=f"scheduler-{name}-"))
    log_path = folder / "peer.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            argv, cwd=PEERS_DIR, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=log
        )
        peer = Peer(name, f"http://127.0.0.1:{port}", proc, log_path)
        try:
            for _ in range(START_POLLS):
                if proc.poll() is not None or _listening(port):
                    break
                time.sleep(0.1)
            if proc.poll() is not None:
                pytest.fail(f"{name} did not start ({proc.returncode}):\n{peer.log_tail()}")
            if not _listening(port):
                pytest.fail(f"{name} did not listen after {START_POLLS} polls:\n{peer.log_tail()}")
            yield peer
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=STOP_WAIT)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
            shutil.rmtree(folder, ignore_errors=True)


@contextmanager
def telegram_server() -> Iterator[Peer]:
    node = need_node("telegram-test-api")
    port = free_port()
    env = {**os.environ, "NODE_PATH": str(NODE_MODULES)}
    argv = [node, str(HERE / "telegram_server.js"), str(port)]
    with running("telegram-test-api", argv, port, env) as peer:
        yield peer


@contextmanager
def prism(spec: Path) -> Iterator[Peer]:
    """`prism mock` on `spec`, without --errors: Prism answers a request that
    breaks the document with 4xx and lists each violation in `sl-violations`;
    its own made-up answers do not always match the document, which --errors
    would turn into failures of ours."""
    node = need_node("@stoplight/prism-cli")
    port = free_port()
    # A fixed seed: an answer Prism makes up (`Prefer: dynamic=true`) is the same
    # on every run, so a test never meets a value it has not met before.
    argv = [node, str(PRISM), "mock", "-h", "127.0.0.1", "-p", str(port), "--seed", "scheduler"]
    argv.append(str(spec))
    with running("prism", argv, port, dict(os.environ)) as peer:
        yield peer


def write_discord_spec(out: Path) -> None:
    """Discord's webhook paths as an OpenAPI document (see discord_webhook_spec.mjs)."""
    node = need_node("discord-api-spec")
    if not (NODE_MODULES / "zod").is_dir():
        pytest.skip(f"zod is not installed: {INSTALL}")
    script = (HERE / "discord_webhook_spec.mjs").read_text()
    # From stdin, an ES module resolves its imports from the working directory.
    done = subprocess.run(
        [node, "--input-type=module", "-"],
        input=script,
        text=True,
        cwd=PEERS_DIR,
        env={**os.environ, "SPEC_OUT": str(out)},
        capture_output=True,
        timeout=120,
    )
    if done.returncode != 0 or not out.is_file():
        pytest.fail(f"could not write the Discord webhook spec:\n{done.stderr[-3000:]}")


# -- reading Prism's answers ------------------------------------------------------


def request_violations(response: httpx.Response) -> list[dict[str, Any]]:
    """What Prism found wrong with the request (not with its own answer)."""
    listed = json.loads(response.headers.get("sl-violations") or "[]")
    return [v for v in listed if (v.get("location") or [None])[0] == "request"]


@dataclass
class Exchange:
    request: httpx.Request
    response: httpx.Response

    @property
    def violations(self) -> list[dict[str, Any]]:
        return request_violations(self.response)

    def json(self) -> Any:
        return self.response.json()


@dataclass
class Recorder(httpx.AsyncBaseTransport):
    """A real transport that keeps every request with its answer. `dynamic`
    picks the requests for which Prism makes up an answer from the schema
    (`Prefer: dynamic=true`) instead of the document's example: where the
    example lacks a field the adapter needs, or there is no example and Prism's
    plain sample ("string" for an id) would break the next request's pattern."""

    dynamic: Callable[[httpx.Request], bool] = lambda request: False
    seen: list[Exchange] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.dynamic(request):
            request.headers["Prefer"] = "dynamic=true"
        response = await self.inner.handle_async_request(request)
        await response.aread()
        self.seen.append(Exchange(request, response))
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()

    def paths(self) -> list[str]:
        return [f"{e.request.method} {e.request.url.path}" for e in self.seen]

    def assert_valid(self) -> None:
        assert self.seen, "no request reached the peer"
        for exchange in self.seen:
            assert exchange.violations == [], (
                f"{exchange.request.method} {exchange.request.url}: {exchange.violations}"
            )


async def through(recorder: Recorder, fn, timeout: float = 60.0):
    async with httpx.AsyncClient(transport=recorder, timeout=timeout) as client:
        return await fn(client)
