"""Feed polling: 1,000 feeds on a local server, most of them unchanged (304),
polled by the project's poller (`scheduler.feeds.poller.Poller`, with its
claims and writes to SQLite) beside a plain httpx loop doing the same
requests in the same run, on the same client settings
(`delivery.outgoing.make_client`) and the same concurrency
(`feed_concurrency`); then a real `scheduler daemon`'s RSS while it holds
the feeds, beside the same daemon holding none.

    python -m benchmarks.feeds [--feeds 1000] [--changed 0.05] [--rounds 5] [--quick]

The server runs in its own process (`--serve`): feed N answers 304 to its
current ETag, else 200 with a small RSS document; before each round a share
(`--changed`) of the feeds get a new version. Changed feeds list entries
already seen, so both sides parse them with feedparser and nothing is
ingested: what is compared is the polling, not article extraction. Rounds
alternate which side goes first; wall and CPU time (this process: the
server's CPU is not counted) per round, min/median/max.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import fresh_db, report, scheduler_command

# -- the feed server (its own process) ----------------------------------------


class FeedServer(asyncio.Protocol):
    #: Feed number -> version; a request for /bump/K gives K more feeds a new version.
    versions: dict[int, int] = {}  # noqa: RUF012
    changed_share = 0.05
    served = {"200": 0, "304": 0}  # noqa: RUF012
    _turn = 0

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
            head, self.buffer = self.buffer[:end], self.buffer[end + 4 :]
            lines = head.split(b"\r\n")
            path = lines[0].split(b" ")[1].decode()
            inm = None
            for line in lines[1:]:
                name, _, value = line.partition(b":")
                if name.strip().lower() == b"if-none-match":
                    inm = value.strip().decode()
            out.append(self.answer(path, inm))
        if out:
            self.transport.write(b"".join(out))

    @classmethod
    def answer(cls, path: str, inm: str | None) -> bytes:
        if path.startswith("/bump"):
            total = len(cls.versions)
            n = max(1, round(total * cls.changed_share))
            # A different share each time, walking round the feeds.
            for i in range(n):
                feed = (cls._turn * n + i) % total
                cls.versions[feed] += 1
            cls._turn += 1
            return _reply(200, b"ok")
        if path.startswith("/stats"):
            body = f"{cls.served['200']} {cls.served['304']}".encode()
            return _reply(200, body)
        feed = int(path.rsplit("/", 1)[1])
        version = cls.versions.setdefault(feed, 1)
        etag = f'"f{feed}-v{version}"'
        if inm == etag:
            cls.served["304"] += 1
            return _reply(304, b"", etag)
        cls.served["200"] += 1
        body = (
            '<?xml version="1.0"?><rss version="2.0"><channel>'
            f"<title>Feed {feed} v{version}</title><link>http://example.invalid/</link>"
            "<description>bench</description>"
            f"<item><guid>f{feed}-entry-1</guid><link>http://127.0.0.1:9/a/{feed}</link>"
            "<title>Old news</title></item></channel></rss>"
        ).encode()
        return _reply(200, body, etag, b"application/rss+xml")


def _reply(
    status: int, body: bytes, etag: str | None = None, ctype: bytes = b"text/plain"
) -> bytes:
    reason = {200: b"OK", 304: b"Not Modified"}[status]
    head = [b"HTTP/1.1 " + str(status).encode() + b" " + reason]
    if etag:
        head.append(b"ETag: " + etag.encode())
    if status == 200:
        head.append(b"Content-Type: " + ctype)
    head.append(b"Content-Length: " + str(len(body)).encode())
    return b"\r\n".join(head) + b"\r\n\r\n" + body


async def serve(feeds: int, changed: float) -> None:
    FeedServer.versions = dict.fromkeys(range(feeds), 1)
    FeedServer.changed_share = changed
    loop = asyncio.get_running_loop()
    server = await loop.create_server(FeedServer, "127.0.0.1", 0, backlog=1024)
    print(f"listening {server.sockets[0].getsockname()[1]}", flush=True)
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with server:
        await stop.wait()


class ServerProcess:
    def __init__(self, feeds: int, changed: float) -> None:
        self.proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks.feeds",
                "--serve",
                "--feeds",
                str(feeds),
                "--changed",
                str(changed),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline()
        if not line.startswith("listening "):
            self.proc.kill()
            raise RuntimeError(f"feed server did not start: {line!r}")
        self.base = f"http://127.0.0.1:{int(line.split()[1])}"

    def get(self, path: str) -> str:
        import httpx

        return httpx.get(self.base + path, timeout=10).text

    def bump(self) -> None:
        self.get("/bump")

    def stats(self) -> tuple[int, int]:
        ok, not_modified = self.get("/stats").split()
        return int(ok), int(not_modified)

    def close(self) -> None:
        self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()


# -- the two sides ----------------------------------------------------------------


def setup(db: Path, base: str, feeds: int) -> tuple[Any, str]:
    from scheduler.accounts import channels
    from scheduler.storage import database
    from scheduler.storage.models import Feed, FeedEntry

    engine, url = fresh_db(db)
    with database.session_scope(engine) as session:
        channels.add_channel(
            session,
            "club",
            "outbox",
            options={"path": str(db.with_suffix(".jsonl"))},
            secret_env=None,
            timezone="UTC",
            slots="mon-sun 09:00",
        )
        rows = [
            Feed(url=f"{base}/f/{i}", channels=["club"], every_seconds=900, allow_private=True)
            for i in range(feeds)
        ]
        session.add_all(rows)
        session.flush()
        # Each feed's entry counts as seen already: a changed feed is parsed
        # and nothing is ingested (article extraction is not what is measured).
        session.add_all(
            FeedEntry(feed_id=f.id, entry_key=f"f{i}-entry-1", url=None) for i, f in enumerate(rows)
        )
    return engine, url


async def poller_round(engine: Any, settings: Any) -> tuple[int, int]:
    from scheduler.compose import make_environment
    from scheduler.delivery.lanes import make_client
    from scheduler.feeds.poller import Poller

    async with make_client(settings.request_timeout_seconds) as client:
        poller = Poller(engine, settings, client, lambda: make_environment([]))
        polled = await poller.poll(force=True)
    errors = [p.error for p in polled if p.error]
    if errors:
        raise RuntimeError(f"poller errors: {errors[:3]}")
    return sum(1 for p in polled if p.status == 200), sum(1 for p in polled if p.status == 304)


async def raw_round(
    urls: list[str], etags: dict[str, str], settings: Any, concurrency: int | None = None
) -> tuple[int, int]:
    """The same requests with a plain httpx loop: conditional GETs with the same
    client and concurrency, 200 bodies parsed by feedparser, validators kept
    in a dict."""
    import feedparser

    from scheduler.delivery.lanes import make_client

    gate = asyncio.Semaphore(concurrency or settings.feed_concurrency)
    counts = {200: 0, 304: 0}

    async def one(client: Any, url: str) -> None:
        headers = {"Accept": "application/rss+xml"}
        if url in etags:
            headers["If-None-Match"] = etags[url]
        async with gate:
            resp = await client.get(url, headers=headers)
        counts[resp.status_code] += 1
        if resp.status_code == 200:
            await asyncio.to_thread(feedparser.parse, resp.content)
            etags[url] = resp.headers["etag"]

    async with make_client(settings.request_timeout_seconds) as client:
        await asyncio.gather(*(one(client, u) for u in urls))
    return counts[200], counts[304]


def measure(fn: Any) -> tuple[float, float, Any]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn()
    return time.perf_counter() - wall, time.process_time() - cpu, result


def spread(values: list[float]) -> str:
    return f"{min(values):.3f} / {statistics.median(values):.3f} / {max(values):.3f}"


# -- the daemon's RSS ---------------------------------------------------------------


def daemon_rss(url: str, engine: Any, feeds: int, timeout: float = 120.0) -> dict[str, float]:
    """A real `scheduler daemon` on the database: its RSS once every feed has
    been polled (and its CPU time stopped growing)."""
    import sqlalchemy as sa

    env = {k: v for k, v in os.environ.items() if not k.startswith("SCHEDULER_")}
    env.update({"SCHEDULER_DB": url, "SCHEDULER_SWEEP_SECONDS": "1"})
    with engine.begin() as conn:
        conn.execute(
            sa.text("UPDATE feeds SET next_poll_at = '2000-01-01 00:00:00', last_polled_at = NULL")
        )
    start = time.perf_counter()
    proc = subprocess.Popen(
        [*scheduler_command(), "daemon"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        polled_at = None
        while time.perf_counter() - start < timeout:
            time.sleep(0.2)
            with engine.connect() as conn:
                done = conn.execute(
                    sa.text("SELECT count(*) FROM feeds WHERE last_polled_at IS NOT NULL")
                ).scalar()
            if done >= feeds:
                polled_at = time.perf_counter() - start
                break
        # Settled: CPU time stopped growing.
        last = -1.0
        for _ in range(50):
            cpu = _cpu_seconds(proc.pid)
            if cpu == last:
                break
            last = cpu
            time.sleep(0.3)
        return {
            "rss_mb": _rss_mb(proc.pid),
            "cpu_s": _cpu_seconds(proc.pid),
            "all_polled_s": polled_at if polled_at is not None else float("nan"),
        }
    finally:
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(10)
        if proc.poll() is None:
            proc.kill()


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# -- main ---------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--feeds", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.05)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--skip-daemon", action="store_true")
    args = parser.parse_args()
    if args.serve:
        asyncio.run(serve(args.feeds, args.changed))
        return
    if args.quick:
        args.feeds, args.rounds = 200, 3

    import logging

    from scheduler.config import Settings

    logging.basicConfig(level=logging.WARNING)
    server = ServerProcess(args.feeds, args.changed)
    tmp = Path(tempfile.mkdtemp(prefix="bench-feeds-"))
    try:
        engine, url = setup(tmp / "feeds.db", server.base, args.feeds)
        settings = Settings(db=url)
        urls = [f"{server.base}/f/{i}" for i in range(args.feeds)]
        etags: dict[str, str] = {}
        # Warm-up: every feed once on each side (first answers are all 200;
        # entries seen; imports, connections, statement caches).
        asyncio.run(poller_round(engine, settings))
        asyncio.run(raw_round(urls, etags, settings))
        ours: dict[str, list[float]] = {"wall": [], "cpu": []}
        raw: dict[str, list[float]] = {"wall": [], "cpu": []}
        answers = []
        for r in range(args.rounds):
            server.bump()
            order = ["ours", "raw"] if r % 2 == 0 else ["raw", "ours"]
            for side in order:
                if side == "ours":
                    wall, cpu, got = measure(lambda: asyncio.run(poller_round(engine, settings)))
                    ours["wall"].append(wall)
                    ours["cpu"].append(cpu)
                else:
                    wall, cpu, got = measure(lambda: asyncio.run(raw_round(urls, etags, settings)))
                    raw["wall"].append(wall)
                    raw["cpu"].append(cpu)
                answers.append((side, *got))
        # Context: the plain loop one request at a time (httpcore's pool costs
        # CPU per connection in use, so on a busy machine fewer can be faster).
        seq_etags = dict(etags)
        seq: dict[str, list[float]] = {"wall": [], "cpu": []}
        for _r in range(args.rounds):
            server.bump()
            asyncio.run(poller_round(engine, settings))
            asyncio.run(raw_round(urls, etags, settings))
            wall, cpu, _got = measure(
                lambda: asyncio.run(raw_round(urls, seq_etags, settings, concurrency=1))
            )
            seq["wall"].append(wall)
            seq["cpu"].append(cpu)
        sides = {s: {a[1:] for a in answers if a[0] == s} for s in ("ours", "raw")}
        ratio_wall = [o / w for o, w in zip(ours["wall"], raw["wall"], strict=True)]
        ratio_cpu = [o / w for o, w in zip(ours["cpu"], raw["cpu"], strict=True)]
        print(
            f"feeds polling: {args.feeds} feeds, {args.changed:.0%} changed per round, "
            f"{args.rounds} rounds, concurrency {settings.feed_concurrency}"
        )
        print(
            f"  answers per round (200, 304): ours {sorted(sides['ours'])}, raw {sorted(sides['raw'])}"
        )
        print(
            f"  poller   wall s min/median/max {spread(ours['wall'])}   cpu s {spread(ours['cpu'])}"
        )
        print(
            f"  raw loop wall s min/median/max {spread(raw['wall'])}   cpu s {spread(raw['cpu'])}"
        )
        print(
            f"  raw loop, one at a time: wall s {spread(seq['wall'])}   cpu s {spread(seq['cpu'])}"
        )
        print(f"  poller / raw: wall {spread(ratio_wall)}   cpu {spread(ratio_cpu)}")
        med = statistics.median(ours["wall"])
        print(
            f"  per feed: poller {med / args.feeds * 1e3:.2f} ms wall, "
            f"{statistics.median(ours['cpu']) / args.feeds * 1e3:.2f} ms cpu; raw "
            f"{statistics.median(raw['wall']) / args.feeds * 1e3:.2f} ms wall, "
            f"{statistics.median(raw['cpu']) / args.feeds * 1e3:.2f} ms cpu"
        )
        figures: dict[str, Any] = {
            "feeds": args.feeds,
            "changed": args.changed,
            "rounds": args.rounds,
            "poller_wall": ours["wall"],
            "poller_cpu": ours["cpu"],
            "raw_wall": raw["wall"],
            "raw_cpu": raw["cpu"],
            "raw_sequential_wall": seq["wall"],
            "raw_sequential_cpu": seq["cpu"],
            "ratio_wall_median": statistics.median(ratio_wall),
            "ratio_cpu_median": statistics.median(ratio_cpu),
        }
        if not args.skip_daemon:
            import sqlalchemy as sa

            held = daemon_rss(url, engine, args.feeds)
            with engine.begin() as conn:
                conn.execute(sa.text("DELETE FROM feed_entries"))
                conn.execute(sa.text("DELETE FROM feeds"))
            bare = daemon_rss(url, engine, 0)
            print(
                f"  daemon RSS holding {args.feeds} feeds (all polled): {held['rss_mb']:.1f} MB "
                f"(cpu {held['cpu_s']:.2f} s, all polled after {held['all_polled_s']:.1f} s); "
                f"with no feeds: {bare['rss_mb']:.1f} MB"
            )
            figures.update(daemon_with_feeds=held, daemon_without_feeds=bare)
        report("feeds", figures)
    finally:
        server.close()


if __name__ == "__main__":
    main()
