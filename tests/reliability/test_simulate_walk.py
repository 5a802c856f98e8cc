"""`simulate` walks its virtual clock with a fixed number of statements, however
many posts, channels and moments (it was one statement per moment, and before
that one per moment reading every post due so far), and shows a post waiting
for its retry at the retry's time."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import sqlalchemy as sa

from scheduler.previews.simulation import simulate
from scheduler.storage import database, migrations
from scheduler.storage.models import Post

from . import harness
from .test_dispatch import settings


def _statements_of_a_walk(folder: Path, channels: int, posts: int) -> tuple[int, int]:
    """(statements run, steps shown) for one simulate over a new database."""
    url = f"sqlite:///{folder / f'walk-{channels}-{posts}.db'}"
    engine = database.make_engine(url)
    migrations.upgrade(engine)
    ids = harness.add_channels(url, {f"c{i}": "http://127.0.0.1:9/x" for i in range(channels)})
    start = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
    # Every post has a due time of its own: the walk has as many moments as posts.
    harness.add_posts(url, list(ids.values()), posts, due=start, spread_seconds=86400)
    seen = 0

    def count(*_: object) -> None:
        nonlocal seen
        seen += 1

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        steps = simulate(engine, settings(url), start + dt.timedelta(days=2), start=start)
    finally:
        engine.dispose()
    return seen, len(steps)


def test_walk_statements_do_not_grow_with_posts_or_channels(tmp_path: Path) -> None:
    small, shown_small = _statements_of_a_walk(tmp_path, 2, 20)
    large, shown_large = _statements_of_a_walk(tmp_path, 10, 400)
    assert (shown_small, shown_large) == (20, 400)
    assert large == small, (small, large)


def test_a_post_waiting_for_its_retry_is_shown_at_the_retry(sqlite_url: str) -> None:
    ids = harness.add_channels(sqlite_url, {"hook": "http://127.0.0.1:9/x"})
    start = dt.datetime(2031, 5, 1, 12, 0, tzinfo=dt.UTC)
    # Fell due before the walk starts; its retry comes 20 minutes in (within
    # the hour of grace).
    harness.add_posts(sqlite_url, [ids["hook"]], 1, due=start - dt.timedelta(minutes=10))
    retry = start + dt.timedelta(minutes=20)
    engine = database.make_engine(sqlite_url)
    with engine.begin() as conn:
        conn.execute(sa.update(Post).values(attempts=1, next_attempt_at=retry))
    steps = simulate(engine, settings(sqlite_url), start + dt.timedelta(days=1), start=start)
    engine.dispose()
    assert [(s.outcome, s.event.at) for s in steps] == [("dry-run", retry)]
