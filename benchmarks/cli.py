"""Wall time of the command line: `scheduler --help` and `scheduler queue list`
on a database of 1,000,000 queued posts, beside `python -c pass` (the floor
any Python program pays).

    python -m benchmarks.cli [--posts 1000000] [--db FILE] [--repeat 7]

Each command runs `--repeat` times as a fresh process; the median is reported.
`--db FILE` keeps the generated database there and reuses it.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

from benchmarks._common import median, report, run_quiet, scheduler_command


def build(db: Path, posts: int) -> None:
    import datetime as dt

    from benchmarks._common import add_webhook_channel, fresh_db
    from scheduler.planning.bulk import enqueue_many

    engine, _ = fresh_db(db)
    channel_id = add_webhook_channel(engine, "bench", "http://127.0.0.1:9/hook")
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    enqueue_many(
        engine,
        channel_id,
        ((f"Queued post {i}.", start + dt.timedelta(seconds=i)) for i in range(posts)),
    )
    engine.dispose()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="keep (and reuse) the database here")
    parser.add_argument("--repeat", type=int, default=7)
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-cli-") as tmp:
        db = args.db or Path(tmp) / "million.db"
        if not db.exists():
            build(db, args.posts)
        env = dict(os.environ, SCHEDULER_DB=f"sqlite:///{db}", NO_COLOR="1", COLUMNS="120")
        cmd = scheduler_command()
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "scheduler --help": [*cmd, "--help"],
            "scheduler queue list": [*cmd, "queue", "list"],
            "scheduler queue list --json": [*cmd, "queue", "list", "--json"],
            "scheduler queue list --status queued --channel bench": [
                *cmd,
                "queue",
                "list",
                "--status",
                "queued",
                "--channel",
                "bench",
            ],
        }
        for argv_ in commands.values():  # warm the page cache and .pyc files
            run_quiet(argv_, env)
        times: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.repeat):  # interleaved: noise hits every command alike
            for name, argv_ in commands.items():
                times[name].append(run_quiet(argv_, env))

    floor = median(times["python -c pass"])
    print(f"cli: median of {args.repeat} runs, database of {args.posts:,} queued posts")
    figures: dict[str, float] = {}
    for name, values in times.items():
        m = median(values)
        figures[name] = round(m, 4)
        print(f"  {name:55s} {m * 1000:8.1f} ms  ({m / floor:5.1f}x python -c pass)")
    report(
        "cli",
        {
            "posts": args.posts,
            "repeat": args.repeat,
            "median_s": figures,
            "help_vs_python": round(figures["scheduler --help"] / floor, 1),
            "queue_list_vs_python": round(figures["scheduler queue list"] / floor, 1),
        },
    )


if __name__ == "__main__":
    main()
