"""A daemon that runs for months, compressed: one `Daemon.run_forever` in this
process sends `--posts` posts (goal 1,000,000) to the sink in its own process,
and its RSS (from /proc/self/status) is sampled every `--every` sends.

    python -m benchmarks.longrun [--posts 1000000] [--every 100000] [--batch 5000]

Posts are fed while it runs, in batches (`scheduler.planning.bulk.enqueue_many`,
due now) whenever fewer than half a batch are queued; sent posts and their
attempts are deleted by the feeder as it goes, so the database stays small
(under two batches of rows) and what grows, if anything, is the process.
Goal (issue "Scale"): RSS flat within 10% from the 100,000th send to the end.
CPU time is printed beside wall time for each stretch.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import resource
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import add_webhook_channel, fresh_db, report, verdict
from benchmarks.dispatch import TEXT, settings_for
from benchmarks.sink import SinkProcess


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmRSS")


def queued(engine: Any) -> int:
    import sqlalchemy as sa

    with engine.connect() as conn:
        return conn.execute(sa.text("SELECT count(*) FROM posts WHERE status != 'sent'")).scalar()


def prune(engine: Any) -> int:
    """Delete sent posts (and their attempts): the DB stays small."""
    import sqlalchemy as sa

    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "DELETE FROM attempts WHERE post_id IN (SELECT id FROM posts WHERE status = 'sent')"
            )
        )
        return conn.execute(sa.text("DELETE FROM posts WHERE status = 'sent'")).rowcount


def feed(engine: Any, channel_id: int, start: int, n: int) -> None:
    from scheduler.planning.bulk import enqueue_many

    now = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=1)
    enqueue_many(
        engine,
        channel_id,
        [(TEXT.format(i=start + i), now + dt.timedelta(microseconds=i)) for i in range(n)],
    )


async def run(engine: Any, url: str, channel_id: int, args: argparse.Namespace) -> dict[str, Any]:
    from scheduler.delivery.daemon import Daemon

    samples: list[dict[str, float]] = []
    sent = 0
    failed = 0
    start, cpu0 = time.perf_counter(), time.process_time()

    def on_event(event: Any) -> None:
        nonlocal sent, failed
        if event.status == "sent":
            sent += 1
            if sent % args.every == 0:
                samples.append(
                    {
                        "sent": sent,
                        "rss_mb": rss_mb(),
                        "wall_s": time.perf_counter() - start,
                        "cpu_s": time.process_time() - cpu0,
                    }
                )
                print(f"  sample {samples[-1]}", flush=True)
        else:
            failed += 1

    daemon = Daemon(engine, settings_for(url), on_event=on_event)
    task = asyncio.create_task(daemon.run_forever())
    fed = 0
    pruned = 0
    max_rows = 0
    while sent < args.posts:
        if task.done():
            task.result()
            raise RuntimeError("the daemon stopped early")
        waiting = await asyncio.to_thread(queued, engine)
        max_rows = max(max_rows, waiting)
        if waiting < args.batch // 2 and fed < args.posts:
            n = min(args.batch, args.posts - fed)
            await asyncio.to_thread(feed, engine, channel_id, fed, n)
            fed += n
            daemon.wake()
            pruned += await asyncio.to_thread(prune, engine)
        await asyncio.sleep(0.2)
    daemon.stop()
    await task
    return {
        "sent": sent,
        "failed": failed,
        "samples": samples,
        "pruned": pruned,
        "most_unsent_rows": max_rows,
        "wall_s": time.perf_counter() - start,
        "cpu_s": time.process_time() - cpu0,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--every", type=int, default=100_000, help="sample RSS every N sends")
    parser.add_argument("--batch", type=int, default=5_000)
    parser.add_argument("--quick", action="store_true", help="20,000 posts, sampled every 5,000")
    args = parser.parse_args(argv)
    if args.quick:
        args.posts, args.every = 20_000, 5_000
    logging.basicConfig(level=logging.WARNING)

    with tempfile.TemporaryDirectory(prefix="bench-longrun-") as tmp, SinkProcess() as sink:
        engine, url = fresh_db(Path(tmp) / "longrun.db")
        channel_id = add_webhook_channel(engine, "bench", sink.url)
        rss_start = rss_mb()
        out = asyncio.run(run(engine, url, channel_id, args))
        db_mb = (Path(tmp) / "longrun.db").stat().st_size / 2**20
        received = sink.count()
        distinct, repeated = sink.keys()
        engine.dispose()

    samples = out["samples"]
    base = samples[0]["rss_mb"] if samples else float("nan")
    top = max(s["rss_mb"] for s in samples) if samples else float("nan")
    growth = (top - base) / base if samples else float("nan")
    flat = len(samples) >= 2 and growth <= 0.10
    print(
        f"longrun: one daemon (run_forever) sending {args.posts:,} posts in batches of"
        f" {args.batch:,}; sent posts pruned as it goes (DB {db_mb:.1f} MB at the end)"
    )
    print(f"  RSS before the daemon started {rss_start:.1f} MB")
    prev = {"sent": 0, "wall_s": 0.0, "cpu_s": 0.0}
    for s in samples:
        n = s["sent"] - prev["sent"]
        print(
            f"  {s['sent']:>9,} sent  RSS {s['rss_mb']:6.1f} MB   stretch: "
            f"{n / (s['wall_s'] - prev['wall_s']):6,.0f} posts/s wall,"
            f" {(s['cpu_s'] - prev['cpu_s']) / n * 1e6:5,.0f} µs CPU/post"
        )
        prev = s
    print(
        f"  sent {out['sent']:,}, failed {out['failed']}, sink received {received:,}"
        f" ({distinct:,} distinct keys, {repeated} repeated); peak RSS {out['peak_rss_mb']:.1f} MB"
    )
    print(
        f"  RSS from the first sample to the largest: {base:.1f} -> {top:.1f} MB"
        f" ({growth * 100:+.1f}%)  (goal within 10%: {verdict(flat)})"
    )
    report(
        "longrun",
        {
            "posts": args.posts,
            "batch": args.batch,
            "every": args.every,
            "db_mb_end": round(db_mb, 1),
            "rss_start_mb": round(rss_start, 1),
            **{k: v for k, v in out.items()},
            "received": received,
            "distinct_keys": distinct,
            "repeated_keys": repeated,
            "rss_growth": round(growth, 4),
            "goal_flat_met": flat,
        },
    )


if __name__ == "__main__":
    main()
