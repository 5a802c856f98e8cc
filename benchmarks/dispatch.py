"""Publishing due posts: the real daemon path (claim, webhook adapter, record)
to a fast sink server in another process, beside a raw httpx loop sending the
same requests, and beside APScheduler 3 with one job per post.

    python -m benchmarks.dispatch [--posts 10000] [--apscheduler-posts 2000]
                                  [--rate 100] [--lateness-posts 2000]

Two parts:
  throughput  N posts already due; posts per second until all are sent.
  lateness    posts due at `start + i/rate`; the long-running daemon sends them;
              lateness = sent_at - due_at (from the database), p50 and p99.

Goals (issue 7): throughput >= 0.7x the raw loop; p99 lateness < 50 ms at 100
posts/s. The raw loop (and APScheduler's job) sends over the daemon's own
lanes (`scheduler.delivery.lanes.make_lanes`: the same httpx clients, pools
and gate) with the same concurrency as the daemon's per-channel limit, so the
ratio measures the scheduler's own cost per post.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from benchmarks._common import add_webhook_channel, fresh_db, percentile, rate, report, verdict
from benchmarks.sink import SinkProcess

if TYPE_CHECKING:
    from scheduler.delivery.lanes import Lanes

TEXT = "Post {i}: \u201cWe trained for this all winter,\u201d said the captain. #bench"


# -- the project ------------------------------------------------------------------


def prepare(folder: Path, name: str, sink_url: str, dues: list[dt.datetime]) -> tuple[Any, str]:
    from scheduler.planning.bulk import enqueue_many

    engine, url = fresh_db(folder / f"{name}.db")
    channel_id = add_webhook_channel(engine, "bench", sink_url)
    enqueue_many(engine, channel_id, [(TEXT.format(i=i), due) for i, due in enumerate(dues)])
    return engine, url


def settings_for(url: str) -> Any:
    from scheduler.config import load_settings

    return load_settings(db=url)


def sent_count(engine: Any) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM posts WHERE status = 'sent'")).scalar()


def project_throughput(folder: Path, sink: SinkProcess, n: int) -> dict[str, Any]:
    from scheduler.delivery.daemon import Daemon

    now = dt.datetime.now(dt.UTC)
    dues = [now - dt.timedelta(seconds=60) + dt.timedelta(microseconds=i) for i in range(n)]
    engine, url = prepare(folder, "throughput", sink.url, dues)
    settings = settings_for(url)
    before = sink.count()
    daemon = Daemon(engine, settings)
    start, cpu = time.perf_counter(), time.process_time()
    events = asyncio.run(daemon.run_once())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    sent = sent_count(engine)
    engine.dispose()
    return {
        "seconds": seconds,
        "cpu": cpu,
        "sent": sent,
        "events": len(events),
        "received": sink.count() - before,
        "concurrency": settings.channel_concurrency,
    }


def outgoing_requests(sink_url: str, n: int) -> list[tuple[bytes, dict[str, str]]]:
    """The exact bytes and headers the webhook adapter sends for n posts."""
    from scheduler.publishers import OutgoingPost
    from scheduler.publishers.base import ChannelInfo
    from scheduler.publishers.webhook import WebhookPublisher

    publisher = WebhookPublisher(
        ChannelInfo(name="bench", platform="webhook", options={"url": sink_url}, secret=None)
    )
    now = dt.datetime.now(dt.UTC)
    out = []
    for i in range(n):
        (req,) = publisher.build_requests(
            OutgoingPost(
                post_id=i + 1,
                idempotency_key=f"{i:032x}",
                text=TEXT.format(i=i),
                due_at=now,
                attempt=1,
                link=None,
            )
        )
        out.append((req.content or b"", dict(req.headers)))
    return out


async def _raw_send_all(url: str, requests: list[tuple[bytes, dict[str, str]]], conc: int) -> None:
    from scheduler.delivery.lanes import make_lanes

    # The daemon's own lanes (its pools and its gate), as it sends.
    async with make_lanes() as lanes:
        limit = asyncio.Semaphore(conc)

        async def one(body: bytes, headers: dict[str, str]) -> None:
            async with limit, lanes.lane() as client:
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()

        await asyncio.gather(*(one(b, h) for b, h in requests))


def raw_throughput(sink: SinkProcess, n: int, conc: int) -> dict[str, Any]:
    requests = outgoing_requests(sink.url, n)
    before = sink.count()
    start, cpu = time.perf_counter(), time.process_time()
    asyncio.run(_raw_send_all(sink.url, requests, conc))
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    return {"seconds": seconds, "cpu": cpu, "received": sink.count() - before}


# -- APScheduler: one job per post ---------------------------------------------

_lanes: Lanes | None = None
_aps_done: list[tuple[float, float]] = []  # (due as epoch, sent as epoch)
_aps_finished: asyncio.Event | None = None
_aps_target = 0
_aps_add_seconds: list[float] = []
_aps_failed: list[float] = []
_aps_limit: asyncio.Semaphore | None = None


async def aps_send(url: str, body: bytes, headers: dict[str, str], due: float) -> None:
    """The job: what a user would write around httpx with APScheduler, with the
    same concurrency limit as the daemon's (APScheduler's asyncio executor
    starts every due job at once, which would exhaust the connection pool)."""
    assert _lanes is not None and _aps_limit is not None
    try:
        async with _aps_limit, _lanes.lane() as client:
            response = await client.post(url, content=body, headers=headers)
        response.raise_for_status()
        _aps_done.append((due, time.time()))
    except httpx.HTTPError:
        _aps_failed.append(due)
    if len(_aps_done) + len(_aps_failed) >= _aps_target and _aps_finished is not None:
        _aps_finished.set()


async def _aps_run(
    folder: Path,
    url: str,
    requests: list[tuple[bytes, dict[str, str]]],
    dues: list[dt.datetime] | Callable[[], list[dt.datetime]],
    store: str,
) -> float:
    """Add one job per request (paused), then resume and time until all ran.
    `dues` may be a function, called once the store is open, so that paced
    jobs can be timed from after the slow part (adding them) is done."""
    global _lanes, _aps_finished, _aps_target, _aps_limit
    from apscheduler.jobstores.memory import MemoryJobStore
    from apscheduler.schedulers.asyncio import AsyncIOScheduler
    from apscheduler.triggers.date import DateTrigger

    from benchmarks.enqueue import apscheduler_store
    from scheduler.config import Settings
    from scheduler.delivery.lanes import make_lanes

    # On the project's SQLite settings (WAL, synchronous=NORMAL), as in enqueue.
    jobstore = (
        apscheduler_store(folder / "apscheduler.db") if store == "sqlalchemy" else MemoryJobStore()
    )
    _aps_done.clear()
    _aps_failed.clear()
    _aps_limit = asyncio.Semaphore(Settings().channel_concurrency)
    _aps_finished = asyncio.Event()
    _aps_target = len(requests)
    async with make_lanes() as lanes:
        _lanes = lanes
        sched = AsyncIOScheduler(
            jobstores={"default": jobstore},
            job_defaults={"misfire_grace_time": None, "coalesce": False},
            timezone=dt.UTC,
        )
        sched.start(paused=True)
        if callable(dues):
            dues = dues()
        added = time.perf_counter()
        for i, ((body, headers), due) in enumerate(zip(requests, dues, strict=True)):
            sched.add_job(
                aps_send,
                DateTrigger(run_date=due),
                args=(url, body, headers, due.timestamp()),
                id=f"post-{i}",
            )
        _aps_add_seconds.append(time.perf_counter() - added)
        start = time.perf_counter()
        sched.resume()
        try:
            await asyncio.wait_for(_aps_finished.wait(), timeout=900)
        except TimeoutError:
            print(f"APScheduler: gave up waiting; {len(_aps_done):,} of {_aps_target:,} done")
        seconds = time.perf_counter() - start
        sched.shutdown(wait=False)
        _lanes = None
    return seconds


def apscheduler_throughput(folder: Path, sink: SinkProcess, n: int, store: str) -> dict[str, Any]:
    requests = outgoing_requests(sink.url, n)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    before = sink.count()
    seconds = asyncio.run(_aps_run(folder, sink.url, requests, [due] * n, store))
    return {"seconds": seconds, "received": sink.count() - before, "failed": len(_aps_failed)}


# -- lateness at a steady rate --------------------------------------------------------


def _spread(n: int, per_second: float, lead: float) -> list[dt.datetime]:
    start = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=lead)
    return [start + dt.timedelta(seconds=i / per_second) for i in range(n)]


def project_lateness(folder: Path, sink: SinkProcess, n: int, per_second: float) -> list[float]:
    import sqlalchemy as sa

    from scheduler.delivery.daemon import Daemon
    from scheduler.storage.models import Post

    engine, url = prepare(folder, "lateness", sink.url, _spread(n, per_second, lead=2.0))
    daemon = Daemon(engine, settings_for(url))

    async def run() -> None:
        task = asyncio.create_task(daemon.run_forever())
        await asyncio.sleep(2.0 + n / per_second)
        while sent_count(engine) < n:
            await asyncio.sleep(0.5)
        daemon.stop()
        await task

    asyncio.run(run())
    with engine.connect() as conn:
        rows = conn.execute(sa.select(Post.due_at, Post.sent_at)).all()
    engine.dispose()
    return [(sent - due).total_seconds() for due, sent in rows]


async def _raw_paced(
    url: str, requests: list[tuple[bytes, dict[str, str]]], dues: list[dt.datetime], conc: int
) -> list[float]:
    from scheduler.delivery.lanes import make_lanes

    late: list[float] = []
    async with make_lanes() as lanes:
        limit = asyncio.Semaphore(conc)
        loop = asyncio.get_running_loop()
        wall0, mono0 = time.time(), loop.time()

        async def one(body: bytes, headers: dict[str, str], due: dt.datetime) -> None:
            await asyncio.sleep(max(0.0, due.timestamp() - wall0 - (loop.time() - mono0)))
            async with limit, lanes.lane() as client:
                response = await client.post(url, content=body, headers=headers)
                response.raise_for_status()
            late.append(time.time() - due.timestamp())

        await asyncio.gather(*(one(b, h, d) for (b, h), d in zip(requests, dues, strict=True)))
    return late


def raw_lateness(sink: SinkProcess, n: int, per_second: float, conc: int) -> list[float]:
    requests = outgoing_requests(sink.url, n)
    return asyncio.run(_raw_paced(sink.url, requests, _spread(n, per_second, 1.0), conc))


def apscheduler_lateness(
    folder: Path, sink: SinkProcess, n: int, per_second: float, store: str, add_rate: float
) -> list[float]:
    requests = outgoing_requests(sink.url, n)
    # Adding jobs to the store is slow: start the pace after the adds should be
    # done, by the add rate measured in the throughput part (with margin).
    lead = 3.0 + 3.0 * n / add_rate

    asyncio.run(_aps_run(folder, sink.url, requests, lambda: _spread(n, per_second, lead), store))
    return [sent - due for due, sent in _aps_done]


# -- report ----------------------------------------------------------------------------


def _ms(values: list[float], q: float) -> float:
    return round(percentile(values, q) * 1000, 1)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000, help="throughput: due posts")
    parser.add_argument("--apscheduler-posts", type=int, default=2_000)
    parser.add_argument(
        "--apscheduler-store", choices=["sqlalchemy", "memory"], default="sqlalchemy"
    )
    parser.add_argument("--rate", type=float, default=100.0, help="lateness: posts per second")
    parser.add_argument("--lateness-posts", type=int, default=2_000)
    parser.add_argument("--lateness-runs", type=int, default=3, help="lateness: runs per side")
    parser.add_argument("--rounds", type=int, default=5, help="throughput: raw/daemon pairs")
    parser.add_argument("--skip-apscheduler", action="store_true")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    from scheduler.config import Settings

    conc = Settings().channel_concurrency
    out: dict[str, Any] = {"posts": args.posts, "concurrency": conc}
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-") as tmp, SinkProcess() as sink:
        folder = Path(tmp)
        # Warm-up, both sides alike: imports, first connects, statement caches.
        raw_throughput(sink, min(500, args.posts), conc)
        project_throughput(folder, sink, min(500, args.posts))
        # Interleaved rounds; each round's ratio compares runs made seconds apart,
        # so a noisy neighbour weighs on both sides of it.
        rounds = []
        for _ in range(args.rounds):
            raw = raw_throughput(sink, args.posts, conc)
            project = project_throughput(folder, sink, args.posts)
            rounds.append((project, raw))
        ratios = sorted(r["seconds"] / p["seconds"] for p, r in rounds)
        # Both sides keep one core busy: CPU seconds per post compare the same
        # work while leaving out time the machine gave to other processes.
        cpu_ratios = sorted(r["cpu"] / p["cpu"] for p, r in rounds)
        project, raw = sorted(rounds, key=lambda pr: pr[1]["seconds"] / pr[0]["seconds"])[
            len(rounds) // 2
        ]
        raw_s = raw["seconds"]
        aps = None
        if not args.skip_apscheduler and args.apscheduler_posts:
            aps = apscheduler_throughput(
                folder, sink, args.apscheduler_posts, args.apscheduler_store
            )

        late_runs: list[tuple[list[float], list[float]]] = []
        for _ in range(args.lateness_runs):
            late_runs.append(
                (
                    project_lateness(folder, sink, args.lateness_posts, args.rate),
                    raw_lateness(sink, args.lateness_posts, args.rate, conc),
                )
            )
        late_project = [x for p, _ in late_runs for x in p]
        late_raw = [x for _, r in late_runs for x in r]
        late_aps = None
        if not args.skip_apscheduler and args.apscheduler_posts:
            add_rate = args.apscheduler_posts / _aps_add_seconds[0]
            late_aps = apscheduler_lateness(
                folder,
                sink,
                min(args.lateness_posts, args.apscheduler_posts),
                args.rate,
                args.apscheduler_store,
                add_rate,
            )

    p_rate = rate(args.posts, project["seconds"])
    r_rate = rate(args.posts, raw_s)
    ratio = ratios[len(ratios) // 2]
    print(
        f"dispatch throughput: {args.posts:,} due posts, concurrency {conc} per channel, "
        f"median round of {args.rounds}"
    )
    print(
        f"  scheduler daemon (run_once)  {project['seconds']:7.2f} s  {p_rate:8,.0f} posts/s"
        f"  (sent {project['sent']:,}, sink got {project['received']:,})"
    )
    print(f"  raw httpx loop (same round)   {raw_s:7.2f} s  {r_rate:8,.0f} posts/s")
    out |= {
        "project_s": round(project["seconds"], 3),
        "project_posts_per_s": round(p_rate),
        "project_sent": project["sent"],
        "raw_s": round(raw_s, 3),
        "raw_posts_per_s": round(r_rate),
        "ratio_vs_raw": round(ratio, 3),
        "ratio_rounds": [round(r, 3) for r in ratios],
        "goal_ratio_met": ratio >= 0.7,
    }
    if aps:
        a_rate = rate(args.apscheduler_posts, aps["seconds"])
        print(
            f"  APScheduler ({args.apscheduler_store} store)  {aps['seconds']:7.2f} s"
            f"  {a_rate:8,.0f} posts/s  ({args.apscheduler_posts:,} posts,"
            f" {aps['failed']} failed)"
        )
        out |= {
            "apscheduler_posts": args.apscheduler_posts,
            "apscheduler_store": args.apscheduler_store,
            "apscheduler_posts_per_s": round(a_rate),
            "ratio_vs_apscheduler": round(p_rate / a_rate, 2),
        }
    cpu_ratio = cpu_ratios[len(cpu_ratios) // 2]
    print(
        f"  vs raw {ratio:.2f}x, rounds {', '.join(f'{r:.2f}' for r in ratios)}"
        f"  (goal >= 0.7x: {verdict(ratio >= 0.7)})"
    )
    print(
        f"  by CPU time per post {cpu_ratio:.2f}x, rounds"
        f" {', '.join(f'{r:.2f}' for r in cpu_ratios)}  (less affected by other load)"
    )
    out |= {
        "cpu_ratio_vs_raw": round(cpu_ratio, 3),
        "cpu_ratio_rounds": [round(r, 3) for r in cpu_ratios],
    }

    print(
        f"lateness at {args.rate:g} posts/s ({args.lateness_runs} runs of"
        f" {args.lateness_posts:,} posts): p50 / p99 / max"
    )
    for i, (lp, lr) in enumerate(late_runs, 1):
        print(
            f"  run {i}: scheduler {_ms(lp, 50):.1f} / {_ms(lp, 99):.1f} / {max(lp) * 1000:.1f} ms;"
            f" raw {_ms(lr, 50):.1f} / {_ms(lr, 99):.1f} / {max(lr) * 1000:.1f} ms"
        )
    print("  all runs together:")
    rows = [("scheduler daemon", late_project), ("raw paced loop", late_raw)]
    if late_aps:
        rows.append((f"APScheduler ({args.apscheduler_store})", late_aps))
    for name, late in rows:
        print(
            f"  {name:26s} {_ms(late, 50):7.1f} / {_ms(late, 99):7.1f} / "
            f"{max(late) * 1000:7.1f} ms  (n={len(late):,})"
        )
    p99 = percentile(late_project, 99)
    p99_runs = sorted(percentile(lp, 99) * 1000 for lp, _ in late_runs)
    print(
        f"  scheduler p99 {p99 * 1000:.1f} ms, per run min / median / max"
        f" {p99_runs[0]:.1f} / {p99_runs[len(p99_runs) // 2]:.1f} / {p99_runs[-1]:.1f} ms"
        f"  (goal <= 50 ms: {verdict(p99 <= 0.05)})"
    )
    out |= {
        "rate": args.rate,
        "lateness_posts": args.lateness_posts,
        "project_lateness_p50_ms": _ms(late_project, 50),
        "project_lateness_p99_ms": _ms(late_project, 99),
        "project_lateness_max_ms": round(max(late_project) * 1000, 1),
        "raw_lateness_p50_ms": _ms(late_raw, 50),
        "raw_lateness_p99_ms": _ms(late_raw, 99),
        "lateness_runs": args.lateness_runs,
        "project_lateness_p50_ms_runs": [_ms(lp, 50) for lp, _ in late_runs],
        "project_lateness_p99_ms_runs": [_ms(lp, 99) for lp, _ in late_runs],
        "raw_lateness_p99_ms_runs": [_ms(lr, 99) for _, lr in late_runs],
        "goal_lateness_met": p99 <= 0.05,
    }
    if late_aps:
        out |= {
            "apscheduler_lateness_p50_ms": _ms(late_aps, 50),
            "apscheduler_lateness_p99_ms": _ms(late_aps, 99),
        }
    report("dispatch", out)


if __name__ == "__main__":
    main()
