"""Queueing posts: the project's batch API (`scheduler.planning.bulk.enqueue_many`)
beside a raw sqlite3 executemany of the same rows into the same schema, and
beside APScheduler 3's SQLAlchemyJobStore with one `add_job` per post.

    python -m benchmarks.enqueue [--posts 100000] [--apscheduler-posts 5000]

Goal (issue 7): at least half of raw speed, at least 20x APScheduler.
APScheduler is measured on fewer posts (it needs a commit per job) and compared
per post; the count is printed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sqlite3
import tempfile
from pathlib import Path

from benchmarks._common import (
    add_webhook_channel,
    fresh_db,
    median,
    rate,
    report,
    timed,
    verdict,
)

SQLA_FORMAT = "%Y-%m-%d %H:%M:%S.%f"  # how SQLAlchemy stores DateTime on SQLite


def make_rows(n: int, start: dt.datetime) -> list[tuple[str, dt.datetime]]:
    return [
        (f"Post number {i}: a quote worth sharing, with a link.", start + dt.timedelta(seconds=i))
        for i in range(n)
    ]


def publish(text: str) -> None:
    """The job APScheduler would run (never called here)."""


def run_project(folder: Path, rows: list[tuple[str, dt.datetime]]) -> float:
    from scheduler.planning.bulk import enqueue_many

    engine, _ = fresh_db(folder / "project.db")
    channel_id = add_webhook_channel(engine, "bench", "http://127.0.0.1:9/hook")
    seconds, count = timed(lambda: enqueue_many(engine, channel_id, rows))
    assert count == len(rows)
    engine.dispose()
    return seconds


RAW_INSERT = (
    "INSERT INTO posts (channel_id, status, text, due_at, idempotency_key, attempts,"
    " created_at, updated_at) VALUES (?, 'queued', ?, ?, ?, 0, ?, ?)"
)


def run_raw(folder: Path, rows: list[tuple[str, dt.datetime]]) -> float:
    """The floor: sqlite3 alone, same schema and pragmas, no checks."""
    engine, _ = fresh_db(folder / "raw.db")
    channel_id = add_webhook_channel(engine, "bench", "http://127.0.0.1:9/hook")
    engine.dispose()
    conn = sqlite3.connect(folder / "raw.db", isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")

    def insert() -> None:
        now = dt.datetime.now(dt.UTC).strftime(SQLA_FORMAT)
        keys = os.urandom(16 * len(rows)).hex()
        conn.execute("BEGIN")
        conn.executemany(
            RAW_INSERT,
            (
                (
                    channel_id,
                    text,
                    due.astimezone(dt.UTC).strftime(SQLA_FORMAT),
                    keys[32 * i : 32 * i + 32],
                    now,
                    now,
                )
                for i, (text, due) in enumerate(rows)
            ),
        )
        conn.execute("COMMIT")

    seconds, _ = timed(insert)
    conn.close()
    return seconds


def run_apscheduler(folder: Path, rows: list[tuple[str, dt.datetime]]) -> float:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger

    path = folder / "apscheduler.db"
    path.unlink(missing_ok=True)
    sched = BackgroundScheduler(
        jobstores={"default": SQLAlchemyJobStore(url=f"sqlite:///{path}")}, timezone=dt.UTC
    )
    # Paused: add_job writes each job to the store at once, nothing runs.
    sched.start(paused=True)

    def add() -> None:
        for i, (text, due) in enumerate(rows):
            sched.add_job(
                publish, DateTrigger(run_date=due), args=(text,), id=f"post-{i}", name="post"
            )

    seconds, _ = timed(add)
    sched.shutdown(wait=False)
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=100_000)
    parser.add_argument("--apscheduler-posts", type=int, default=5_000)
    parser.add_argument("--repeat", type=int, default=3, help="runs of project and raw")
    args = parser.parse_args(argv)

    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    rows = make_rows(args.posts, start)
    project_s: list[float] = []
    raw_s: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-enqueue-") as tmp:
        folder = Path(tmp)
        # Interleaved, so a noisy neighbour slows both sides alike.
        for _ in range(args.repeat):
            raw_s.append(run_raw(folder, rows))
            project_s.append(run_project(folder, rows))
        aps_n = min(args.apscheduler_posts, args.posts)
        aps_s = run_apscheduler(folder, rows[:aps_n]) if aps_n else float("nan")

    project_rate = rate(args.posts, median(project_s))
    raw_rate = rate(args.posts, median(raw_s))
    aps_rate = rate(aps_n, aps_s) if aps_n else float("nan")
    vs_raw = project_rate / raw_rate
    vs_aps = project_rate / aps_rate if aps_n else float("nan")
    print(f"enqueue: {args.posts:,} posts (median of {args.repeat}); APScheduler on {aps_n:,}")
    print(
        f"  scheduler.planning.bulk.enqueue_many  {median(project_s):8.3f} s  {project_rate:12,.0f} posts/s"
    )
    print(f"  raw sqlite3 executemany      {median(raw_s):8.3f} s  {raw_rate:12,.0f} posts/s")
    print(
        f"  APScheduler add_job (SQLA)   {aps_s:8.3f} s  {aps_rate:12,.0f} posts/s  ({aps_n:,} posts)"
    )
    print(f"  vs raw        {vs_raw:6.2f}x  (goal >= 0.5x: {verdict(vs_raw >= 0.5)})")
    print(f"  vs APScheduler {vs_aps:6.1f}x  (goal >= 20x: {verdict(vs_aps >= 20)})")
    report(
        "enqueue",
        {
            "posts": args.posts,
            "repeat": args.repeat,
            "project_s": round(median(project_s), 4),
            "raw_s": round(median(raw_s), 4),
            "apscheduler_posts": aps_n,
            "apscheduler_s": round(aps_s, 4),
            "project_posts_per_s": round(project_rate),
            "raw_posts_per_s": round(raw_rate),
            "apscheduler_posts_per_s": round(aps_rate),
            "ratio_vs_raw": round(vs_raw, 3),
            "ratio_vs_apscheduler": round(vs_aps, 1),
            "goal_vs_raw_met": vs_raw >= 0.5,
            "goal_vs_apscheduler_met": vs_aps >= 20,
        },
    )


if __name__ == "__main__":
    main()
