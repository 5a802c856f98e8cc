"""A webhook receiver on 127.0.0.1 that fails on purpose, and keeps count.

It behaves like a careful real receiver: it publishes a post the first time it
sees its idempotency key (`webhook-id`) and answers a repeated key with the
same success without publishing again. Requests to `/chaos` fail a given share
of the time, each failure picked among:

    500      answered 500, nothing published
    429      answered 429 with Retry-After, nothing published
    timeout  published or not (a coin toss), then no answer until the client gives up
    drop     published or not (a coin toss), then the connection is cut

Other paths: `/ok` always succeeds, `/hang` never answers, `/status/NNN`
always answers NNN.

What is counted, per idempotency key:
    requests    every request that carried the key
    published   the key was published (at most once: the receiver dedupes)
    acked       2xx answers fully written back for the key
    replays     requests for a key already published (deduped resends)
and, per post id in the payload, the set of keys it arrived under: a post that
arrives under two keys would be published twice (a duplicate publication).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

FAULTS = ("500", "429", "timeout", "drop")


@dataclass
class SinkStats:
    requests: Counter[str] = field(default_factory=Counter)
    published: dict[str, int] = field(default_factory=dict)
    acked: Counter[str] = field(default_factory=Counter)
    replays: Counter[str] = field(default_factory=Counter)
    faults: Counter[str] = field(default_factory=Counter)
    keys_of_post: dict[int, set[str]] = field(default_factory=lambda: defaultdict(set))
    #: Connections accepted, the most open at once, and the most requests
    #: being answered at once.
    connections: int = 0
    peak_open: int = 0
    peak_busy: int = 0

    def duplicate_publications(self) -> list[int]:
        """Posts published under more than one key: the receiver shows them twice."""
        return sorted(p for p, keys in self.keys_of_post.items() if len(keys) > 1)

    def acked_more_than_once(self) -> list[str]:
        """Keys the scheduler was told twice were published: a resend after a
        success it had received (legitimate only if it died before recording it)."""
        return sorted(k for k, n in self.acked.items() if n > 1)


class Sink:
    def __init__(
        self,
        *,
        fail_share: float = 0.0,
        faults: tuple[str, ...] = FAULTS,
        seed: int | None = 1234,
        hang_seconds: float = 30.0,
        retry_after: str = "1",
        unclear_first: dict[str, int] | None = None,
        ok_delay: float = 0.0,
    ) -> None:
        self.fail_share = fail_share
        # How long `/ok` takes to answer: long enough for sends to pile up, so
        # a test sees how many the scheduler puts on the wire at once.
        self.ok_delay = ok_delay
        self._busy = 0
        self._open = 0
        # Path prefix -> how many of its first requests get an unclear answer
        # (a hang or a cut connection) whatever the dice say, so a run always
        # meets the case it exists to test, not only on most seeds.
        self.unclear_first = dict(unclear_first or {})
        self.faults = faults
        self.hang_seconds = hang_seconds
        self.retry_after = retry_after
        self.rng = random.Random(seed)
        self.stats = SinkStats()
        self.lock = threading.Lock()
        self.port = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._server: asyncio.AbstractServer | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    # -- lifecycle -------------------------------------------------------------

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="sink", daemon=True)
        self._thread.start()
        if not self._ready.wait(10):
            raise RuntimeError("sink did not start")

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)

    def _run(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._server = loop.run_until_complete(
            asyncio.start_server(self._handle, "127.0.0.1", 0, backlog=512)
        )
        self.port = self._server.sockets[0].getsockname()[1]
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            self._server.close()
            for task in asyncio.all_tasks(loop):
                task.cancel()
            with contextlib.suppress(Exception):
                loop.run_until_complete(asyncio.sleep(0))
            loop.close()

    def snapshot(self) -> SinkStats:
        with self.lock:
            return SinkStats(
                requests=Counter(self.stats.requests),
                published=dict(self.stats.published),
                acked=Counter(self.stats.acked),
                replays=Counter(self.stats.replays),
                faults=Counter(self.stats.faults),
                keys_of_post=defaultdict(
                    set, {k: set(v) for k, v in self.stats.keys_of_post.items()}
                ),
                connections=self.stats.connections,
                peak_open=self.stats.peak_open,
                peak_busy=self.stats.peak_busy,
            )

    # -- HTTP --------------------------------------------------------------------

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with self.lock:
            self.stats.connections += 1
            self._open += 1
            self.stats.peak_open = max(self.stats.peak_open, self._open)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                method, path, _ = lines[0].split(" ", 2)
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length", "0")))
                with self.lock:
                    self._busy += 1
                    self.stats.peak_busy = max(self.stats.peak_busy, self._busy)
                try:
                    keep = await self._respond(method, path, headers, body, writer)
                finally:
                    with self.lock:
                        self._busy -= 1
                if not keep:
                    return
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            return
        finally:
            with self.lock:
                self._open -= 1
            with contextlib.suppress(Exception):
                writer.close()

    async def _respond(
        self,
        method: str,
        path: str,
        headers: dict[str, str],
        body: bytes,
        writer: asyncio.StreamWriter,
    ) -> bool:
        key = headers.get("webhook-id") or headers.get("idempotency-key") or ""
        if method == "HEAD":
            await self._write(writer, 200, b"")
            return True
        with self.lock:
            if key:
                self.stats.requests[key] += 1
        if path.startswith("/hang"):
            await asyncio.sleep(self.hang_seconds)
            writer.transport.abort()
            return False
        if path.startswith("/status/"):
            code = int(path.rsplit("/", 1)[1])
            extra = {"Retry-After": self.retry_after} if code == 429 else {}
            await self._write(writer, code, b'{"error":"as asked"}', extra)
            return True
        fault = None
        if path.startswith("/chaos") and self.rng.random() < self.fail_share:
            fault = self.rng.choice(self.faults)
        with self.lock:
            for prefix, left in self.unclear_first.items():
                if left > 0 and path.startswith(prefix):
                    self.unclear_first[prefix] = left - 1
                    fault = "timeout" if left % 2 else "drop"
                    break
        with self.lock:
            if fault:
                self.stats.faults[fault] += 1
            process = fault is None or (fault in ("timeout", "drop") and self.rng.random() < 0.5)
            if process:
                self._publish(key, body)
        if fault == "500":
            await self._write(writer, 500, b'{"error":"injected failure"}')
            return True
        if fault == "429":
            await self._write(
                writer, 429, b'{"error":"slow down"}', {"Retry-After": self.retry_after}
            )
            return True
        if fault == "timeout":
            await asyncio.sleep(self.hang_seconds)
            writer.transport.abort()
            return False
        if fault == "drop":
            writer.transport.abort()
            return False
        if self.ok_delay and path.startswith("/ok"):
            await asyncio.sleep(self.ok_delay)
        await self._write(writer, 200, json.dumps({"id": key}).encode())
        with self.lock:
            self.stats.acked[key] += 1
        return True

    def _publish(self, key: str, body: bytes) -> None:
        if key in self.stats.published:
            self.stats.replays[key] += 1
            return
        try:
            post_id = int(json.loads(body)["post_id"])
        except (ValueError, KeyError, TypeError):
            post_id = -1
        self.stats.published[key] = post_id
        self.stats.keys_of_post[post_id].add(key)

    @staticmethod
    async def _write(
        writer: asyncio.StreamWriter, code: int, body: bytes, extra: dict[str, str] | None = None
    ) -> None:
        head = [f"HTTP/1.1 {code} X", f"Content-Length: {len(body)}"]
        head.append("Content-Type: application/json")
        for k, v in (extra or {}).items():
            head.append(f"{k}: {v}")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + body)
        await writer.drain()
