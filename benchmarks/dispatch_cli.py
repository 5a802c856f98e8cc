"""Dispatch on one channel through the real entry point: a `scheduler daemon
--once` process, printing its normal line per post to a pipe, beside the raw
httpx loop of `benchmarks/dispatch.py` (same requests, client settings and
concurrency), to the sink in its own process.

    python -m benchmarks.dispatch_cli [--posts 10000] [--rounds 3]

Goal (issue "Scale"): the CLI's CPU time within 0.85x of the raw loop's
(ratio = raw CPU / CLI CPU); the wall ratio is printed beside it. The CLI's
figures are the whole process (interpreter start, imports, the count of due
posts, the sends, the output), read from the kernel's accounting of the child
(`RUSAGE_CHILDREN`); the raw loop's are its send loop only, in this process.
The CLI's fixed cost, the same command on a database with nothing due, is
measured too and printed, with the ratio once it is taken off.
"""

from __future__ import annotations

import argparse
import datetime as dt
import logging
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import rate, report, scheduler_command, verdict
from benchmarks.dispatch import prepare, raw_throughput, sent_count
from benchmarks.sink import SinkProcess


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def cli_once(db_url: str) -> dict[str, Any]:
    """`scheduler daemon --once`, stdout to a pipe read here; wall and CPU."""
    env = dict(os.environ, SCHEDULER_DB=db_url)
    cpu0, start = children_cpu(), time.perf_counter()
    proc = subprocess.Popen(
        [*scheduler_command(), "daemon", "--once"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    lines = sum(1 for _ in proc.stdout)
    if proc.wait() != 0:
        raise RuntimeError(f"scheduler daemon --once exited with {proc.returncode}")
    return {
        "seconds": time.perf_counter() - start,
        "cpu": children_cpu() - cpu0,
        "lines": lines,
    }


def cli_throughput(folder: Path, sink: SinkProcess, n: int) -> dict[str, Any]:
    now = dt.datetime.now(dt.UTC)
    dues = [now - dt.timedelta(seconds=60) + dt.timedelta(microseconds=i) for i in range(n)]
    engine, url = prepare(folder, "cli", sink.url, dues)
    before = sink.count()
    result = cli_once(url)
    result |= {"sent": sent_count(engine), "received": sink.count() - before}
    engine.dispose()
    return result


def _mmm(values: list[float], fmt: str) -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="2,000 posts, 1 round")
    args = parser.parse_args(argv)
    if args.quick:
        args.posts, args.rounds = 2_000, 1
    logging.basicConfig(level=logging.WARNING)
    from scheduler.config import Settings

    conc = Settings().channel_concurrency
    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-dispatch-cli-") as tmp, SinkProcess() as sink:
        folder = Path(tmp)
        raw_throughput(sink, min(500, args.posts), conc)  # warm-up
        empty_engine, empty_url = prepare(folder, "empty", sink.url, [])
        empty_engine.dispose()
        fixed = [cli_once(empty_url) for _ in range(3)]
        for _ in range(args.rounds):
            raw = raw_throughput(sink, args.posts, conc)
            cli = cli_throughput(folder, sink, args.posts)
            if cli["sent"] != args.posts or cli["received"] != args.posts:
                raise RuntimeError(f"the CLI sent {cli['sent']} of {args.posts}")
            rounds.append((cli, raw))

    fixed_cpu = statistics.median(f["cpu"] for f in fixed)
    fixed_wall = statistics.median(f["seconds"] for f in fixed)
    cpu_ratios = sorted(r["cpu"] / c["cpu"] for c, r in rounds)
    wall_ratios = sorted(r["seconds"] / c["seconds"] for c, r in rounds)
    net_cpu_ratios = sorted(r["cpu"] / (c["cpu"] - fixed_cpu) for c, r in rounds)
    cpu_ratio = statistics.median(cpu_ratios)
    wall_ratio = statistics.median(wall_ratios)
    print(
        f"dispatch via the CLI: {args.posts:,} due posts on one channel, concurrency {conc},"
        f" {args.rounds} rounds (min / median / max)"
    )
    cli_rate = [rate(args.posts, c["seconds"]) for c, _ in rounds]
    raw_rate = [rate(args.posts, r["seconds"]) for _, r in rounds]
    cli_cpu = [c["cpu"] / args.posts * 1e6 for c, _ in rounds]
    raw_cpu = [r["cpu"] / args.posts * 1e6 for _, r in rounds]
    print(
        f"  scheduler daemon --once  posts/s {_mmm(cli_rate, '{:,.0f}')}"
        f"   CPU µs/post {_mmm(cli_cpu, '{:,.0f}')}  ({rounds[0][0]['lines']:,} lines of output)"
    )
    print(
        f"  raw httpx loop           posts/s {_mmm(raw_rate, '{:,.0f}')}"
        f"   CPU µs/post {_mmm(raw_cpu, '{:,.0f}')}"
    )
    print(f"  CLI with nothing due: {fixed_wall:.2f} s wall, {fixed_cpu:.2f} s CPU (fixed cost)")
    print(
        f"  CPU ratio (raw / CLI) {cpu_ratio:.2f}x, rounds {', '.join(f'{r:.2f}' for r in cpu_ratios)}"
        f"  (goal >= 0.85x: {verdict(cpu_ratio >= 0.85)})"
    )
    print(f"  wall ratio {wall_ratio:.2f}x, rounds {', '.join(f'{r:.2f}' for r in wall_ratios)}")
    print(
        f"  CPU ratio without the fixed cost {statistics.median(net_cpu_ratios):.2f}x,"
        f" rounds {', '.join(f'{r:.2f}' for r in net_cpu_ratios)}"
    )
    report(
        "dispatch_cli",
        {
            "posts": args.posts,
            "rounds": args.rounds,
            "concurrency": conc,
            "cli": [{k: round(v, 3) for k, v in c.items()} for c, _ in rounds],
            "raw": [{k: round(v, 3) for k, v in r.items()} for _, r in rounds],
            "fixed_cpu_s": round(fixed_cpu, 3),
            "fixed_wall_s": round(fixed_wall, 3),
            "cpu_ratio": round(cpu_ratio, 3),
            "wall_ratio": round(wall_ratio, 3),
            "cpu_ratio_without_fixed": round(statistics.median(net_cpu_ratios), 3),
            "goal_cpu_ratio_met": cpu_ratio >= 0.85,
        },
    )


if __name__ == "__main__":
    main()
