"""Instructions a post, counted by valgrind's callgrind: figures that do not
move with the machine's load, for comparing two commits on a busy machine,
where CPU time moves by 10 to 20 % from one run to the next.

    python -m benchmarks.instructions [--posts 300] [--channels 150] [--rounds 3]

Each case runs in its own process under `valgrind --tool=callgrind`, twice:
on N posts and on 2N. (instructions at 2N - instructions at N) / N is what a
post costs, without the process's start-up. The sink runs in its own
process, outside valgrind. The cases:

    raw    the raw httpx loop of benchmarks/dispatch.py (the same requests,
           the daemon's lanes, 4 at once), in a process of its own
    one    `Daemon.run_once`, 1 channel with N posts
    many   `Daemon.run_once`, `--channels` channels x N / `--channels` posts
           (twice the channels at 2N)
    cli    `scheduler daemon --once`, 1 channel, its line per post read
           from a pipe

Printed: each case's instructions a post (min / median / max over the
rounds) and the ratios raw / one, raw / cli (the dispatch goal's measure in
instructions) and one / many (the many-channels goal's). Only instructions
in user space are counted: the kernel's work (SQLite's writes, the sockets),
which CPU time includes, is not, nor are cache misses, so the ratios here
are not CPU-time ratios. The sends finish at a different pace under
valgrind, so passes carry slightly different numbers of posts from run to
run: rounds still differ by a few percent.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks._common import report, scheduler_command

CASES = ("raw", "one", "many", "cli")


def _child(argv: list[str]) -> None:
    """What runs under valgrind: one case, on a database made beforehand."""
    logging.disable(logging.CRITICAL)
    case, target, sink_url, n = argv[0], argv[1], argv[2], int(argv[3])
    if case == "raw":
        from benchmarks.dispatch import _raw_send_all, outgoing_requests

        # The requests of both sizes are built in both runs, so that building
        # them (with the webhook adapter) cancels out: only the sends count.
        requests = outgoing_requests(sink_url, int(target))[:n]
        asyncio.run(_raw_send_all(sink_url, requests, 4))
        return
    from benchmarks.dispatch import settings_for
    from scheduler.delivery.daemon import Daemon
    from scheduler.storage import database

    engine = database.make_engine(target)
    asyncio.run(Daemon(engine, settings_for(target)).run_once())
    engine.dispose()


def _build(folder: Path, case: str, sink_url: str, n: int, per: int, most: int) -> str:
    """The child's target: a database of n due posts (`per` a channel for the
    many case), or for the raw loop, how many requests to build (`most`)."""
    from benchmarks.channels import build
    from benchmarks.dispatch import prepare

    if case == "raw":
        return str(most)
    path = folder / f"{case}-{n}.db"
    if case == "many":
        engine, url = build(path, sink_url, n // per, per)
    else:
        now = dt.datetime.now(dt.UTC)
        dues = [now - dt.timedelta(seconds=60) + dt.timedelta(microseconds=i) for i in range(n)]
        engine, url = prepare(folder, f"{case}-{n}", sink_url, dues)
    engine.dispose()
    return url


def _count(case: str, target: str, sink_url: str, n: int) -> int:
    """Instructions of one process of `case` on n posts."""
    valgrind = ["valgrind", "--tool=callgrind", "--callgrind-out-file=/dev/null"]
    if case == "cli":
        env = dict(os.environ, SCHEDULER_DB=target)
        proc = subprocess.Popen(
            [*valgrind, *scheduler_command(), "daemon", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        out, err = proc.communicate()
        if proc.returncode != 0 or len(out.splitlines()) < n:
            raise RuntimeError(f"scheduler daemon --once under valgrind: {err.strip()[-300:]}")
    else:
        command = [sys.executable, "-m", "benchmarks.instructions", "--child"]
        done = subprocess.run(
            [*valgrind, *command, case, target, sink_url, str(n)],
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"{case} under valgrind: {done.stderr.strip()[-300:]}")
        err = done.stderr
    found = re.search(r"Collected : (\d+)", err)
    if found is None:
        raise RuntimeError(f"{case}: callgrind printed no count")
    return int(found.group(1))


def one_round(folder: Path, sink: Any, n: int, channels: int) -> dict[str, float]:
    runs = [(case, size) for case in CASES for size in (n, 2 * n)]
    per = n // channels
    targets = {run: _build(folder, run[0], sink.url, run[1], per, 2 * n) for run in runs}
    before = sink.count()
    # Two at a time: one a core. Counts do not depend on how busy the machine is.
    with ThreadPoolExecutor(2) as pool:
        counts = dict(
            zip(
                runs,
                pool.map(lambda r: _count(r[0], targets[r], sink.url, r[1]), runs),
                strict=True,
            )
        )
    if sink.count() - before != 3 * n * len(CASES):
        raise RuntimeError("the sink did not receive every post")
    return {case: (counts[(case, 2 * n)] - counts[(case, n)]) / n for case in CASES}


def _mmm(values: list[float]) -> str:
    return " / ".join(
        f"{v / 1000:,.0f}k" for v in (min(values), statistics.median(values), max(values))
    )


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--child"]:
        _child(argv[1:])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=300, help="N: each case runs on N and 2N")
    parser.add_argument("--channels", type=int, default=150, help="channels of the many case at N")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)
    if shutil.which("valgrind") is None:
        raise SystemExit("error: valgrind is not installed (Debian: apt-get install valgrind)")
    if args.posts < 1 or args.channels < 1 or args.posts % args.channels:
        raise SystemExit("error: --posts must be a multiple of --channels, both at least 1")
    from benchmarks.sink import SinkProcess

    rounds = []
    with tempfile.TemporaryDirectory() as d, SinkProcess() as sink:
        for r in range(args.rounds):
            folder = Path(d) / str(r)
            folder.mkdir()
            rounds.append(one_round(folder, sink, args.posts, args.channels))
            print(
                f"  round {r + 1}: " + ", ".join(f"{c} {rounds[-1][c] / 1000:,.0f}k" for c in CASES)
            )
    per = {case: [x[case] for x in rounds] for case in CASES}
    ratios = {
        "raw/one": [x["raw"] / x["one"] for x in rounds],
        "raw/cli": [x["raw"] / x["cli"] for x in rounds],
        "one/many": [x["one"] / x["many"] for x in rounds],
    }
    print(
        f"instructions a post (callgrind; {args.posts} and {2 * args.posts} posts;"
        f" many: {args.channels} and {2 * args.channels} channels), {args.rounds} rounds"
        " (min / median / max)"
    )
    for case in CASES:
        print(f"  {case:5} {_mmm(per[case])}")
    for name, values in ratios.items():
        shown = " / ".join(
            f"{v:.3f}" for v in (min(values), statistics.median(values), max(values))
        )
        print(f"  {name:9} {shown}")
    report(
        "instructions",
        {
            "posts": args.posts,
            "channels": args.channels,
            "rounds": rounds,
            "ratios": {k: statistics.median(v) for k, v in ratios.items()},
        },
    )


if __name__ == "__main__":
    main()
