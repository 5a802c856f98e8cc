"""The way a send gets onto the wire: a few small connection pools, and a gate
that lets at most as many sends through at once as they hold connections.

Why several pools and not one: httpcore hands out a connection by walking every
connection its pool holds (checking each for expiry, which asks the socket for
its peer name, and counting the idle ones, once per connection), so a hand-out
costs the square of the pool's size. One channel keeps 4 sends in flight and its
pool grows to 4 connections; many channels kept one pool of 20 busy, and the
hand-out was 29 % of their CPU (cProfile, 500 channels x 10 posts: 7.3 of 24.9 s
in `_assign_requests_to_connections`). Ten pools of 2 keep the same 20
connections in all (so at most 20 to one host), and each hand-out walks 2.
Against five pools of 4, that is 7 % fewer instructions a post with 20 sends
on the wire (callgrind, 250 channels x 4 posts: 3,741k a post against
4,038k); twenty pools of 1 saved only 1 % more, and each pool costs about
3 ms of CPU to make at start.

A send takes a lane (a pool with a free connection) for the whole of its
publish, so its requests (uploads, then the post; thread parts one after the
other) go over the one pool, and the gate counts sends, not requests. The
lanes are handed out last-in first-out: the lane just freed has a warm
connection, and at low load the same few connections carry every send while
the rest expire, as one pool's keep-alive would.

Requests that are not sends (a source watch's check of an article's page) go
over a client apart, with a pool of its own, so they never queue behind sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Callable, Sequence

import httpx

from scheduler import USER_AGENT

__all__ = ["CONNECTIONS", "LANES", "LANE_CONNECTIONS", "Lanes", "make_client", "make_lanes"]

#: Pools a daemon's sends are spread over, and connections in each: 20 in all
#: (httpx counts a pool's connections over every host), so at most 20 to any
#: one host. Fewer keep-alive slots than connections closed and reopened a
#: connection for nearly every post once more than that many sends ran at once
#: (1,000 channels x 10 posts: 10,000 connects for 10,000 posts), so each pool
#: keeps all of its connections alive.
LANES = 10
LANE_CONNECTIONS = 2
#: Connections in all, and sends on the wire at once.
CONNECTIONS = LANES * LANE_CONNECTIONS


@functools.cache
def _tls() -> ssl.SSLContext:
    # What httpx builds for each client by default (certifi's roots, or
    # SSL_CERT_FILE / SSL_CERT_DIR), built once: loading the roots costs
    # about 28 ms of CPU, and a daemon makes a client per lane at start.
    return httpx.create_ssl_context()


def make_client(timeout: float = 20.0, connections: int = CONNECTIONS) -> httpx.AsyncClient:
    """A client whose pool keeps all its `connections` alive between requests."""
    return httpx.AsyncClient(
        verify=_tls(),
        timeout=httpx.Timeout(timeout, connect=min(5.0, timeout)),
        limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        follow_redirects=False,
        headers={"User-Agent": USER_AGENT},
    )


class Lanes:
    """`clients`, each taking `per_client` sends at once; `lane()` waits for one.
    `apart()` is a client for requests that are not sends (a source watch's
    check): made by `aside` on first use, or the first client if none is given."""

    def __init__(
        self,
        clients: Sequence[httpx.AsyncClient],
        per_client: int,
        aside: Callable[[], httpx.AsyncClient] | None = None,
    ) -> None:
        if not clients or per_client < 1:
            raise ValueError("lanes need at least one client and one connection each")
        self.clients = tuple(clients)
        self.per_client = per_client
        self._aside = aside
        self._apart: httpx.AsyncClient | None = None
        #: Free slots, as client indexes; the lanes interleaved, so that a few
        #: sends at once land on different pools. Taken from the end.
        self._free = [i for _ in range(per_client) for i in range(len(self.clients))][::-1]
        # A semaphore is bound to the event loop it first waits on; one per loop.
        self._gate: tuple[asyncio.AbstractEventLoop, asyncio.Semaphore] | None = None

    @property
    def size(self) -> int:
        """Sends on the wire at once, at most: every pool's connections."""
        return len(self.clients) * self.per_client

    @contextlib.asynccontextmanager
    async def lane(self) -> AsyncIterator[httpx.AsyncClient]:
        """A client with a connection free for this send, held until it is done."""
        loop = asyncio.get_running_loop()
        gate = self._gate
        if gate is None or gate[0] is not loop:
            gate = self._gate = (loop, asyncio.Semaphore(self.size))
        async with gate[1]:
            # The semaphore counts the free slots, so one is there; nothing
            # awaits between the acquire and the pop.
            index = self._free.pop()
            try:
                yield self.clients[index]
            finally:
                self._free.append(index)

    def apart(self) -> httpx.AsyncClient:
        """The client for what is not a send. Its own pool: on a lane's client,
        a check waited outside the gate for one of that pool's connections, so
        sends hanging on a slow platform made it wait out the pool timeout and
        pass the post unchecked."""
        if self._aside is None:
            return self.clients[0]
        if self._apart is None:
            self._apart = self._aside()
        return self._apart

    async def aclose(self) -> None:
        for client in self.clients:
            await client.aclose()
        if self._apart is not None:
            await self._apart.aclose()

    async def __aenter__(self) -> Lanes:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


def make_lanes(timeout: float = 20.0) -> Lanes:
    """A daemon's lanes: `LANES` pools of `LANE_CONNECTIONS` connections."""
    return Lanes(
        [make_client(timeout, LANE_CONNECTIONS) for _ in range(LANES)],
        LANE_CONNECTIONS,
        aside=functools.partial(make_client, timeout, LANE_CONNECTIONS),
    )
