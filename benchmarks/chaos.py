"""Chaos run: many posts, a failing receiver, daemons SIGKILLed and restarted.

Prints posts sent, lost and duplicated, then one JSON line with every figure.

    python benchmarks/chaos.py                        # SQLite, 1 daemon, 5000 posts
    python benchmarks/chaos.py --db postgres --daemons 3 --posts 20000
    python benchmarks/chaos.py --db postgresql://user@host/db   # an existing (empty) database

Definitions (the same as the test suite's, see tests/reliability/harness.py):
  sent        posts marked sent whose idempotency key the receiver published
  lost        posts left queued/sending at the end, or marked sent but never published
  duplicated  posts the receiver published twice (under two different keys). The
              same key arriving again is a deduped resend, counted as `resends`.
  unknown     posts whose outcome cannot be known (shown to the user, never resent blindly)
  failed      posts given up on; `failed_but_published` must be 0
  acked_resends  keys the receiver acknowledged more than once: a daemon killed after
              the answer and before writing it down sends again (deduped by key)
  unsafe_resends  a post of a platform that does not dedupe (one `plainhook` channel)
              sent again after it may have arrived; must be 0
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from reliability import harness  # noqa: E402
from reliability.pgserver import PgCluster, create_database, find_bindir  # noqa: E402
from reliability.sink import FAULTS, Sink  # noqa: E402

from scheduler.storage import database, migrations  # noqa: E402


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", default="sqlite", help="sqlite | postgres | a database URL")
    ap.add_argument("--posts", type=int, default=5000)
    ap.add_argument("--channels", type=int, default=6, help="webhook channels (dedupe by key)")
    ap.add_argument("--plain-channels", type=int, default=1, help="channels that do not dedupe")
    ap.add_argument("--daemons", type=int, default=1)
    ap.add_argument("--fault-share", type=float, default=0.15)
    ap.add_argument("--faults", default=",".join(FAULTS), help="subset of " + ",".join(FAULTS))
    ap.add_argument("--kills", type=int, default=20, help="SIGKILLs, at even steps of progress")
    ap.add_argument("--no-kill", action="store_true")
    ap.add_argument("--spread", type=float, default=0.0, help="spread due times over N seconds")
    ap.add_argument("--stall", type=float, default=300.0, help="give up after N s without progress")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--verbose", action="store_true")
    args = ap.parse_args()

    work = Path(tempfile.mkdtemp(prefix="scheduler-chaos-"))
    cluster = None
    if args.db == "sqlite":
        url = f"sqlite:///{work / 'chaos.db'}"
    elif args.db == "postgres":
        bindir = find_bindir()
        if bindir is None:
            print("no PostgreSQL binaries; run .ci/install-postgres.sh", file=sys.stderr)
            return 2
        cluster = PgCluster(bindir)
        cluster.start()
        url = create_database(cluster.url)
    else:
        url = database.normalise_url(args.db)
    engine = database.make_engine(url)
    migrations.upgrade(engine)
    engine.dispose()

    sink = Sink(
        fail_share=args.fault_share,
        faults=tuple(f for f in args.faults.split(",") if f),
        seed=args.seed,
        hang_seconds=2.0,
    )
    sink.start()
    try:
        run = harness.run_chaos(
            url,
            sink.base,
            sink.snapshot,
            work,
            posts=args.posts,
            channels=args.channels,
            plain_channels=args.plain_channels,
            daemons=args.daemons,
            kills=0 if args.no_kill else args.kills,
            spread_seconds=args.spread,
            stall_seconds=args.stall,
            seed=args.seed,
            progress=(lambda m: print(m, file=sys.stderr)) if args.verbose else None,
        )
    finally:
        sink.stop()
        if cluster is not None:
            cluster.stop()
    t = run.tally
    print(f"database            {args.db} ({args.daemons} daemon(s), logs in {work})")
    print(f"posts               {t.posts}")
    print(f"sent                {t.sent}")
    print(f"lost                {t.lost}")
    print(f"duplicated          {t.duplicated}")
    print(f"unknown             {t.unknown}")
    print(f"failed              {t.failed} (published anyway: {t.failed_but_published})")
    print(f"kills (SIGKILL)     {run.kills}")
    print(
        f"requests            {t.requests} (faults injected: {sum(t.faults.values())} {t.faults})"
    )
    print(f"deduped resends     {t.resends} (after an acknowledged send: {t.acked_resends})")
    print(f"unsafe resends      {t.unsafe_resends} (to a platform that does not dedupe; must be 0)")
    print(f"seconds             {run.seconds:.1f} ({t.posts / run.seconds:.0f} posts/s)")
    figures = {
        "db": args.db,
        "daemons": args.daemons,
        "kills": run.kills,
        "seconds": round(run.seconds, 2),
        **t.as_dict(),
    }
    print(json.dumps(figures, sort_keys=True))
    ok = not (t.lost or t.duplicated or t.failed_but_published or t.stray or t.unsafe_resends)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
