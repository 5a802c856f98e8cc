"""A fast HTTP/1.1 sink for the dispatch and memory benchmarks: answers every
POST with 200 and a small JSON body, keeps connections alive, and counts what
it received (`GET /count`), and how many distinct `Idempotency-Key`s
arrived and how many arrived more than once (`GET /keys`: "distinct repeated"). Run in its own process so it does not share the
event loop, or the GIL, with what is measured.

    python -m benchmarks.sink [--port 0]     # prints "listening PORT"
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import subprocess
import sys
import time
from typing import ClassVar

_BODY = b'{"id":"ok"}'
_OK = (
    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: "
    + str(len(_BODY)).encode()
    + b"\r\n\r\n"
    + _BODY
)


class Sink(asyncio.Protocol):
    received = 0
    #: Idempotency-Key -> times received (exactly-once checks).
    keys: ClassVar[dict[bytes, int]] = {}

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: asyncio.Transport = transport  # type: ignore[assignment]
        self.buffer = b""

    def data_received(self, data: bytes) -> None:
        self.buffer += data
        out = []
        while True:
            end = self.buffer.find(b"\r\n\r\n")
            if end < 0:
                break
            head = self.buffer[:end]
            length = 0
            key = None
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"idempotency-key":
                    key = value.strip()
            total = end + 4 + length
            if len(self.buffer) < total:
                break
            self.buffer = self.buffer[total:]
            if head.startswith((b"GET /count", b"GET /keys")):
                if head.startswith(b"GET /count"):
                    body = str(Sink.received).encode()
                else:
                    repeated = sum(1 for n in Sink.keys.values() if n > 1)
                    body = f"{len(Sink.keys)} {repeated}".encode()
                out.append(
                    b"HTTP/1.1 200 OK\r\nContent-Length: "
                    + str(len(body)).encode()
                    + b"\r\n\r\n"
                    + body
                )
            else:
                Sink.received += 1
                if key is not None:
                    Sink.keys[key] = Sink.keys.get(key, 0) + 1
                out.append(_OK)
        if out:
            self.transport.write(b"".join(out))


async def serve(port: int) -> None:
    loop = asyncio.get_running_loop()
    server = await loop.create_server(Sink, "127.0.0.1", port, backlog=1024)
    bound = server.sockets[0].getsockname()[1]
    print(f"listening {bound}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


class SinkProcess:
    """Start the sink in a subprocess; `url` is where to send, `count()` asks it."""

    def __init__(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "benchmarks.sink", "--port", "0"],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            self.proc.kill()
            raise RuntimeError(f"sink did not start: {line!r}")
        self.port = int(line.split()[1])
        self.url = f"http://127.0.0.1:{self.port}/hook"

    def _get(self, path: str) -> str:
        import http.client

        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=5)
        try:
            conn.request("GET", path)
            return conn.getresponse().read().decode()
        finally:
            conn.close()

    def count(self) -> int:
        return int(self._get("/count"))

    def keys(self) -> tuple[int, int]:
        """(distinct Idempotency-Keys received, keys received more than once)."""
        distinct, repeated = self._get("/keys").split()
        return int(distinct), int(repeated)

    def wait_for(self, n: int, timeout: float) -> float | None:
        """Seconds until the sink has received `n` requests, polled."""
        start = time.perf_counter()
        while time.perf_counter() - start < timeout:
            if self.count() >= n:
                return time.perf_counter() - start
            time.sleep(0.002)
        return None

    def close(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()

    def __enter__(self) -> SinkProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="fast HTTP sink")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(serve(args.port))


if __name__ == "__main__":
    main()
