"""Many channels: N webhook channels with 10 due posts each, sent by
`Daemon.run_once` (what `scheduler daemon --once` runs) to the sink in its own
process, beside 1 channel with the same number of posts, in the same run.

    python -m benchmarks.channels [--channels 10000] [--posts-per-channel 10] [--rounds 3]

Each round makes two fresh SQLite databases (many channels, one channel) and
sends everything due in each, one after the other. Checked every round: all
posts `sent` in the database, and at the sink every post's Idempotency-Key
arrived exactly once. Goal (issue "Scale"): many channels >= 0.8x the posts/s
of one channel. Wall and CPU time are both printed; CPU time is less moved by
other load on the machine.

The in-flight bound: at most `channel_concurrency` (4) sends per channel and
`max_in_flight` (100) in all, over the daemon's lanes: `LANES` (10) httpx
clients whose pools hold `LANE_CONNECTIONS` (2) connections each, all kept
alive, 20 in all (so at most 20 to one host), and at most that many sends on the wire at once
(`scheduler/delivery/lanes.py`). One channel runs 4 sends at a time; many
channels claim up to 100, of which 20 are on the wire.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import add_webhook_channels, fresh_db, rate, report, verdict
from benchmarks.dispatch import TEXT, sent_count, settings_for
from benchmarks.sink import SinkProcess
from scheduler.delivery.lanes import CONNECTIONS, LANE_CONNECTIONS, LANES


def build(path: Path, sink_url: str, channels: int, per_channel: int) -> tuple[Any, str]:
    """`channels` webhook channels with `per_channel` posts each, due a minute ago."""
    from scheduler.planning.bulk import enqueue_many
    from scheduler.storage import database

    engine, url = fresh_db(path)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    with database.session_scope(engine) as session:
        ids = add_webhook_channels(session, channels, sink_url)
        for c, channel_id in enumerate(ids):
            enqueue_many(
                session,
                channel_id,
                [
                    (TEXT.format(i=c * per_channel + i), due + dt.timedelta(microseconds=i))
                    for i in range(per_channel)
                ],
            )
    return engine, url


def send_all(engine: Any, url: str, sink: SinkProcess, posts: int) -> dict[str, Any]:
    from scheduler.delivery.daemon import Daemon

    settings = settings_for(url)
    before = sink.count()
    keys_before = sink.keys()
    daemon = Daemon(engine, settings)
    start, cpu = time.perf_counter(), time.process_time()
    asyncio.run(daemon.run_once())
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    keys_after = sink.keys()
    result = {
        "seconds": seconds,
        "cpu": cpu,
        "sent": sent_count(engine),
        "received": sink.count() - before,
        "distinct_keys": keys_after[0] - keys_before[0],
        "repeated_keys": keys_after[1] - keys_before[1],
        "max_in_flight": settings.max_in_flight,
        "channel_concurrency": settings.channel_concurrency,
    }
    result["exactly_once"] = (
        result["sent"] == posts
        and result["received"] == posts
        and result["distinct_keys"] == posts
        and result["repeated_keys"] == 0
    )
    return result


def one_round(folder: Path, sink: SinkProcess, channels: int, per: int) -> dict[str, Any]:
    posts = channels * per
    out = {}
    for name, n_channels, n_per in (("many", channels, per), ("one", 1, posts)):
        built = time.perf_counter()
        engine, url = build(folder / f"{name}.db", sink.url, n_channels, n_per)
        built = time.perf_counter() - built
        out[name] = send_all(engine, url, sink, posts) | {"build_s": built}
        engine.dispose()
    return out


def _mmm(values: list[float], fmt: str = "{:,.0f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=10_000)
    parser.add_argument("--posts-per-channel", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="200 channels, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.channels, args.rounds = 200, 1
    logging.basicConfig(level=logging.WARNING)
    posts = args.channels * args.posts_per_channel

    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-channels-") as tmp, SinkProcess() as sink:
        folder = Path(tmp)
        # Warm-up alike for both sides: imports, first connections.
        one_round(folder, sink, 10, 10)
        for _ in range(args.rounds):
            rounds.append(one_round(folder, sink, args.channels, args.posts_per_channel))
            r = rounds[-1]
            print(
                f"  round {len(rounds)}: many {r['many']['seconds']:.2f} s"
                f" ({r['many']['cpu']:.2f} s CPU), one {r['one']['seconds']:.2f} s"
                f" ({r['one']['cpu']:.2f} s CPU)",
                flush=True,
            )

    many_rate = [rate(posts, r["many"]["seconds"]) for r in rounds]
    one_rate = [rate(posts, r["one"]["seconds"]) for r in rounds]
    many_cpu = [r["many"]["cpu"] / posts * 1e6 for r in rounds]
    one_cpu = [r["one"]["cpu"] / posts * 1e6 for r in rounds]
    ratios = sorted(r["one"]["seconds"] / r["many"]["seconds"] for r in rounds)
    cpu_ratios = sorted(r["one"]["cpu"] / r["many"]["cpu"] for r in rounds)
    ratio = statistics.median(ratios)
    cpu_ratio = statistics.median(cpu_ratios)
    exact = all(r[side]["exactly_once"] for r in rounds for side in ("many", "one"))
    first = rounds[0]["many"]
    print(
        f"channels: {args.channels:,} channels x {args.posts_per_channel} due posts"
        f" = {posts:,} posts, vs 1 channel x {posts:,}; {args.rounds} rounds (min / median / max)"
    )
    print(
        f"  in-flight bound: channel_concurrency {first['channel_concurrency']},"
        f" max_in_flight {first['max_in_flight']}, {LANES} httpx pools x {LANE_CONNECTIONS} = {CONNECTIONS} connections"
    )
    print(f"  {args.channels:,} channels  posts/s {_mmm(many_rate)}   CPU µs/post {_mmm(many_cpu)}")
    print(f"  1 channel       posts/s {_mmm(one_rate)}   CPU µs/post {_mmm(one_cpu)}")
    print(
        f"  many vs one, wall {ratio:.2f}x (rounds {', '.join(f'{r:.2f}' for r in ratios)}),"
        f" CPU {cpu_ratio:.2f}x (rounds {', '.join(f'{r:.2f}' for r in cpu_ratios)})"
        f"  (goal >= 0.8x: {verdict(ratio >= 0.8)})"
    )
    print(f"  every post sent, each exactly once at the sink: {exact}")
    report(
        "channels",
        {
            "channels": args.channels,
            "posts_per_channel": args.posts_per_channel,
            "posts": posts,
            "rounds": rounds,
            "many_posts_per_s": [round(v) for v in many_rate],
            "one_posts_per_s": [round(v) for v in one_rate],
            "ratio_wall": round(ratio, 3),
            "ratio_cpu": round(cpu_ratio, 3),
            "exactly_once": exact,
            "goal_ratio_met": ratio >= 0.8,
        },
    )


if __name__ == "__main__":
    main()
