"""The fault suite: hundreds of posts through real `scheduler daemon`
processes to a sink that fails a share of requests (500, 429 with Retry-After,
timeouts, cut connections), while daemons are SIGKILLed and restarted.

What must hold at the end (see `harness.Tally` for the exact definitions):
- nothing lost: no post left queued or sending, and every post marked sent was
  published at the sink;
- nothing duplicated: no post published twice. The sink dedupes by
  idempotency key like a real receiver, so a resend of the same key after a
  lost answer or a crash is a deduped resend, not a duplicate publication; a
  duplicate is one post arriving under two keys;
- `failed` means not published;
- on a platform that does not dedupe (the `plainhook` test plugin), a post
  that may have arrived is never sent again: it becomes `unknown`;
- every post is sent, or shown as `unknown` / `failed`.

Runs are bounded by progress (kills at steps of posts finished), never by the
clock, so a slow machine makes them slower, not red. `benchmarks/chaos.py`
runs the same harness with thousands of posts.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from scheduler.storage import database

from . import harness
from .sink import Sink

FAULT_SHARE = 0.1


def check(run: harness.ChaosRun, posts: int) -> None:
    t = run.tally
    assert t.posts == posts
    assert t.lost == 0, t
    assert t.duplicated == 0, t
    assert t.stray == 0, t
    assert t.failed_but_published == 0, t
    assert t.unsafe_resends == 0, t
    assert t.sent + t.unknown + t.failed == posts, t
    # Four channels in five dedupe, so retrying is safe there and nearly every
    # post gets through; on the fifth an unclear outcome becomes `unknown`.
    assert t.sent >= 0.75 * posts, t
    assert t.unknown >= 4, t  # at least the forced unclear answers (see chaos_sink)
    assert sum(t.faults.values()) > 0
    assert run.exit_codes == [0] * len(run.exit_codes), "a daemon did not stop cleanly"


@pytest.fixture
def chaos_sink() -> Sink:
    # The first requests to the channel that does not dedupe get unclear answers,
    # so every run checks that those posts become `unknown` rather than resent.
    sink = Sink(
        fail_share=FAULT_SHARE,
        hang_seconds=2.0,
        retry_after="1",
        seed=11,
        unclear_first={"/chaos/p": 4},
    )
    sink.start()
    yield sink
    sink.stop()


def test_a_daemon_killed_again_and_again_on_sqlite(
    sqlite_url: str, chaos_sink: Sink, tmp_path: Path
) -> None:
    posts = 600
    run = harness.run_chaos(
        sqlite_url, chaos_sink.base, chaos_sink.snapshot, tmp_path, posts=posts, daemons=1
    )
    assert run.kills == 4, "the daemon was not killed at each step of progress"
    check(run, posts)


@pytest.mark.postgres
def test_two_daemons_killed_again_and_again_on_postgres(
    pg_url: str, chaos_sink: Sink, tmp_path: Path
) -> None:
    posts = 600
    run = harness.run_chaos(
        pg_url, chaos_sink.base, chaos_sink.snapshot, tmp_path, posts=posts, daemons=2, seed=3
    )
    assert run.kills == 4
    check(run, posts)
    # Only a daemon killed between the sink's answer and its own record may
    # send a post it was told had arrived.
    assert run.tally.acked_resends <= run.kills * 5 * 8


@pytest.mark.postgres
def test_two_daemons_share_one_postgres_without_sending_twice(
    pg_url: str, chaos_sink: Sink, tmp_path: Path
) -> None:
    posts = 600
    run = harness.run_chaos(
        pg_url,
        chaos_sink.base,
        chaos_sink.snapshot,
        tmp_path,
        posts=posts,
        daemons=2,
        kills=0,
        # No daemon dies here, so nothing needs taking back: leases long enough
        # that a loaded machine's slow pass cannot lapse one either (a lapsed
        # lease is recovered and resent by design, deduped by its key).
        settings={"lease_seconds": 60},
    )
    check(run, posts)
    # No daemon died, so no post was ever sent after its success was known.
    assert run.tally.acked_resends == 0, run.tally
    engine = database.make_engine(pg_url)
    with engine.connect() as conn:
        owners = conn.execute(
            sa.text("SELECT owner, count(*) FROM attempts WHERE outcome = 'sent' GROUP BY owner")
        ).all()
    engine.dispose()
    assert len(owners) == 2, f"both daemons should have sent posts: {owners}"
