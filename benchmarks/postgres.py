"""PostgreSQL: `scheduler daemon --once` beside procrastinate (a PostgreSQL task
queue) doing the same job, with 1 and with 2 worker processes, in the same run.

    python -m benchmarks.postgres [--posts 3000] [--rounds 3] [--concurrency 4]
                                  [--side cli|run_once|both] [--keep-server-log]

The job: N posts already due, each one HTTP POST to the sink (benchmarks/sink.py,
its own process) with the bytes the webhook adapter builds for the post. Per run,
a fresh database on one throwaway PostgreSQL cluster (started as the tests start
theirs: initdb, fsync off, 127.0.0.1; see tests/reliability/pgserver.py), then:

  scheduler    the posts queued on one webhook channel (`enqueue_many`), then
               1 or 2 processes of `scheduler daemon --once` (the real entry point,
               its normal line per post to a pipe read here), or, with
               `--side run_once`, processes running `Daemon.run_once` and nothing
               else (no output, no CLI start-up beyond the interpreter and imports)
  procrastinate  procrastinate 3's schema applied, one job per post deferred
               (`batch_defer_async`; its arguments are the request's body and
               headers, built before, untimed), then 1 or 2 processes of
               `app.run_worker_async(wait=False, concurrency=C)`, whose async task
               posts the body over the daemon's own lanes (`make_lanes`: the same
               httpx clients, pools, keep-alive and gate)

Both sides have C sends in flight per process (the daemon's `channel_concurrency`,
procrastinate's `concurrency`). Timed: spawn of the worker processes to the exit
of the last one. CPU: the worker processes, whole (from the kernel's accounting
of children, `RUSAGE_CHILDREN`), and beside it the PostgreSQL server's (the
postmaster, its live children and the backends that exited, from /proc).
The `run_once` processes also report the CPU of `run_once` alone (no
interpreter, imports or exit), printed as its own 2 / 1 figure. Checked every
run: the sink received N requests with N distinct Idempotency-Keys, none twice;
every post `sent` / every job `succeeded`.

Goals (issue "Scale"): scheduler >= 1.5x procrastinate's posts/s with 1 and
with 2 workers; the scheduler's CPU per post with 2 daemons no worse than with 1.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import logging
import os
import resource
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
# The tests' throwaway cluster (tests/reliability/pgserver.py), as chaos.py uses it.
sys.path[:0] = [str(ROOT / "tests")]

from benchmarks._common import report, scheduler_command, verdict  # noqa: E402
from benchmarks.dispatch import TEXT  # noqa: E402
from benchmarks.sink import SinkProcess  # noqa: E402

TASK = "bench_send"
QUEUE = "posts"


# -- the procrastinate side ------------------------------------------------------


def make_app(conninfo: str) -> Any:
    """A procrastinate app with the one task: post the prepared request."""
    import procrastinate

    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=conninfo))
    client: list[Any] = []

    @app.task(name=TASK, queue=QUEUE)
    async def bench_send(url: str, body: str, headers: dict[str, str]) -> None:
        if not client:
            from scheduler.config import Settings
            from scheduler.delivery.lanes import make_lanes

            client.append(make_lanes(Settings().request_timeout_seconds))
        async with client[0].lane() as http:
            response = await http.post(url, content=body.encode(), headers=headers)
        response.raise_for_status()

    app.bench_client = client  # type: ignore[attr-defined]
    return app


def procrastinate_worker(conninfo: str, concurrency: int) -> None:
    """One worker process: take jobs until none is left, then exit."""
    app = make_app(conninfo)

    async def run() -> None:
        async with app.open_async():
            await app.run_worker_async(
                queues=[QUEUE], concurrency=concurrency, wait=False, install_signal_handlers=False
            )
        for c in app.bench_client:
            await c.aclose()

    asyncio.run(run())


def requests_for(sink_url: str, n: int) -> list[dict[str, Any]]:
    """The webhook adapter's request for each of n posts, as job arguments; the
    keys are new each run, so the sink's exactly-once count is per run."""
    from scheduler.publishers import OutgoingPost
    from scheduler.publishers.base import ChannelInfo
    from scheduler.publishers.webhook import WebhookPublisher

    publisher = WebhookPublisher(
        ChannelInfo(name="bench", platform="webhook", options={"url": sink_url}, secret=None)
    )
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    out = []
    for i in range(n):
        (req,) = publisher.build_requests(
            OutgoingPost(
                post_id=i + 1,
                idempotency_key=uuid.uuid4().hex,
                text=TEXT.format(i=i),
                due_at=due,
                attempt=1,
                link=None,
            )
        )
        out.append({"url": sink_url, "body": (req.content or b"").decode(), "headers": req.headers})
    return out


def prepare_procrastinate(db_url: str, sink_url: str, n: int) -> str:
    conninfo = libpq(db_url)
    app = make_app(conninfo)
    jobs = requests_for(sink_url, n)

    async def run() -> None:
        async with app.open_async():
            await app.schema_manager.apply_schema_async()
            task = app.tasks[TASK]
            for i in range(0, n, 1000):
                await task.batch_defer_async(*jobs[i : i + 1000])

    asyncio.run(run())
    return conninfo


def procrastinate_done(db_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT status::text, count(*) FROM procrastinate_jobs GROUP BY 1")
            ).all()
    finally:
        engine.dispose()
    return {status: count for status, count in rows}


# -- the scheduler side ----------------------------------------------------------


def prepare_scheduler(db_url: str, sink_url: str, n: int) -> None:
    from benchmarks._common import add_webhook_channel
    from scheduler.planning.bulk import enqueue_many
    from scheduler.storage import database, migrations

    engine = database.make_engine(db_url)
    migrations.upgrade(engine)
    channel_id = add_webhook_channel(engine, "bench", sink_url)
    due = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=1)
    enqueue_many(
        engine,
        channel_id,
        [(TEXT.format(i=i), due + dt.timedelta(microseconds=i)) for i in range(n)],
    )
    engine.dispose()


#: How a `run_once` process reports the CPU of the dispatch alone on stderr.
_LOOP_CPU = "run_once CPU s:"
_COUNTS = "run_once passes, statements:"


def run_once_worker(db_url: str) -> None:
    """One process running `Daemon.run_once` and nothing else."""
    import sqlalchemy as sa

    from scheduler.config import load_settings
    from scheduler.delivery.daemon import Daemon
    from scheduler.delivery.exchange import Exchange
    from scheduler.storage import database

    engine = database.make_engine(db_url)
    # Counts, not times: what a second daemon costs in passes (transactions)
    # and statements a post, free of the machine's noise.
    counts = {"passes": 0, "statements": 0}
    run = Exchange.run

    def counted_run(self: Exchange, *args: Any, **kwargs: Any) -> Any:
        counts["passes"] += 1
        return run(self, *args, **kwargs)

    def counted_statement(*_args: Any) -> None:
        counts["statements"] += 1

    Exchange.run = counted_run  # type: ignore[method-assign]
    sa.event.listen(engine, "before_cursor_execute", counted_statement)
    cpu = time.process_time()
    asyncio.run(Daemon(engine, load_settings(db=db_url)).run_once())
    # The CPU of the dispatch itself (no interpreter, imports or exit), read by
    # `run_workers`: with 2 daemons, what contention costs the engine alone.
    print(f"{_LOOP_CPU} {time.process_time() - cpu:.4f}", file=sys.stderr)
    print(f"{_COUNTS} {counts['passes']} {counts['statements']}", file=sys.stderr)
    engine.dispose()


def scheduler_done(db_url: str) -> dict[str, int]:
    import sqlalchemy as sa

    engine = sa.create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT status, count(*) FROM posts GROUP BY 1")).all()
    finally:
        engine.dispose()
    return {status: count for status, count in rows}


# -- running and measuring -------------------------------------------------------


def children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


class ServerCpu:
    """CPU seconds of a PostgreSQL cluster so far: the postmaster, its children
    alive now, and those it reaped (backends of connections that closed)."""

    def __init__(self, data_dir: Path) -> None:
        self.pid = int((data_dir / "postmaster.pid").read_text().split()[0])
        self.tick = os.sysconf("SC_CLK_TCK")

    @staticmethod
    def _fields(pid: int) -> list[str] | None:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except OSError:
            return None
        return stat[stat.rindex(")") + 2 :].split()

    def seconds(self) -> float:
        own = self._fields(self.pid)
        if own is None:
            return float("nan")
        # Fields after the name: state ppid ... utime(11) stime(12) cutime(13) cstime(14).
        total = sum(int(own[i]) for i in (11, 12, 13, 14))
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            fields = self._fields(int(entry.name))
            if fields is not None and fields[1] == str(self.pid):
                total += int(fields[11]) + int(fields[12])
        return total / self.tick


def _drain(stream: Any, counts: list[int]) -> None:
    counts.append(sum(1 for _ in stream))


def run_workers(cmds: list[list[str]], env: dict[str, str], server: ServerCpu) -> dict[str, Any]:
    """Start the processes together; wall from spawn to the last exit."""
    cpu0, srv0, start = children_cpu(), server.seconds(), time.perf_counter()
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for cmd in cmds
    ]
    lines: list[int] = []
    errs: list[bytes] = []
    readers = [threading.Thread(target=_drain, args=(p.stdout, lines)) for p in procs]
    for r in readers:
        r.start()
    for p in procs:
        assert p.stderr is not None
        errs.append(p.stderr.read())
        p.wait()
    for r in readers:
        r.join()
    seconds = time.perf_counter() - start
    cpu, srv = children_cpu() - cpu0, server.seconds() - srv0
    loop_cpu = 0.0
    passes = statements = 0
    for p, err in zip(procs, errs, strict=True):
        if p.returncode != 0:
            raise RuntimeError(f"{p.args} exited {p.returncode}: {err[-800:].decode()}")
        for line in err.decode(errors="replace").splitlines():
            if line.startswith(_LOOP_CPU):
                loop_cpu += float(line.removeprefix(_LOOP_CPU))
            if line.startswith(_COUNTS):
                a, b = line.removeprefix(_COUNTS).split()
                passes, statements = passes + int(a), statements + int(b)
    return {
        "seconds": seconds,
        "cpu": cpu,
        "server_cpu": srv,
        "lines": sum(lines),
        "loop_cpu": loop_cpu,
        "passes": passes,
        "statements": statements,
    }


def libpq(url: str) -> str:
    """postgresql+psycopg://... -> postgresql://... (what psycopg itself takes)."""
    return "postgresql://" + url.split("://", 1)[1]


def one_run(
    side: str, workers: int, n: int, conc: int, server_url: str, server: ServerCpu, sink: Any
) -> dict[str, Any]:
    from reliability.pgserver import create_database, drop_database

    db_url = create_database(server_url)
    env = dict(
        os.environ,
        SCHEDULER_DB=db_url,
        SCHEDULER_CHANNEL_CONCURRENCY=str(conc),
        PYTHONPATH=str(ROOT),
    )
    try:
        if side == "procrastinate":
            conninfo = prepare_procrastinate(db_url, sink.url, n)
            cmd = [sys.executable, "-m", "benchmarks.postgres", "--procrastinate-worker", conninfo]
            cmd += ["--concurrency", str(conc)]
        else:
            prepare_scheduler(db_url, sink.url, n)
            if side == "cli":
                cmd = [*scheduler_command(), "daemon", "--once"]
            else:
                cmd = [sys.executable, "-m", "benchmarks.postgres", "--run-once-worker", db_url]
        keys0, count0 = sink.keys(), sink.count()
        result = run_workers([cmd] * workers, env, server)
        keys1 = sink.keys()
        result |= {
            "received": sink.count() - count0,
            "distinct_keys": keys1[0] - keys0[0],
            "repeated_keys": keys1[1] - keys0[1],
            "states": procrastinate_done(db_url)
            if side == "procrastinate"
            else scheduler_done(db_url),
        }
        done = result["states"].get("succeeded" if side == "procrastinate" else "sent", 0)
        result["exactly_once"] = (
            done == n
            and result["received"] == n
            and result["distinct_keys"] == n
            and result["repeated_keys"] == 0
        )
        return result
    finally:
        drop_database(server_url, db_url)


def pg_version(bindir: Path) -> str:
    out = subprocess.run([str(bindir / "postgres"), "--version"], capture_output=True, text=True)
    return out.stdout.strip() or "PostgreSQL ?"


def _mmm(values: list[float], fmt: str = "{:,.0f}") -> str:
    return " / ".join(fmt.format(v) for v in (min(values), statistics.median(values), max(values)))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=3000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--side", choices=["cli", "run_once", "both"], default="both")
    parser.add_argument("--workers", default="1,2", help="worker counts to run, e.g. 1,2")
    parser.add_argument("--procrastinate-worker", metavar="CONNINFO", help=argparse.SUPPRESS)
    parser.add_argument("--run-once-worker", metavar="URL", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.procrastinate_worker:
        procrastinate_worker(args.procrastinate_worker, args.concurrency)
        return
    if args.run_once_worker:
        run_once_worker(args.run_once_worker)
        return
    logging.basicConfig(level=logging.WARNING)
    # Its advice against an app in `__main__` is about task names in real
    # projects; here the worker processes import this module by name.
    logging.getLogger("procrastinate.blueprints").setLevel(logging.ERROR)

    from reliability.pgserver import PgCluster, find_bindir

    bindir = find_bindir()
    if bindir is None:
        sys.exit("no PostgreSQL server binaries (initdb, pg_ctl); run .ci/install-postgres.sh")
    import procrastinate

    ours = ["cli", "run_once"] if args.side == "both" else [args.side]
    sides = [*ours, "procrastinate"]
    counts = [int(w) for w in args.workers.split(",")]
    n = args.posts
    load0 = os.getloadavg()
    cluster = PgCluster(bindir)
    cluster.start()
    runs: dict[tuple[str, int], list[dict[str, Any]]] = {(s, w): [] for s in sides for w in counts}
    startup: dict[str, float] = {}
    try:
        server = ServerCpu(cluster.data)
        with SinkProcess() as sink:
            # Warm-up alike for every side: the cluster's caches, first imports.
            for side in sides:
                one_run(side, 1, 200, args.concurrency, cluster.url, server, sink)
            # Start-up: one process with nothing to do (interpreter, imports,
            # connecting, finding nothing due), three times.
            for side in sides:
                empty = [
                    one_run(side, 1, 0, args.concurrency, cluster.url, server, sink)
                    for _ in range(3)
                ]
                startup[side] = statistics.median(r["cpu"] for r in empty)
            for r in range(args.rounds):
                for w in counts:
                    for side in sides:
                        res = one_run(side, w, n, args.concurrency, cluster.url, server, sink)
                        runs[(side, w)].append(res)
                        print(
                            f"  round {r + 1}, {w} worker(s), {side:13s} {res['seconds']:6.2f} s"
                            f"  {n / res['seconds']:7,.0f} posts/s  CPU {res['cpu']:6.2f} s"
                            f"  server CPU {res['server_cpu']:5.2f} s"
                            f"  exactly once: {res['exactly_once']}",
                            flush=True,
                        )
    finally:
        cluster.stop()
    load1 = os.getloadavg()

    print(
        f"postgres: {n:,} due posts, concurrency {args.concurrency} per worker process,"
        f" {args.rounds} rounds (min / median / max); procrastinate {procrastinate.__version__},"
        f" {pg_version(bindir)}; load average {load0[0]:.1f} -> {load1[0]:.1f}"
    )
    print(
        "  start-up of one process with nothing due, CPU s (median of 3): "
        + ", ".join(f"{side} {startup[side]:.2f}" for side in sides)
    )

    def net_cpu(r: dict[str, Any], side: str, workers: int) -> float:
        return r["cpu"] - workers * startup[side]

    figures: dict[str, Any] = {"posts": n, "concurrency": args.concurrency, "runs": {}}
    goals: dict[str, bool] = {}
    for w in counts:
        for side in sides:
            rs = runs[(side, w)]
            print(
                f"  {w} worker(s) {side:13s} posts/s {_mmm([n / r['seconds'] for r in rs])}"
                f"   CPU µs/post {_mmm([r['cpu'] / n * 1e6 for r in rs])}"
                f"   less start-up {_mmm([net_cpu(r, side, w) / n * 1e6 for r in rs])}"
                f"   server CPU µs/post {_mmm([r['server_cpu'] / n * 1e6 for r in rs])}"
            )
            figures["runs"][f"{side}/{w}"] = rs
        ref = runs[("procrastinate", w)]
        for side in ours:
            ratios = [
                p["seconds"] / s["seconds"] for s, p in zip(runs[(side, w)], ref, strict=True)
            ]
            ok = statistics.median(ratios) >= 1.5
            goals[f"{side}/{w} >= 1.5x"] = ok
            print(
                f"  {w} worker(s) {side} / procrastinate, posts/s per round:"
                f" {_mmm(ratios, '{:.2f}')}x  (goal >= 1.5x: {verdict(ok)})"
            )
    if 1 in counts and 2 in counts:
        for side in sides:
            one = statistics.median(r["cpu"] for r in runs[(side, 1)])
            two = statistics.median(r["cpu"] for r in runs[(side, 2)])
            one_net = statistics.median(net_cpu(r, side, 1) for r in runs[(side, 1)])
            two_net = statistics.median(net_cpu(r, side, 2) for r in runs[(side, 2)])
            line = (
                f"  {side}: CPU per post with 2 workers / with 1: whole processes"
                f" {two / one:.2f}, less start-up {two_net / one_net:.2f}"
            )
            if side in ours:
                goals[f"{side} CPU 2 <= 1 (whole)"] = two <= one
                goals[f"{side} CPU 2 <= 1 (less start-up)"] = two_net <= one_net
                line += (
                    f"  (goal <= 1.00: whole {verdict(two <= one)},"
                    f" less start-up {verdict(two_net <= one_net)})"
                )
            print(line)
        if "run_once" in sides:
            one = statistics.median(r["loop_cpu"] for r in runs[("run_once", 1)])
            two = statistics.median(r["loop_cpu"] for r in runs[("run_once", 2)])
            print(
                f"  run_once: CPU per post in `run_once` itself (no start-up or exit), 2 / 1:"
                f" {two / one:.2f} ({two / n * 1e6:,.0f} vs {one / n * 1e6:,.0f} µs)"
            )
            for w in (1, 2):
                rs = runs[("run_once", w)]
                print(
                    f"  run_once, {w} worker(s): posts a pass"
                    f" {_mmm([n / r['passes'] for r in rs], '{:.2f}')},"
                    f" statements a post {_mmm([r['statements'] / n for r in rs], '{:.2f}')}"
                )
    exact = all(r["exactly_once"] for rs in runs.values() for r in rs)
    print(f"  every post sent, each Idempotency-Key exactly once at the sink: {exact}")
    report(
        "postgres",
        figures
        | {"goals": goals, "exactly_once": exact, "load": [load0, load1], "startup": startup}
        | {"procrastinate": procrastinate.__version__},
    )


if __name__ == "__main__":
    main()
