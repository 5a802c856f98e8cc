"""`scheduler simulate` on many channels and posts, beside `scheduler daemon
--dry-run --once` on the same posts, in the same run.

    python -m benchmarks.simulate [--channels 100] [--posts 10000] [--days 30] [--rounds 3]

Two SQLite databases hold the same channels (webhook) and the same posts, the
same text, spread evenly over the channels:
  simulate   due over the next `--days` days; `scheduler simulate --until +Nd`
             walks them on its virtual clock (recurring planning on, as by default;
             no channel has recurring settings, so it plans nothing)
  dry run    due over the last 50 minutes (inside the hour of grace, so none is
             missed); `scheduler daemon --dry-run --once` builds every request

Both are real CLI processes, stdout to a pipe read here (their normal output:
the timeline table, one line a post). Wall time, and CPU time from the kernel's
accounting of the child (`RUSAGE_CHILDREN`), whole process. Goal (issue
"Scale"): simulate in under 5x the dry run's time. Checked each round: both
show every post (simulate's JSON count, in a separate untimed run on the last
round; the dry run's line count).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import add_webhook_channels, fresh_db, report, scheduler_command, verdict
from benchmarks.dispatch import TEXT

SINK_URL = "http://127.0.0.1:9/hook"  # never called: both sides send nothing


def build(path: Path, channels: int, dues: list[dt.datetime]) -> str:
    """`channels` webhook channels; post i goes to channel i % channels."""
    from scheduler.planning.bulk import enqueue_many
    from scheduler.storage import database

    engine, url = fresh_db(path)
    with database.session_scope(engine) as session:
        ids = add_webhook_channels(session, channels, SINK_URL)
        for c, channel_id in enumerate(ids):
            enqueue_many(
                session,
                channel_id,
                [(TEXT.format(i=i), dues[i]) for i in range(c, len(dues), channels)],
            )
    engine.dispose()
    return url


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def run_cli(db_url: str, args: list[str]) -> dict[str, Any]:
    env = dict(os.environ, SCHEDULER_DB=db_url, COLUMNS="120")
    cpu0, start = children_cpu(), time.perf_counter()
    proc = subprocess.Popen(
        [*scheduler_command(), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    out, err = proc.communicate()
    if proc.returncode != 0:
        raise RuntimeError(f"scheduler {' '.join(args)} exited {proc.returncode}: {err[-500:]!r}")
    return {
        "seconds": time.perf_counter() - start,
        "cpu": children_cpu() - cpu0,
        "lines": out.count(b"\n"),
        "out": out,
    }


def _mmm(values: list[float], fmt: str = "{:.2f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--posts", type=int, default=10_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args(argv)

    now = dt.datetime.now(dt.UTC)
    n = args.posts
    # Distinct due times, one a post: the walk has as many moments as posts.
    span = dt.timedelta(days=args.days)
    # Inside the window however long the rounds take: `--until +Nd` is counted from
    # each run's start, so the last post is due 30 minutes before the window ends.
    ahead = [
        now + dt.timedelta(minutes=5) + (span - dt.timedelta(minutes=35)) * (i / n)
        for i in range(n)
    ]
    recent = [now - dt.timedelta(minutes=50) + dt.timedelta(minutes=45) * (i / n) for i in range(n)]

    rounds = []
    with tempfile.TemporaryDirectory(prefix="bench-simulate-") as tmp:
        folder = Path(tmp)
        sim_url = build(folder / "simulate.db", args.channels, ahead)
        until = f"+{args.days}d"
        for r in range(args.rounds):
            # A fresh dry-run database each round: its due times must stay inside the
            # grace period, and the dry run changes nothing, so one would do, but
            # time moves on between rounds.
            dry_url = build(folder / f"dry{r}.db", args.channels, recent)
            dry = run_cli(dry_url, ["daemon", "--dry-run", "--once"])
            sim = run_cli(sim_url, ["simulate", "--until", until])
            rounds.append({"dry": dry, "sim": sim})
            print(
                f"  round {r + 1}: simulate {sim['seconds']:.2f} s ({sim['cpu']:.2f} s CPU,"
                f" {sim['lines']:,} lines), dry run {dry['seconds']:.2f} s"
                f" ({dry['cpu']:.2f} s CPU, {dry['lines']:,} lines)",
                flush=True,
            )
        # Untimed: simulate's JSON says how many posts it walked and how each ends.
        shown = json.loads(run_cli(sim_url, ["simulate", "--until", until, "--json"])["out"])
    outcomes: dict[str, int] = {}
    for step in shown:
        outcomes[step["outcome"]] = outcomes.get(step["outcome"], 0) + 1
    dry_shown = [r["dry"]["lines"] for r in rounds]

    wall = [r["sim"]["seconds"] / r["dry"]["seconds"] for r in rounds]
    cpu = [r["sim"]["cpu"] / r["dry"]["cpu"] for r in rounds]
    ratio_wall, ratio_cpu = statistics.median(wall), statistics.median(cpu)
    print(
        f"simulate: {args.channels} channels x {n:,} queued posts over {args.days} days;"
        f" {args.rounds} rounds (min / median / max)"
    )
    print(
        f"  simulate            wall s {_mmm([r['sim']['seconds'] for r in rounds])}"
        f"   CPU s {_mmm([r['sim']['cpu'] for r in rounds])}"
    )
    print(
        f"  daemon --dry-run    wall s {_mmm([r['dry']['seconds'] for r in rounds])}"
        f"   CPU s {_mmm([r['dry']['cpu'] for r in rounds])}"
    )
    print(
        f"  simulate / dry run  wall {_mmm(wall)}x, CPU {_mmm(cpu)}x"
        f"  (goal < 5x: wall {verdict(ratio_wall < 5)}, CPU {verdict(ratio_cpu < 5)})"
    )
    print(f"  simulate showed {len(shown):,} posts {outcomes}; dry run printed {dry_shown} lines")
    report(
        "simulate",
        {
            "channels": args.channels,
            "posts": n,
            "days": args.days,
            "rounds": [
                {side: {k: v for k, v in r[side].items() if k != "out"} for side in r}
                for r in rounds
            ],
            "ratio_wall": [round(v, 3) for v in wall],
            "ratio_cpu": [round(v, 3) for v in cpu],
            "simulate_posts": len(shown),
            "simulate_outcomes": outcomes,
            "goal_met": ratio_wall < 5 and ratio_cpu < 5,
        },
    )


if __name__ == "__main__":
    main()
