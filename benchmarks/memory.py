"""Memory and start-up of a real `scheduler daemon` process on a database of
1,000,000 queued posts (all due in the future but one, due now, whose arrival
at a sink server marks the end of the daemon's first pass).

    python -m benchmarks.memory [--posts 1000000] [--db FILE]

Measures, from the moment the process is spawned:
  first send   when the sink received the one due post (start-up + first pass)
  settled      when the daemon's CPU time stopped growing (all start-up work done)
  RSS          resident memory once settled, and its peak (VmHWM)
beside a bare `python -c pass`-style interpreter for scale.

Goals (issue 7): RSS under 120 MB, start-up under 1 s.
`--db FILE` keeps the generated database there and reuses it on the next run.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks._common import (
    add_webhook_channel,
    fresh_db,
    report,
    scheduler_command,
    verdict,
)
from benchmarks.sink import SinkProcess

TICK = os.sysconf("SC_CLK_TCK")


def build_db(path: Path, posts: int, sink_url: str) -> float:
    """`posts` queued posts due one per second from tomorrow, plus one due now."""
    from scheduler.planning.bulk import enqueue_many

    engine, _ = fresh_db(path)
    channel_id = add_webhook_channel(engine, "bench", sink_url)
    start = time.perf_counter()
    tomorrow = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    enqueue_many(
        engine,
        channel_id,
        (
            (f"Queued post {i}: a line worth sharing.", tomorrow + dt.timedelta(seconds=i))
            for i in range(posts - 1)
        ),
    )
    seconds = time.perf_counter() - start
    engine.dispose()
    return seconds


def point_at(path: Path, sink_url: str) -> None:
    """Reuse a kept database: aim its channel at this run's sink, queue one due post."""
    import sqlalchemy as sa

    from scheduler.storage import database, migrations
    from scheduler.storage.models import Channel

    engine = database.make_engine(f"sqlite:///{path}")
    migrations.upgrade(engine)
    soon = {"t": (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%d %H:%M:%S")}
    with engine.begin() as conn:
        conn.execute(sa.update(Channel).values(options={"url": sink_url}))
        conn.execute(
            sa.text(
                "DELETE FROM attempts WHERE post_id IN (SELECT id FROM posts WHERE due_at < :t)"
            ),
            soon,
        )
        conn.execute(sa.text("DELETE FROM posts WHERE due_at < :t"), soon)
    enqueue_due_now(engine)
    engine.dispose()


def enqueue_due_now(engine: Any) -> None:
    import sqlalchemy as sa

    from scheduler.planning.bulk import enqueue_many

    with engine.connect() as conn:
        channel_id = conn.execute(sa.text("SELECT min(id) FROM channels")).scalar()
    enqueue_many(engine, channel_id, [("The one post due now.", dt.datetime.now(dt.UTC))])


def proc_status(pid: int) -> dict[str, int]:
    """VmRSS and VmHWM in kB."""
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "VmHWM:")):
            key, value = line.split(":", 1)
            out[key] = int(value.split()[0])
    return out


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def bare_python_rss() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(2)"])
    time.sleep(0.5)
    rss = proc_status(proc.pid)["VmRSS"]
    proc.kill()
    proc.wait()
    return rss


def measure_daemon(db: Path, sink: SinkProcess, timeout: float = 60.0) -> dict[str, Any]:
    env = dict(os.environ, SCHEDULER_DB=f"sqlite:///{db}")
    before = sink.count()
    spawned = time.perf_counter()
    proc = subprocess.Popen(
        [*scheduler_command(), "daemon"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        first_send = None
        while time.perf_counter() - spawned < timeout:
            if proc.poll() is not None:
                raise RuntimeError(f"daemon exited early: {proc.stderr.read()[-2000:]}")  # type: ignore[union-attr]
            if sink.count() > before:
                first_send = time.perf_counter() - spawned
                break
            time.sleep(0.002)
        if first_send is None:
            raise RuntimeError("the daemon did not send the due post in time")
        # Settled: CPU time unchanged for 0.5 s (the clock ticks at 10 ms).
        last_cpu, last_change = cpu_seconds(proc.pid), time.perf_counter()
        while time.perf_counter() - last_change < 0.5:
            time.sleep(0.01)
            cpu = cpu_seconds(proc.pid)
            if cpu != last_cpu:
                last_cpu, last_change = cpu, time.perf_counter()
        settled = last_change - spawned
        status = proc_status(proc.pid)
        return {
            "first_send_s": first_send,
            "settled_s": settled,
            "cpu_s": last_cpu,
            "rss_mb": status["VmRSS"] / 1024,
            "peak_rss_mb": status["VmHWM"] / 1024,
        }
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1_000_000)
    parser.add_argument("--db", type=Path, help="keep (and reuse) the database here")
    parser.add_argument("--repeat", type=int, default=3, help="daemon starts to measure")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp, SinkProcess() as sink:
        db = args.db or Path(tmp) / "million.db"
        build_s = None
        if db.exists():
            point_at(db, sink.url)
        else:
            build_s = build_db(db, args.posts, sink.url)
            from scheduler.storage import database

            engine = database.make_engine(f"sqlite:///{db}")
            enqueue_due_now(engine)
            engine.dispose()
        size_mb = db.stat().st_size / 2**20
        runs = []
        for i in range(args.repeat):
            if i:
                from scheduler.storage import database

                engine = database.make_engine(f"sqlite:///{db}")
                enqueue_due_now(engine)
                engine.dispose()
            runs.append(measure_daemon(db, sink))
        bare = bare_python_rss() / 1024

    best = min(runs, key=lambda r: r["settled_s"])
    worst_rss = max(r["rss_mb"] for r in runs)
    first_send = sorted(r["first_send_s"] for r in runs)[len(runs) // 2]
    settled = sorted(r["settled_s"] for r in runs)[len(runs) // 2]
    peak = max(r["peak_rss_mb"] for r in runs)
    print(f"memory: daemon on {args.posts:,} queued posts ({size_mb:,.0f} MB SQLite file)")
    if build_s is not None:
        print(f"  built with scheduler.planning.bulk in {build_s:.1f} s")
    for r in runs:
        print(
            f"  run: first send {r['first_send_s']:.3f} s, settled {r['settled_s']:.3f} s, "
            f"CPU {r['cpu_s']:.2f} s, RSS {r['rss_mb']:.1f} MB (peak {r['peak_rss_mb']:.1f} MB)"
        )
    print(f"  bare python interpreter RSS {bare:.1f} MB")
    print(
        f"  start-up (median first send) {first_send:.3f} s  (goal < 1 s: {verdict(first_send < 1)})"
    )
    print(f"  RSS (worst of runs) {worst_rss:.1f} MB  (goal < 120 MB: {verdict(worst_rss < 120)})")
    report(
        "memory",
        {
            "posts": args.posts,
            "db_mb": round(size_mb, 1),
            "build_s": round(build_s, 2) if build_s is not None else None,
            "first_send_s": round(first_send, 3),
            "settled_s": round(settled, 3),
            "rss_mb": round(worst_rss, 1),
            "peak_rss_mb": round(peak, 1),
            "bare_python_rss_mb": round(bare, 1),
            "best_run": {k: round(v, 3) for k, v in best.items()},
            "goal_startup_met": first_send < 1,
            "goal_rss_met": worst_rss < 120,
        },
    )


if __name__ == "__main__":
    main()
