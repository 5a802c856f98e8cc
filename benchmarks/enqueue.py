"""Queueing posts: the project's batch API (`scheduler.planning.bulk.enqueue_many`)
beside a raw sqlite3 executemany of the same rows into the same schema, and
beside APScheduler 3's SQLAlchemyJobStore with one `add_job` per post.

    python -m benchmarks.enqueue [--posts 100000] [--apscheduler-posts 5000]
                                 [--one-post-posts 5000]

Goal (issue 7): at least half of raw speed, at least 20x APScheduler.
APScheduler is measured on fewer posts (it needs a commit per job) and compared
per post; the count is printed. Its job store runs on an engine from
`scheduler.storage.database.make_engine`, so SQLite has the project's pragmas
(WAL, synchronous=NORMAL): the comparison is of the code, not of the journal.

The project's one-post path is measured too: `scheduler.desk.posts.add_post`,
each post in its own session and transaction (what `queue add` and the CSV
import's per-post path do), on `--one-post-posts` posts, beside the batch path
and APScheduler's one commit per job.
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


def run_one_post(folder: Path, rows: list[tuple[str, dt.datetime]]) -> float:
    """`add_post`, one session and one commit per post, as `queue add` does."""
    from scheduler.accounts import channels
    from scheduler.desk.posts import add_post
    from scheduler.storage import database

    engine, _ = fresh_db(folder / "one_post.db")
    add_webhook_channel(engine, "bench", "http://127.0.0.1:9/hook")

    def add() -> None:
        for text, due in rows:
            with database.session_scope(engine) as session:
                add_post(session, channels.get_channel(session, "bench"), text, due)

    seconds, _ = timed(add)
    engine.dispose()
    return seconds


def apscheduler_store(path: Path) -> object:
    """APScheduler's SQLAlchemy job store on the project's SQLite settings."""
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore

    from scheduler.storage import database

    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return SQLAlchemyJobStore(engine=database.make_engine(f"sqlite:///{path}"))


def run_apscheduler(folder: Path, rows: list[tuple[str, dt.datetime]]) -> float:
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.date import DateTrigger

    sched = BackgroundScheduler(
        jobstores={"default": apscheduler_store(folder / "apscheduler.db")}, timezone=dt.UTC
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
    parser.add_argument("--one-post-posts", type=int, default=5_000)
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
        one_n = min(args.one_post_posts, args.posts)
        one_s = run_one_post(folder, rows[:one_n]) if one_n else float("nan")

    project_rate = rate(args.posts, median(project_s))
    raw_rate = rate(args.posts, median(raw_s))
    aps_rate = rate(aps_n, aps_s) if aps_n else float("nan")
    vs_raw = project_rate / raw_rate
    vs_aps = project_rate / aps_rate if aps_n else float("nan")
    one_rate = rate(one_n, one_s) if one_n else float("nan")
    one_vs_aps = one_rate / aps_rate if aps_n and one_n else float("nan")
    print(f"enqueue: {args.posts:,} posts (median of {args.repeat}); APScheduler on {aps_n:,}")
    print(
        f"  scheduler.planning.bulk.enqueue_many  {median(project_s):8.3f} s  {project_rate:12,.0f} posts/s"
    )
    print(f"  raw sqlite3 executemany      {median(raw_s):8.3f} s  {raw_rate:12,.0f} posts/s")
    print(
        f"  APScheduler add_job (SQLA)   {aps_s:8.3f} s  {aps_rate:12,.0f} posts/s  ({aps_n:,} posts)"
    )
    print(
        f"  add_post, a transaction each {one_s:8.3f} s  {one_rate:12,.0f} posts/s  ({one_n:,} posts)"
    )
    print(f"  vs raw        {vs_raw:6.2f}x  (goal >= 0.5x: {verdict(vs_raw >= 0.5)})")
    if aps_n:
        print(f"  vs APScheduler {vs_aps:6.1f}x  (goal >= 20x: {verdict(vs_aps >= 20)})")
        print(f"  one-post path vs APScheduler {one_vs_aps:6.2f}x  (both commit once per post)")
    else:
        print("  APScheduler not measured (--apscheduler-posts 0)")
    report(
        "enqueue",
        {
            "posts": args.posts,
            "repeat": args.repeat,
            "project_s": round(median(project_s), 4),
            "raw_s": round(median(raw_s), 4),
            "apscheduler_posts": aps_n,
            "apscheduler_s": round(aps_s, 4) if aps_n else None,
            "project_posts_per_s": round(project_rate),
            "raw_posts_per_s": round(raw_rate),
            "apscheduler_posts_per_s": round(aps_rate) if aps_n else None,
            "ratio_vs_raw": round(vs_raw, 3),
            "ratio_vs_apscheduler": round(vs_aps, 1) if aps_n else None,
            "one_post_posts": one_n,
            "one_post_s": round(one_s, 4) if one_n else None,
            "one_post_posts_per_s": round(one_rate) if one_n else None,
            "one_post_vs_apscheduler": round(one_vs_aps, 2) if aps_n and one_n else None,
            "goal_vs_raw_met": vs_raw >= 0.5,
            "goal_vs_apscheduler_met": vs_aps >= 20 if aps_n else None,
        },
    )


if __name__ == "__main__":
    main()
